package publish

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// assigned starts the catch-up of newly assigned partitions: nothing is
// sent until each is read to the end it has now, so that after a crash
// the first value sent for a key is its newest, never one older than what
// the previous life sent. franz-go calls it on every rebalance, also with
// nothing new.
func (p *Publisher) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	parts := m[p.cfg.Topic]
	if len(parts) == 0 {
		return
	}
	// cl, not p.cl: the group may assign before New has returned.
	bs, err := listBounds(ctx, kadm.NewClient(cl), p.cfg.Topic, p.cfg.Group, parts)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready.Store(false)
	p.mu.catchUpSince, p.mu.assigned = time.Now(), true
	for _, part := range parts {
		b, ok := bs[part]
		switch {
		case !ok:
			p.mu.ends[part] = unknownEnd
		case b.from < b.end:
			p.mu.ends[part] = b.end
		}
	}
	if err != nil {
		p.cfg.Log.Warn("listing the assigned partitions' ends failed; their sending starts after --catch-up-timeout", "err", err)
	}
	p.cfg.Log.Info("partitions assigned; reading them to their ends before sending", "partitions", parts)
	p.checkCaughtUp()
}

// unknownEnd marks a partition whose end could not be listed: only
// CatchUpTimeout ends its catch-up.
const unknownEnd = -1

// bounds is where a partition's reading starts (its committed offset) and
// the end it must reach.
type bounds struct{ from, end int64 }

// listBounds lists parts' committed offsets and ends, a few times over
// while the brokers fail (a rebalance often comes with a broker restart).
// A partition missing from the answer has no known end.
func listBounds(ctx context.Context, adm *kadm.Client, topic, group string, parts []int32) (map[int32]bounds, error) {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		var ends kadm.ListedOffsets
		var committed kadm.OffsetResponses
		if ends, err = adm.ListEndOffsets(ctx, topic); err != nil {
			continue
		}
		if committed, err = adm.FetchOffsets(ctx, group); err != nil {
			continue
		}
		out := make(map[int32]bounds, len(parts))
		for _, part := range parts {
			l, ok := ends.Lookup(topic, part)
			if !ok || l.Err != nil {
				err = fmt.Errorf("end offset of partition %d: %v", part, l.Err)
				continue
			}
			b := bounds{end: l.Offset}
			if o, ok := committed.Lookup(topic, part); ok && o.Err == nil && o.At > 0 {
				b.from = o.At
			}
			out[part] = b
		}
		if len(out) == len(parts) {
			return out, nil
		}
		if attempt == 4 {
			return out, err
		}
	}
	return nil, err
}

// checkCaughtUp marks the publisher ready once every assigned partition
// reached its end (or the catch-up timed out). Called with mu held.
func (p *Publisher) checkCaughtUp() {
	if p.ready.Load() || !p.mu.assigned {
		return
	}
	if len(p.mu.ends) > 0 && time.Since(p.mu.catchUpSince) < p.cfg.CatchUpTimeout {
		return
	}
	if len(p.mu.ends) > 0 {
		p.cfg.Log.Warn("partitions did not show their end within --catch-up-timeout; sending anyway", "partitions", slices.Sorted(maps.Keys(p.mu.ends)))
		clear(p.mu.ends)
	}
	p.ready.Store(true)
	p.cfg.Log.Info("caught up; sending", "keys", len(p.mu.t.keys), "pending", p.mu.t.pending)
	p.wake()
}

// revoked commits what the channel acknowledged of partitions another
// publisher takes over, and forgets them.
func (p *Publisher) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	if err := p.commit(ctx, cl); err != nil {
		p.cfg.Log.Warn("committing before giving partitions up (their keys are sent again by the next owner)", "err", err)
	}
	p.lost(ctx, nil, m)
}

// lost forgets partitions without committing.
func (p *Publisher) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range m[p.cfg.Topic] {
		p.mu.t.drop(part)
		delete(p.mu.ends, part)
		delete(p.mu.committed, part)
	}
	p.cfg.Metrics.pending.Set(float64(p.mu.t.pending))
}

// commit commits, per partition, the offset below which every key the
// channel lacks has a later value: a restart resumes there.
func (p *Publisher) commit(ctx context.Context, cl *kgo.Client) error {
	p.mu.Lock()
	offs := map[int32]kgo.EpochOffset{}
	for part, o := range p.mu.t.commitOffsets() {
		if o != p.mu.committed[part] {
			offs[part] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	p.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	var err error
	defer func() { p.cfg.Log.Debug("committed offsets", "offsets", offs, "err", err) }()
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{p.cfg.Topic: offs},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
			err = cerr
			if resp == nil || err != nil {
				return
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, t := range resp.Topics {
				for _, part := range t.Partitions {
					if perr := kerr.ErrorForCode(part.ErrorCode); perr != nil {
						err = fmt.Errorf("partition %d: %w", part.Partition, perr)
					} else if o, ok := offs[part.Partition]; ok {
						p.mu.committed[part.Partition] = o.Offset
					}
				}
			}
		})
	return err
}
