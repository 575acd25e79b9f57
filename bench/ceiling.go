package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
)

// The I/O ceiling: the processor's Kafka traffic with the fold taken out.
// Once the processor has folded the pre-filled topic, every record it
// produced for it (updates, alerts, dead letters, changelog) is read back
// into memory. Then a client with the processor's own settings consumes
// the events topic from the start under a fresh group and, as it
// consumes, produces those records again to fresh topics, in proportion
// to the input consumed so far. Its time runs from its first records to
// the moment every input record is consumed and every output
// acknowledged: how fast a processor whose fold cost nothing could go on
// this broker and these cores. Raw consume (rawConsume) is the ceiling of
// reading alone; this one includes writing what the processor writes.

// outputTopics are the processor's output topics, in the order an
// outRec's topic counts them.
func outputTopics(t processors.Topics) [4]string {
	return [4]string{t.Updates, t.Alerts, t.DeadLetters, t.Changelog}
}

// outRec is one captured output record; its key and value lie one after
// the other in one of captured's chunks.
type outRec struct {
	chunk, off, klen, vlen uint32
	part                   int32 // where the changelog record went (the others are hashed by key)
	topic                  uint8 // index into outputTopics
	nilKey                 bool
}

// captured holds the processor's output records of one run. The bytes
// sit in a few large chunks, so millions of records are a few objects
// for the collector.
type captured struct {
	recs     []outRec
	chunks   [][]byte
	perTopic [4]int64
	bytes    int64 // keys and values
}

// chunkBytes is the size of one chunk of captured bytes.
const chunkBytes = 8 << 20

func (c *captured) add(topic uint8, r *kgo.Record) {
	n := len(r.Key) + len(r.Value)
	if k := len(c.chunks); k == 0 || cap(c.chunks[k-1])-len(c.chunks[k-1]) < n {
		c.chunks = append(c.chunks, make([]byte, 0, max(chunkBytes, n)))
	}
	i := len(c.chunks) - 1
	off := len(c.chunks[i])
	c.chunks[i] = append(append(c.chunks[i], r.Key...), r.Value...)
	c.recs = append(c.recs, outRec{chunk: uint32(i), off: uint32(off), klen: uint32(len(r.Key)), vlen: uint32(len(r.Value)),
		part: r.Partition, topic: topic, nilKey: r.Key == nil})
	c.perTopic[topic]++
	c.bytes += int64(n)
}

// record is captured record i as a record for the topics names.
func (c *captured) record(i int64, names *[4]string) *kgo.Record {
	o := &c.recs[i]
	b := c.chunks[o.chunk][o.off : o.off+o.klen+o.vlen]
	r := &kgo.Record{Topic: names[o.topic], Partition: o.part, Value: b[o.klen:]}
	if !o.nilKey {
		r.Key = b[:o.klen:o.klen]
	}
	return r
}

// figures describes the outputs per input record.
func (c *captured) figures(inputs int64) *Outputs {
	o := &Outputs{Updates: c.perTopic[0], Alerts: c.perTopic[1], DeadLetters: c.perTopic[2], Changelog: c.perTopic[3],
		Records: int64(len(c.recs)), Bytes: c.bytes}
	if inputs > 0 {
		o.RecordsPerEvent = float64(o.Records) / float64(inputs)
		o.BytesPerEvent = float64(o.Bytes) / float64(inputs)
	}
	return o
}

// measureCeiling captures the processor's outputs on topics, runs the
// ceiling on fresh topics under prefix and fills res's ceiling figures.
// The captured records are garbage once it returns.
func measureCeiling(ctx context.Context, env *Env, res *Result, topics processors.Topics, prefix string) error {
	if res.Records == 0 {
		return errors.New("no input records")
	}
	out, err := captureOutputs(ctx, env, topics)
	if err != nil {
		return fmt.Errorf("capturing outputs: %w", err)
	}
	dst := processors.TopicsWithPrefix(prefix + "-ceiling")
	adm, acl, err := env.admin()
	if err != nil {
		return err
	}
	_, err = processors.EnsureTopics(ctx, adm, dst, env.Partitions, -1)
	acl.Close()
	// Deleted at once: the embedded broker holds every topic in memory.
	defer env.deleteTopics(context.WithoutCancel(ctx), dst)
	if err != nil {
		return err
	}
	th, err := ceilingRun(ctx, env, topics.Events, prefix+"-ceiling", res.Records, out, dst)
	if err != nil {
		return err
	}
	res.Ceiling, res.Outputs = th, out.figures(res.Records)
	if th.PerSec > 0 && res.Processor != nil {
		res.RatioToCeiling = res.Processor.PerSec / th.PerSec
	}
	return nil
}

