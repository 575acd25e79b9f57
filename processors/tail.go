package processors

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TailOptions configures Tail.
type TailOptions struct {
	FromBeginning bool // start at the topic's start, not its end
	ExitAtEnd     bool // stop once the end offsets seen at start are reached
	// OnePartition: only Partition is read (else every partition).
	OnePartition bool
	Partition    int32
	// AtOffset: each partition read starts at Offset (beyond its end: at
	// its end), instead of its start or end.
	AtOffset bool
	Offset   int64
}

// Tail reads topic (every partition, or one; no consumer group) and
// calls fn with each record in partition order, until ctx is done, fn
// fails or, with ExitAtEnd, every partition reaches the end it had when
// Tail started (or, where transaction markers hide that end, the broker
// has sent nothing for about 1.5 seconds).
func Tail(ctx context.Context, brokers []string, topic string, o TailOptions, fn func(*kgo.Record) error, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("stockledger-tail"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		return fmt.Errorf("creating kafka client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	starts, remaining, err := tailPlan(topic, ends, o)
	if err != nil {
		return err
	}
	if o.ExitAtEnd && len(remaining) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts})
	idle := 0
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if o.ExitAtEnd {
			pctx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		// Transaction markers take offsets without being records: a
		// partition whose last offsets are markers never shows its end
		// offset, so ExitAtEnd also stops once the broker has nothing more.
		if o.ExitAtEnd && fs.NumRecords() == 0 {
			if idle++; idle >= 3 {
				return nil
			}
			continue
		}
		idle = 0
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetching %s/%d: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		var err error
		fs.EachRecord(func(r *kgo.Record) {
			if err != nil {
				return
			}
			if end, ok := remaining[r.Partition]; o.ExitAtEnd && (!ok || r.Offset >= end) {
				return
			}
			err = fn(r)
			if o.ExitAtEnd && r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
		if err != nil {
			return err
		}
		if o.ExitAtEnd && len(remaining) == 0 {
			return nil
		}
	}
}

// tailPlan is where each partition Tail reads starts, and (for ExitAtEnd)
// the end offsets it must reach: those beyond its start.
func tailPlan(topic string, ends kadm.ListedOffsets, o TailOptions) (map[int32]kgo.Offset, map[int32]int64, error) {
	starts, remaining := map[int32]kgo.Offset{}, map[int32]int64{}
	var err error
	ends.Each(func(l kadm.ListedOffset) {
		if o.OnePartition && l.Partition != o.Partition {
			return
		}
		if l.Err != nil {
			err = fmt.Errorf("end offset of %s/%d: %w", topic, l.Partition, l.Err)
			return
		}
		from := int64(0)
		switch {
		case o.AtOffset:
			from = min(o.Offset, l.Offset)
			starts[l.Partition] = kgo.NewOffset().At(from)
		case o.FromBeginning:
			starts[l.Partition] = kgo.NewOffset().AtStart()
		default:
			from = l.Offset
			starts[l.Partition] = kgo.NewOffset().AtEnd()
		}
		if l.Offset > from {
			remaining[l.Partition] = l.Offset
		}
	})
	switch {
	case err != nil:
	case len(starts) == 0 && o.OnePartition:
		err = fmt.Errorf("%s has no partition %d", topic, o.Partition)
	case len(starts) == 0:
		err = fmt.Errorf("%s has no partitions (does the topic exist?)", topic)
	}
	return starts, remaining, err
}
