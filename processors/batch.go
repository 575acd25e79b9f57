package processors

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// batcher runs one processing batch: fold each partition's records (in
// parallel, one goroutine per partition), publish the outputs and wait for
// Kafka to acknowledge them, then commit states and next offsets in one
// Pebble batch. Outputs are acknowledged before the offsets that produced
// them are committed, so a crash repeats outputs (same versions) rather
// than losing them.
type batcher struct {
	p      *Processor
	work   []*partition
	recs   map[*partition][]*kgo.Record
	ups    []coalesced
	idx    map[updateKey]int
	out    []*kgo.Record
	outTS  []time.Time // cause timestamp per update record, zero for others
	clRecs []*kgo.Record
}

// storeError is a failure to read or write the store: the batch is not
// committed and the processor stalls until the store works again.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func newBatcher(p *Processor) *batcher {
	return &batcher{p: p, recs: make(map[*partition][]*kgo.Record), idx: make(map[updateKey]int)}
}

func (b *batcher) process(ctx context.Context, fetches kgo.Fetches) error {
	p := b.p
	b.work = b.work[:0]
	clear(b.recs)
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		pt, ok := p.parts[fp.Partition]
		if !ok || len(fp.Records) == 0 {
			return
		}
		if _, seen := b.recs[pt]; !seen {
			b.work = append(b.work, pt)
		}
		b.recs[pt] = append(b.recs[pt], fp.Records...)
	})
	if len(b.work) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	for _, pt := range b.work {
		pt.resetBatch()
		wg.Add(1)
		go func() {
			defer wg.Done()
			pt.foldRecords(b.recs[pt])
		}()
	}
	wg.Wait()
	for _, pt := range b.work {
		if pt.err != nil {
			return &storeError{fmt.Errorf("folding partition %d: %w", pt.id, pt.err)}
		}
	}
	if p.sess != nil {
		if err := p.sess.Begin(); err != nil {
			return fmt.Errorf("beginning transaction: %w", err)
		}
	}
	if err := b.publish(ctx); err != nil {
		return err
	}
	if p.sess != nil {
		if p.cfg.Changelog {
			b.changelog() // inside the transaction: a restore reads it committed
		}
		committed, err := p.sess.End(ctx, kgo.TryCommit)
		if err != nil {
			return fmt.Errorf("committing transaction: %w", err)
		}
		if !committed {
			// A rebalance aborted it: nothing of this batch is visible.
			p.log.Info("transaction aborted by a rebalance; folding the batch again")
			p.rewind()
			return nil
		}
	}
	marks := make(map[int32]int64, len(b.work))
	for _, pt := range b.work {
		pt.published = max(pt.published, pt.next)
		marks[pt.id] = pt.published
	}
	if err := p.store.SetPublished(marks); err != nil {
		return &storeError{err}
	}
	batch := p.store.NewBatch()
	defer batch.Close()
	n := 0
	for _, pt := range b.work {
		if err := pt.stage(batch); err != nil {
			return &storeError{fmt.Errorf("staging partition %d: %w", pt.id, err)}
		}
		n += len(b.recs[pt])
	}
	if err := batch.Commit(); err != nil {
		return &storeError{err}
	}
	if p.cfg.Changelog && p.sess == nil {
		b.changelog()
	}
	b.account(n)
	return nil
}

// changelog publishes the committed states without waiting: a restore
// only trusts a partition's states up to its last offset marker, and a
// partition whose changelog writes failed gets no more markers.
func (b *batcher) changelog() {
	p := b.p
	for _, pt := range b.work {
		broken := p.clBroken[pt.id]
		if broken == nil || broken.Load() {
			continue
		}
		b.clRecs = pt.changelogRecords(p.cfg.Topics.Changelog, b.clRecs[:0])
		for _, r := range b.clRecs {
			p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				if err != nil && !broken.Swap(true) {
					p.m.changelogErrors.Inc()
					p.log.Error("changelog write failed; no more offset markers for this partition until it is reassigned", "partition", r.Partition, "err", err)
				}
			})
		}
	}
}

// publish produces every output of the batch and waits for all acks.
func (b *batcher) publish(ctx context.Context) error {
	p := b.p
	t := p.cfg.Topics
	b.out, b.outTS = b.out[:0], b.outTS[:0]
	b.ups = b.ups[:0]
	for _, pt := range b.work {
		b.ups = pt.coalesce(b.ups, b.idx)
		for i := range pt.fx.Alerts {
			a := &pt.fx.Alerts[i]
			b.add(t.Alerts, []byte(a.SKU), p.framing.AppendAlert(nil, a), time.Time{})
		}
		for i := range pt.deads {
			b.add(t.DeadLetters, pt.deadKeys[i], p.framing.AppendDeadLetter(nil, &pt.deads[i]), time.Time{})
		}
	}
	for i := range b.ups {
		u := &b.ups[i].u
		key := make([]byte, 0, len(u.Channel)+1+len(u.SKU))
		key = append(append(append(key, u.Channel...), '/'), u.SKU...)
		b.add(t.Updates, key, p.framing.AppendUpdate(nil, u), b.ups[i].causeTS)
	}
	if len(b.out) == 0 {
		return nil
	}
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	wg.Add(len(b.out))
	for i, r := range b.out {
		ts := b.outTS[i]
		p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = fmt.Errorf("publishing to %s: %w", r.Topic, err)
				}
				errMu.Unlock()
			} else if !ts.IsZero() {
				p.m.latency.Observe(time.Since(ts).Seconds())
			}
			wg.Done()
		})
	}
	wg.Wait()
	return first
}

func (b *batcher) add(topic string, key, value []byte, ts time.Time) {
	b.out = append(b.out, &kgo.Record{Topic: topic, Key: key, Value: value})
	b.outTS = append(b.outTS, ts)
}

// account updates metrics and status after a commit.
func (b *batcher) account(n int) {
	p := b.p
	m := p.m
	m.batches.Inc()
	m.batchRecords.Observe(float64(n))
	m.updates.Add(float64(len(b.ups)))
	p.mu.Lock()
	for _, pt := range b.work {
		p.mu.next[pt.id] = pt.next
		if end := p.mu.end[pt.id]; end > 0 {
			m.setLag(pt.id, max(0, end-pt.next))
		}
	}
	p.mu.Unlock()
	for _, pt := range b.work {
		for t, c := range pt.applied {
			if c > 0 {
				m.appliedBy[t].Add(float64(c))
			}
		}
		if pt.duplicates > 0 {
			m.duplicates.Add(float64(pt.duplicates))
		}
		for i := range pt.deads {
			m.deadBy[pt.deads[i].Reason].Inc()
		}
		for i := range pt.fx.Alerts {
			m.alertsBy[pt.fx.Alerts[i].Kind].Inc()
		}
		pt.fold.Evict(max(1, p.cfg.MaxCachedSKUs/max(1, len(p.parts))))
	}
}
