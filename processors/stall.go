package processors

// A failing store stalls the processor (stall) until a probe write works
// (tryRecover); a transaction a rebalance aborted folds its batch again
// (rewind). Each drops the partitions' hot states and seeks back to what
// the store holds.

import "github.com/twmb/franz-go/pkg/kgo"

// stall handles a store failure: the batch was not committed, so every
// owned partition drops its hot state, fetching pauses and rewinds to the
// last committed offsets, and /readyz reports not ready until a probe
// write succeeds and a batch commits again. Outputs of the lost batch may
// repeat (same versions).
func (p *Processor) stall(err error) {
	p.m.storeErrors.Inc()
	p.m.stalled.Set(1)
	p.stalled, p.recovering = true, false
	p.setReady()
	p.log.Error("store failed; pausing consumption until it can write again", "err", err)
	parts := make([]int32, 0, len(p.parts))
	rewind := map[int32]kgo.EpochOffset{}
	p.mu.Lock()
	for part := range p.parts {
		parts = append(parts, part)
		rewind[part] = kgo.EpochOffset{Epoch: -1, Offset: p.mu.next[part]}
	}
	p.mu.Unlock()
	for _, part := range parts {
		published := p.parts[part].published
		p.parts[part] = newPartition(part, p.cfg.Topics.Events, p.numPartitions, p.cfg.Ledger, p.store, p.reg)
		p.parts[part].next = rewind[part].Offset
		p.parts[part].published = published
	}
	p.cl.PauseFetchPartitions(map[string][]int32{p.cfg.Topics.Events: parts})
	p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topics.Events: rewind})
}

// tryRecover probes the store; once it can write, it reloads every owned
// partition's state and offset from it and resumes fetching.
func (p *Processor) tryRecover() {
	if err := p.store.Probe(); err != nil {
		p.log.Debug("store still failing", "err", err)
		return
	}
	parts := make([]int32, 0, len(p.parts))
	for part, pt := range p.parts {
		if err := p.loadPartition(pt); err != nil {
			p.log.Warn("store writable but a partition's state is not readable", "partition", part, "err", err)
			return
		}
		parts = append(parts, part)
	}
	p.seekToStore(parts)
	p.cl.ResumeFetchPartitions(map[string][]int32{p.cfg.Topics.Events: parts})
	p.stalled, p.recovering = false, true
	p.m.stalled.Set(0)
	p.log.Info("store writable again; resuming", "partitions", parts)
}

// rewind drops every owned partition's hot state and seeks back to the
// store's offsets: a batch whose transaction aborted is folded again.
func (p *Processor) rewind() error {
	parts := make([]int32, 0, len(p.parts))
	for part, pt := range p.parts {
		published := pt.published
		if err := p.install(part); err != nil {
			return err
		}
		p.parts[part].published = max(p.parts[part].published, published)
		parts = append(parts, part)
	}
	p.seekToStore(parts)
	return nil
}
