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
}

// Tail reads topic (all partitions, no consumer group) and calls fn with
// each record in partition order, until ctx is done, fn fails or, with
// ExitAtEnd, every partition reaches the end it had when Tail started (or,
// where transaction markers hide that end, the broker has sent nothing for
// about 1.5 seconds).
func Tail(ctx context.Context, brokers []string, topic string, o TailOptions, fn func(*kgo.Record) error, opts ...kgo.Opt) error {
	start := kgo.NewOffset().AtEnd()
	if o.FromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("stockledger-tail"),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		return fmt.Errorf("creating kafka client: %w", err)
	}
	defer cl.Close()
	var remaining map[int32]int64 // partition -> end offset still to reach
	if o.ExitAtEnd {
		adm := kadm.NewClient(cl)
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("listing end offsets of %s: %w", topic, err)
		}
		remaining = make(map[int32]int64)
		var lerr error
		ends.Each(func(l kadm.ListedOffset) {
			if l.Err != nil {
				lerr = fmt.Errorf("end offset of %s/%d: %w", topic, l.Partition, l.Err)
			}
			if l.Offset > 0 && o.FromBeginning {
				remaining[l.Partition] = l.Offset
			}
		})
		if lerr != nil {
			return lerr
		}
		if len(remaining) == 0 {
			return nil
		}
	}
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
