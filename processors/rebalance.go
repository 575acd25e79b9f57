package processors

// The group's callbacks (assigned, revoked, lost) and what they start: an
// assigned partition's restore from the changelog and its install once
// restored; a revoked or lost one drained out of the pipeline and dropped.

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/stockledger/stockledger/ledger/store"
	"github.com/twmb/franz-go/pkg/kgo"
)

// adjustOffsets starts every assigned partition at the offset in the
// store, not at the group's committed offset, so state and position agree.
func (p *Processor) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, parts := range offsets {
		for part, committed := range parts {
			if eo := committed.EpochOffset(); p.cfg.ExactlyOnce && eo.Offset > 0 {
				p.committed[part] = eo.Offset
			}
			next, ok, err := p.store.Offset(part)
			if err != nil {
				p.m.storeErrors.Inc()
				return nil, err
			}
			// With nothing in the store next is 0, an exact offset, not
			// AtStart: franz-go's SetOffsets only moves partitions whose
			// offset it knows (consumed, or assigned an exact offset
			// here); from AtStart it would skip installRestores'
			// SetOffsets, and a partition restored into an empty store
			// would be folded again from the start over the restored
			// states. An offset below the log start is reset to the start.
			parts[part] = kgo.NewOffset().At(next).WithEpoch(-1)
			p.log.Debug("resuming partition", "topic", topic, "partition", part, "offset", next, "from_store", ok)
		}
	}
	return offsets, nil
}

func (p *Processor) assigned(ctx context.Context, cl *kgo.Client, a map[string][]int32) {
	p.setClient(cl)
	for _, part := range a[p.cfg.Topics.Events] {
		if p.cfg.Changelog {
			p.startRestore(ctx, part, 0)
			continue
		}
		if err := p.install(part); err != nil && p.pipe.deferred == nil {
			p.pipe.deferred = err // the loop stalls after the poll
		}
	}
	p.m.owned.Set(float64(len(p.parts) + len(p.restoring)))
	p.setReady()
	p.log.Info("partitions assigned", "partitions", a[p.cfg.Topics.Events])
}

// startRestore pauses part and restores it from the changelog in the
// background, after delay (a retry waits there, not in the poll loop, so
// other partitions go on folding); the poll loop installs it when done
// (installRestores).
func (p *Processor) startRestore(ctx context.Context, part int32, delay time.Duration) {
	p.cl.PauseFetchPartitions(map[string][]int32{p.cfg.Topics.Events: {part}})
	rctx, cancel := context.WithCancel(ctx)
	p.restoring[part] = cancel
	env := restoreEnv{prod: p.cl}
	if p.sess != nil {
		env.prod = nil // the transactional client writes only in transactions
	}
	// Failed changelog writes of the partition, seen by this process: the
	// changelog may lack records before its last marker (resend).
	if b := p.clBroken[part]; b != nil && b.Load() {
		env.force = true
	}
	p.restoreWG.Add(1)
	go func() {
		var r restoreResult
		select {
		case <-time.After(delay):
			r = restore(rctx, p.cfg, p.store, part, env)
		case <-rctx.Done():
			r = restoreResult{part: part, err: rctx.Err()}
		}
		p.restoreWG.Done()
		select {
		case p.restores <- r:
			p.wakePoll() // the loop installs it now, not when its poll times out
		case <-rctx.Done(): // revoked, or Run is returning: nobody installs it
		}
	}()
}

// installRestores installs finished restores (poll loop only).
func (p *Processor) installRestores(ctx context.Context) {
	for {
		select {
		case r := <-p.restores:
			cancel, ok := p.restoring[r.part]
			if !ok {
				continue // revoked meanwhile
			}
			cancel()
			delete(p.restoring, r.part)
			if r.err != nil {
				p.log.Error("restoring partition from the changelog; retrying", "partition", r.part, "err", r.err, "retry_in", p.cfg.StoreRetryInterval)
				p.m.storeErrors.Inc()
				p.startRestore(ctx, r.part, p.cfg.StoreRetryInterval)
				continue
			}
			p.log.Debug("restore finished", "partition", r.part, "restored", r.restored, "resent", r.resent, "next_offset", r.next, "took", r.took)
			if r.resent {
				p.log.Info("changelog behind the local store; re-sending partition state", "partition", r.part,
					"changelog_offset", r.clNext, "local_offset", r.next, "skus", r.skus, "unchanged", r.unchanged,
					"tombstones", r.tombstones, "took", r.took)
			}
			// The changelog now holds the store's state (restored from
			// it, re-sent, or as new as the store): its writes may
			// carry offset markers again.
			p.clBroken[r.part] = new(atomic.Bool)
			if r.restored {
				p.log.Info("partition restored from the changelog", "partition", r.part, "skus", r.skus, "next_offset", r.next, "took", r.took)
				p.m.restoreSeconds.Observe(r.took.Seconds())
			}
			if err := p.install(r.part); err != nil {
				p.log.Error("installing a restored partition; retrying", "partition", r.part, "err", err, "retry_in", p.cfg.StoreRetryInterval)
				p.m.storeErrors.Inc()
				delete(p.parts, r.part)
				p.startRestore(ctx, r.part, p.cfg.StoreRetryInterval)
				continue
			}
			p.setReady()
			p.seekToStore([]int32{r.part})
			p.cl.ResumeFetchPartitions(map[string][]int32{p.cfg.Topics.Events: {r.part}})
		default:
			return
		}
	}
}

