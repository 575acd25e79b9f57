package processors

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
)

// The owner of a partition writes clock events into it: only clock events
// move a partition's clock and expire its holds, so a replay sees every
// expiry exactly where the live processor did. Two owners during a move
// both writing is harmless: an earlier or equal clock changes nothing.

// clockLoop writes a clock event into every owned partition each
// ClockInterval until ctx ends. Its own client keeps the clocks out of the
// outputs' transactions: a clock is an event, written like any producer's.
func (p *Processor) clockLoop(ctx context.Context) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ClientID("stockledger-clock"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	}, p.cfg.ClientOpts...)...)
	if err != nil {
		p.log.Error("clock events are not written", "err", err)
		return
	}
	defer cl.Close()
	t := time.NewTicker(p.cfg.ClockInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := p.writeClocks(ctx, cl, now); err != nil && ctx.Err() == nil {
				p.log.Warn("writing clock events", "err", err)
			}
		}
	}
}

// writeClocks writes one clock event at now into each owned partition and
// waits for them.
func (p *Processor) writeClocks(ctx context.Context, cl *kgo.Client, now time.Time) error {
	now = now.UTC().Truncate(time.Millisecond)
	var recs []*kgo.Record
	for _, part := range p.ownedPartitions() {
		v, err := p.framing.EncodeEvent(nil, ClockEvent(part, now))
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: p.cfg.Topics.Events, Partition: part, Value: v})
	}
	if len(recs) == 0 {
		return nil
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// ClockEvent is partition part's clock event at t; its id names both, so
// the clocks of one instant in different partitions stay distinct.
func ClockEvent(part int32, t time.Time) *ledger.Event {
	return &ledger.Event{
		ID:         fmt.Sprintf("clock/%d/%d", part, t.UnixMilli()),
		Type:       ledger.TypeClock,
		OccurredAt: t.UnixMicro(),
		Has:        ledger.FieldEventID | ledger.FieldType | ledger.FieldOccurredAt,
	}
}

// ownedPartitions lists the events partitions this instance owns, in order.
func (p *Processor) ownedPartitions() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := make([]int32, 0, len(p.mu.next))
	for part := range p.mu.next {
		parts = append(parts, part)
	}
	slices.Sort(parts)
	return parts
}