// captureOutputs reads every record of the processor's output topics, up
// to their end offsets once those have stopped moving (the changelog of
// the last batch is produced after its commit, without waiting).
func captureOutputs(ctx context.Context, env *Env, t processors.Topics) (*captured, error) {
	adm, acl, err := env.admin()
	if err != nil {
		return nil, err
	}
	names := outputTopics(t)
	ends, total, err := stableEnds(ctx, adm, names[:])
	acl.Close()
	if err != nil {
		return nil, err
	}
	c := &captured{recs: make([]outRec, 0, total)}
	parts := map[string]map[int32]kgo.Offset{}
	open := 0 // partitions not read to their end yet
	for topic, m := range ends {
		for p, end := range m {
			if end > 0 {
				if parts[topic] == nil {
					parts[topic] = map[int32]kgo.Offset{}
				}
				parts[topic][p] = kgo.NewOffset().AtStart()
				open++
			}
		}
	}
	if open == 0 {
		return c, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.Brokers...), kgo.ClientID("stockledger-bench-capture"),
		kgo.ConsumePartitions(parts), kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	index := map[string]uint8{}
	for i, n := range names {
		index[n] = uint8(i)
	}
	deadline := time.Now().Add(foldTimeout(total))
	for open > 0 {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d output records read, %d partitions unfinished", len(c.recs), total, open)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, fe := range fs.Errors() {
			// A poll that times out reports it as a fetch error: not one.
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("reading %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			end := ends[r.Topic][r.Partition]
			if r.Offset >= end {
				return
			}
			c.add(index[r.Topic], r)
			// A compacted topic may have dropped records before the
			// last, never the last (it is in the active segment).
			if r.Offset == end-1 {
				open--
			}
		})
	}
	return c, nil
}

// stableEnds returns the end offsets of topics (and their sum) once two
// readings 200ms apart agree.
func stableEnds(ctx context.Context, adm *kadm.Client, topics []string) (map[string]map[int32]int64, int64, error) {
	var last map[string]map[int32]int64
	for range 150 {
		listed, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return nil, 0, fmt.Errorf("listing end offsets: %w", err)
		}
		ends := map[string]map[int32]int64{}
		var sum int64
		var ferr error
		listed.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				ferr = fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err)
				return
			}
			if ends[o.Topic] == nil {
				ends[o.Topic] = map[int32]int64{}
			}
			ends[o.Topic][o.Partition] = o.Offset
			sum += o.Offset
		})
		if ferr != nil {
			return nil, 0, ferr
		}
		if last != nil && sameEnds(ends, last) {
			return ends, sum, nil
		}
		last = ends
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, 0, fmt.Errorf("the output topics' end offsets still move after 30s")
}

func sameEnds(a, b map[string]map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for t, m := range a {
		if len(m) != len(b[t]) {
			return false
		}
		for p, o := range m {
			if b[t][p] != o {
				return false
			}
		}
	}
	return true
}

// ceilingPartitioner is the processor's output partitioner
// (processors.outputPartitioner): changelog records go to the partition
// set on them, every other output is hashed by key as Kafka does.
func ceilingPartitioner(changelog string) kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		if topic == changelog {
			return func(r *kgo.Record, _ int) int { return int(r.Partition) }
		}
		return func(r *kgo.Record, n int) int { return keyed.Partition(r, n) }
	})
}

// ceilingClient is a client with the processor's settings (processors.New):
// a consumer group member blocking rebalances on poll, read committed,
// the same buffer, linger and batch size, and its output partitioner.
func ceilingClient(env *Env, topic, group string, dst processors.Topics) (*kgo.Client, int, error) {
	opts, pcfg := consumerOpts(env, "stockledger-bench-ceiling", topic, group)
	cl, err := kgo.NewClient(append(opts,
		kgo.RecordPartitioner(ceilingPartitioner(dst.Changelog)),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(16<<20),
	)...)
	return cl, pcfg.MaxBatchRecords, err
}

// ceilingRun consumes topic (total records) from the start and produces
// out to dst as it goes: after each poll, as many outputs as the share
// of the input consumed so far. Progress counts the input records whose
// share of the outputs has been acknowledged.
func ceilingRun(ctx context.Context, env *Env, topic, group string, total int64, out *captured, dst processors.Topics) (*Throughput, error) {
	cl, maxPoll, err := ceilingClient(env, topic, group, dst)
	if err != nil {
		return nil, err
	}
	names := outputTopics(dst)
	outs := int64(len(out.recs))
	var consumed, acked atomic.Int64
	failed := make(chan error, 1)
	onAck := func(r *kgo.Record, err error) {
		if err != nil {
			select {
			case failed <- fmt.Errorf("producing to %s: %w", r.Topic, err):
			default:
			}
		}
		acked.Add(1)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var sent int64
		for cctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(cctx, 200*time.Millisecond)
			fs := cl.PollRecords(pctx, maxPoll)
			pcancel()
			if fs.IsClientClosed() {
				return
			}
			c := min(total, consumed.Add(int64(fs.NumRecords())))
			for due := outs * c / total; sent < due; sent++ {
				cl.Produce(cctx, out.record(sent, &names), onAck)
			}
			cl.AllowRebalance()
		}
	}()
	progress := func() int64 {
		c := consumed.Load()
		if outs == 0 {
			return c
		}
		return min(c, acked.Load()*total/outs)
	}
	th, err := track(ctx, total, progress, cpuSelf, failed, foldTimeout(total))
	cancel()
	<-done
	cl.AllowRebalance()
	cl.Close()
	return th, err
}