// install makes part an owned, folding partition from the store's state.
// When the store cannot be read, the partition is owned but paused, and
// the error says so: the caller stalls, and the store's recovery loads it
// (tryRecover).
func (p *Processor) install(part int32) error {
	pt := newPartition(part, p.cfg.Topics.Events, p.numPartitions, p.cfg.Ledger, p.store, p.reg)
	p.parts[part] = pt
	if p.clBroken[part] == nil {
		p.clBroken[part] = new(atomic.Bool)
	}
	p.m.setLag(part, 0) // until the first refresh: the series exists for every owned partition
	err := p.loadPartition(pt)
	if err != nil || p.stalled {
		p.cl.PauseFetchPartitions(map[string][]int32{p.cfg.Topics.Events: {part}})
	}
	if err != nil {
		return &storeError{fmt.Errorf("loading partition %d: %w", part, err)}
	}
	return nil
}

// loadPartition reads pt's policies, next offset and published mark from
// the store, and makes that offset the partition's status.
func (p *Processor) loadPartition(pt *partition) error {
	if err := pt.load(p.store, p.committed[pt.id]); err != nil {
		return err
	}
	p.mu.Lock()
	p.mu.next[pt.id] = pt.next
	p.mu.Unlock()
	return nil
}

// load reads the partition's policies, next offset and marks from st;
// committed is the group's committed offset (exactly-once: published with
// the outputs).
func (pt *partition) load(st *store.Store, committed int64) error {
	if err := st.Partition(pt.id, &pt.fold.P); err != nil {
		return err
	}
	next, _, err := st.Offset(pt.id)
	if err != nil {
		return err
	}
	published, err := st.Published(pt.id)
	if err != nil {
		return err
	}
	pt.next = next
	pt.published = max(pt.published, published, committed)
	pt.produced = max(st.Produced(pt.id), pt.published)
	pt.holding = pt.next < pt.produced
	return nil
}

// seekToStore moves the fetch position of parts to the next offsets their
// states were loaded with (installed or recovered).
func (p *Processor) seekToStore(parts []int32) {
	offsets := make(map[int32]kgo.EpochOffset, len(parts))
	for _, part := range parts {
		offsets[part] = kgo.EpochOffset{Epoch: -1, Offset: p.parts[part].next}
	}
	p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topics.Events: offsets})
}

func (p *Processor) revoked(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
	p.setClient(cl)
	p.drainForRebalance()
	// The next owner restores from the changelog: it must hold every state
	// this instance committed.
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := cl.Flush(fctx); err != nil && p.clCtx.Err() == nil { // a stop flushed before it stopped the client
		p.log.Warn("flushing the changelog before giving up partitions", "err", err)
	}
	cancel()
	p.drop(r[p.cfg.Topics.Events])
	p.log.Info("partitions revoked", "partitions", r[p.cfg.Topics.Events])
}

func (p *Processor) lost(_ context.Context, cl *kgo.Client, l map[string][]int32) {
	p.setClient(cl)
	p.drainForRebalance()
	p.drop(l[p.cfg.Topics.Events])
	p.log.Warn("partitions lost", "partitions", l[p.cfg.Topics.Events])
}

// drainForRebalance finishes every batch handed on before partitions go:
// their states must be in the store (and the changelog) first. A failure
// is the poll loop's to deal with after the poll.
func (p *Processor) drainForRebalance() {
	if p.pipe.c == nil {
		return // Run has not started
	}
	if err := p.flush(context.Background()); err != nil && p.pipe.deferred == nil {
		p.pipe.deferred = err
	}
}

// drop forgets partitions' hot state; everything folded is committed.
func (p *Processor) drop(parts []int32) {
	for _, part := range parts {
		if cancel, ok := p.restoring[part]; ok {
			cancel()
			delete(p.restoring, part)
		}
	}
	// A partition paused while the store was failing must not stay paused
	// in the client if it comes back later.
	p.cl.ResumeFetchPartitions(map[string][]int32{p.cfg.Topics.Events: parts})
	p.mu.Lock()
	for _, part := range parts {
		delete(p.parts, part)
		delete(p.mu.next, part)
		delete(p.mu.end, part)
		p.m.lag.DeleteLabelValues(fmt.Sprint(part))
	}
	p.mu.Unlock()
	p.m.owned.Set(float64(len(p.parts) + len(p.restoring)))
	p.setReady()
}
