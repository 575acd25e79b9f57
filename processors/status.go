package processors

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// setReady derives readiness (poll loop only): the instance owns
// partitions, every one it was given is restored and folding, and its
// store writes. An instance that owns nothing folds nothing, so it is not
// ready either: before the group's first assignment, or while it is one
// of more instances than partitions.
func (p *Processor) setReady() {
	p.ready.Store(!p.stalled && !p.recovering && len(p.parts) > 0 && len(p.restoring) == 0)
}

// PartitionStatus is one owned partition's progress.
type PartitionStatus struct {
	Partition int32 `json:"partition"`
	Next      int64 `json:"next_offset"`
	End       int64 `json:"end_offset"`
	Lag       int64 `json:"lag"`
	// Rate is the events folded (and committed) per second over the last
	// lag refresh interval: the next offset's movement, so refused events
	// and clock events count as well.
	Rate float64 `json:"events_per_second"`
}

// Status is what /v1/status reports.
type Status struct {
	// Ready is Processor.Ready; Group, Topic and TopicPartitions name
	// what the instance folds.
	Ready           bool
	Group, Topic    string
	TopicPartitions int32
	// Partitions are the partitions this instance owns and folds, with
	// their lag; OwnedLag is their sum.
	Partitions []PartitionStatus
	OwnedLag   int64
	// GroupLag counts the events of the whole topic that no instance has
	// folded yet: for partitions this instance folds, from its own
	// offsets; for the others (owned elsewhere, being restored here, or
	// owned by nobody), from the group's committed offsets, or the start
	// of the partition when the group never committed one.
	GroupLag int64
}

// Status reports the owned partitions' progress and the group's lag as of
// the last refresh (every LagInterval).
func (p *Processor) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Ready: p.Ready(), Group: p.cfg.Group, Topic: p.cfg.Topics.Events, TopicPartitions: p.numPartitions, GroupLag: p.mu.groupLag}
	for part, next := range p.mu.next {
		end := max(p.mu.end[part], next)
		st.Partitions = append(st.Partitions, PartitionStatus{Partition: part, Next: next, End: end, Lag: end - next, Rate: p.mu.rate[part].perSecond})
		st.OwnedLag += end - next
	}
	slices.SortFunc(st.Partitions, func(a, b PartitionStatus) int { return int(a.Partition - b.Partition) })
	return st
}

// lagLoop refreshes lag at once and then every LagInterval.
func (p *Processor) lagLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.LagInterval)
	defer t.Stop()
	for {
		p.sampleRates(time.Now())
		p.refreshLag(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rateSample is an owned partition's next offset when the lag loop last
// looked, and the rate it moved at since the look before.
type rateSample struct {
	next      int64
	at        time.Time
	perSecond float64
}

// sampleRates measures each owned partition's throughput since the last
// sample (the lag loop's tick). It reads the next offsets the commit
// stage keeps, so it needs no Kafka request and works while the broker
// is away; a partition just assigned shows 0 until its second sample.
func (p *Processor) sampleRates(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for part, next := range p.mu.next {
		s, ok := p.mu.rate[part]
		if ok && now.After(s.at) && next >= s.next {
			s.perSecond = float64(next-s.next) / now.Sub(s.at).Seconds()
		}
		s.next, s.at = next, now
		p.mu.rate[part] = s
	}
	for part := range p.mu.rate {
		if _, owned := p.mu.next[part]; !owned {
			delete(p.mu.rate, part) // revoked
		}
	}
}

// mirrorLoop mirrors the owned partitions' committed offsets to the group
// after each state commit (the commit stage signals committedSig), and
// every LagInterval a mirror that failed is tried again. With exactly-once
// the transactions commit them.
func (p *Processor) mirrorLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.LagInterval)
	defer t.Stop()
	var mirrored map[int32]int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.committedSig:
		case <-t.C:
		}
		mirrored = p.mirrorOffsets(ctx, mirrored)
	}
}

// refreshLag reads the topic's end offsets, and the group's committed ones
// for what this instance does not fold, and sets every lag from them.
func (p *Processor) refreshLag(ctx context.Context) {
	topic := p.cfg.Topics.Events
	ends, err := p.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return
	}
	starts, err := p.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return
	}
	committed, err := p.adm.FetchOffsets(ctx, p.cfg.Group)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var group int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		if next, ok := p.mu.next[o.Partition]; ok {
			p.mu.end[o.Partition] = o.Offset
			lag := max(0, o.Offset-next)
			p.m.setLag(o.Partition, lag)
			group += lag
			return
		}
		from := int64(0)
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Err == nil {
			from = s.Offset
		}
		if c, ok := committed.Lookup(topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			from = max(from, c.At)
		}
		group += max(0, o.Offset-from)
	})
	p.mu.groupLag = group
	p.m.groupLag.Set(float64(group))
}

// mirrorOffsets commits the owned partitions' next offsets, as the store
// holds them, to the consumer group when they changed since last: a
// mirror for the tools that read group offsets (kafka-consumer-groups, lag
// exporters) and for the group lag of other instances. The store stays
// the source of truth: nothing reads them back. It returns what it
// committed. A commit that fails (a rebalance) is tried again next time.
func (p *Processor) mirrorOffsets(ctx context.Context, last map[int32]int64) map[int32]int64 {
	p.mu.Lock()
	now := maps.Clone(p.mu.next)
	p.mu.Unlock()
	if len(now) == 0 || maps.Equal(now, last) {
		return last
	}
	offsets := make(map[int32]kgo.EpochOffset, len(now))
	for part, next := range now {
		offsets[part] = kgo.EpochOffset{Epoch: -1, Offset: next}
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.LagInterval+5*time.Second)
	defer cancel()
	var failed error
	p.cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{p.cfg.Topics.Events: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			failed = err
			if err == nil {
				failed = commitError(resp)
			}
		})
	if failed != nil {
		p.log.Debug("mirroring offsets to the group", "err", failed)
		return last
	}
	return now
}

// commitError is the first partition error of an offset commit's response.
func commitError(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, pr := range t.Partitions {
			if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}
