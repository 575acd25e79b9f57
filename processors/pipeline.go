package processors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/store"
)

// The live loop is a pipeline of three stages over batch values:
//
//	fold (poll loop) -> publish (Kafka producer) -> commit (committer)
//
// The poll loop folds batch N+1 while the outputs of the batches before it
// are in flight and their states commit. Two rules keep a crash at any
// point exact:
//
//   - A state commit never covers outputs Kafka has not acknowledged: the
//     committer commits a batch only after its acks and its published
//     marks, and marks batches in order, none after one that failed.
//   - Before a batch's outputs are produced the produced marks cover it:
//     the outputs in doubt after a crash are those between the published
//     and the produced marks, and a refold publishes them as one batch,
//     each key's last value once (partition.holding), so no version goes
//     back on the topic.
//
// A folded state stays in memory until its batch is committed (the fold's
// CleanAs and Saved): a cold read of the store never sees a state older
// than the fold's.

// maxInflight bounds the batches handed on and not yet committed: the
// outputs in flight while a batch waits for its acks.
const maxInflight = 16

// committer is the commit stage. It runs batches in fold order on a
// goroutine of its own and holds nothing of the poll loop's: everything it
// needs comes in the batch or was given at start.
type committer struct {
	st        *store.Store
	cl        *kgo.Client
	changelog string // the changelog topic; "" when off
	m         *metrics
	log       *slog.Logger
	account   func(*batch) // a committed batch's status and metrics
	in        chan *batch
	stopped   chan struct{}

	// failed: a batch failed, and the batches after it are not committed
	// until the poll loop has dealt with it (reset). The commit goroutine
	// writes it; the poll loop resets it only with nothing in flight.
	failed bool
}

func newCommitter(st *store.Store, changelog string, m *metrics, log *slog.Logger, account func(*batch)) *committer {
	return &committer{st: st, changelog: changelog, m: m, log: log, account: account,
		in: make(chan *batch, maxInflight), stopped: make(chan struct{})}
}

// run runs the commit stage as two goroutines in a row, so that a slow
// store commit (a synced write behind a busy disk) does not hold up the
// marks of the batches after it, for which the next batch's outputs wait:
// mark (acks, published marks) then commit (store, changelog).
func (c *committer) run() {
	marked := make(chan *batch, maxInflight)
	go func() {
		defer close(marked)
		failed := false
		for b := range c.in {
			if failed {
				// An earlier batch's outputs failed: marking a later one
				// would claim them acknowledged too.
				_ = b.acks.wait()
				b.pubErr = errAfterFailure
				close(b.marked)
			} else {
				c.mark(b)
				failed = b.pubErr != nil
			}
			marked <- b
		}
	}()
	defer close(c.stopped)
	for b := range marked {
		c.commit(b)
	}
}

// mark waits for b's acks and writes its published marks, then closes
// b.marked; a failure is b.pubErr.
func (c *committer) mark(b *batch) {
	defer close(b.marked)
	if b.pubErr = b.acks.wait(); b.pubErr != nil {
		return
	}
	b.acked = true
	crashAt(crashAcked)
	if err := markPublished(c.st, b.parts); err != nil {
		b.pubErr = &storeError{err}
	}
}

// commit takes a marked batch through the store and the changelog, and
// closes b.done.
func (c *committer) commit(b *batch) {
	defer close(b.done)
	if b.pubErr != nil && b.pubErr != errAfterFailure {
		b.err, c.failed = b.pubErr, true
		return
	}
	if c.failed || b.pubErr != nil {
		b.err = errAfterFailure
		return
	}
	if !b.persists {
		c.account(b)
		return
	}
	crashAt(crashMarked)
	// A changelog ahead of the store would make a restart on this disk
	// read the whole changelog partition: the commit is synced first.
	synced := c.changelog != "" && !b.changelogDone
	if err := commitState(c.st, b.parts, synced); err != nil {
		b.err, c.failed = &storeError{err}, true
		return
	}
	crashAt(crashCommitted)
	if c.changelog != "" && !b.changelogDone {
		c.writeChangelog(b)
		crashAt(crashChangelogged)
	}
	c.account(b)
}

// writeChangelog produces the committed states without waiting: a restore
// only trusts a partition's states up to its last offset marker, and a
// partition whose changelog writes failed gets no more markers.
func (c *committer) writeChangelog(b *batch) {
	var recs []*kgo.Record
	for i := range b.parts {
		pb := &b.parts[i]
		broken := pb.clBroken
		if broken == nil || broken.Load() {
			continue
		}
		recs = pb.changelogRecords(c.changelog, recs[:0])
		for _, r := range recs {
			c.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				if err != nil && !broken.Swap(true) {
					c.m.changelogErrors.Inc()
					c.log.Error("changelog write failed; no more offset markers for this partition until it is reassigned", "partition", r.Partition, "err", err)
				}
			})
		}
	}
}

// pipeline is what the poll loop knows of the batches it handed on (poll
// loop only; rebalance callbacks use it between polls).
type pipeline struct {
	c   *committer
	seq uint64 // the last batch's number
	// persistedAt: when the last batch that persists was folded.
	persistedAt time.Time
	// tainted: a batch failed to publish and Run is returning; the hot
	// states must not be committed.
	tainted  bool
	inflight []*batch // handed to the commit stage and not yet reaped, oldest first
	// deferred: a failure a rebalance callback found while draining; the
	// poll loop deals with it after the poll.
	deferred error
}

// foldStage folds the fetched records of owned partitions, each partition
// in a goroutine of its own that also encodes its outputs. A batch that
// persists also takes every partition with records folded since the last
// one that did. It returns nil when there was nothing to fold or persist.
func (p *Processor) foldStage(fetches kgo.Fetches, persist bool) (*batch, error) {
	recs := make(map[*partition][]*kgo.Record)
	var work []*partition
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		pt, ok := p.parts[fp.Partition]
		if !ok || len(fp.Records) == 0 {
			return
		}
		if _, seen := recs[pt]; !seen {
			work = append(work, pt)
		}
		recs[pt] = append(recs[pt], fp.Records...)
	})
	if persist {
		for _, pt := range p.parts {
			if _, seen := recs[pt]; !seen && pt.unpersisted {
				work = append(work, pt)
			}
		}
	}
	if len(work) == 0 {
		return nil, nil
	}
	p.pipe.seq++
	if persist {
		p.pipe.persistedAt = time.Now()
	}
	b := &batch{seq: p.pipe.seq, persists: persist, parts: make([]partBatch, len(work)),
		marked: make(chan struct{}), done: make(chan struct{})}
	errs := make([]error, len(work))
	var wg sync.WaitGroup
	for i, pt := range work {
		broken := p.clBroken[pt.id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			pb, err := pt.foldBatch(recs[pt], b.seq, persist)
			if err != nil {
				errs[i] = fmt.Errorf("folding partition %d: %w", pt.id, err)
				return
			}
			p.out.encode(pt, &pb)
			pb.clBroken = broken
			b.parts[i] = pb
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, &storeError{err}
	}
	return b, nil
}

// handOn publishes b and hands it to the commit stage, once fewer than
// maxInflight batches are in flight. An error is an earlier batch's: b is
// then neither published nor handed on.
func (p *Processor) handOn(ctx context.Context, b *batch) error {
	for len(p.pipe.inflight) >= maxInflight {
		if _, err := p.reap(true); err != nil {
			return err
		}
	}
	if n := len(p.pipe.inflight); n > 0 {
		if prev := p.pipe.inflight[n-1]; isClosed(prev.marked) && prev.pubErr != nil {
			// Publishing failed: nothing more goes out. The failure is
			// the first failed batch's.
			if err := p.drain(); err != nil {
				return err
			}
			return prev.pubErr
		}
	}
	if err := markProduced(p.store, b); err != nil {
		return &storeError{err}
	}
	produce(ctx, p.cl, b, p.observeLatency)
	crashAt(crashProduced)
	p.pipe.inflight = append(p.pipe.inflight, b)
	p.pipe.c.in <- b
	return nil
}

// commitInTransaction runs b through the stages one after the other, its
// outputs and changelog in one transaction: with exactly-once nothing is
// visible until the transaction commits, so there is nothing to overlap.
// A transaction a rebalance aborted folds the batch again.
func (p *Processor) commitInTransaction(ctx context.Context, b *batch) error {
	if err := p.drain(); err != nil {
		return err
	}
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	produce(ctx, p.cl, b, p.observeLatency)
	if err := b.acks.wait(); err != nil {
		return err
	}
	if p.cfg.Changelog {
		var recs []*kgo.Record
		for i := range b.parts {
			recs = b.parts[i].changelogRecords(p.cfg.Topics.Changelog, recs)
		}
		for _, r := range recs {
			p.cl.Produce(ctx, r, nil) // End flushes them; a failure fails the commit
		}
		b.changelogDone = true // inside the transaction: a restore reads it committed
	}
	committed, err := p.sess.End(ctx, kgo.TryCommit)
	if err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	if !committed {
		p.log.Info("transaction aborted by a rebalance; folding the batch again")
		return p.rewind()
	}
	p.pipe.inflight = append(p.pipe.inflight, b)
	p.pipe.c.in <- b
	return p.drain()
}

// reap takes finished batches off the front of the pipeline, waiting for
// the oldest when block. It returns how many committed and the first
// failure.
func (p *Processor) reap(block bool) (int, error) {
	committed := 0
	for len(p.pipe.inflight) > 0 {
		b := p.pipe.inflight[0]
		if block {
			<-b.done
		} else {
			select {
			case <-b.done:
			default:
				return committed, nil
			}
		}
		p.pipe.inflight = p.pipe.inflight[1:]
		p.notePublished(b)
		if b.err != nil {
			if b.err == errAfterFailure {
				continue
			}
			return committed, b.err
		}
		committed++
		for i := range b.parts {
			if pt, ok := p.parts[b.parts[i].id]; ok {
				pt.fold.Saved(b.seq)
			}
		}
	}
	return committed, nil
}

// notePublished advances the published marks of b's partitions once its
// outputs are acknowledged.
func (p *Processor) notePublished(b *batch) {
	if !b.acked {
		return
	}
	for i := range b.parts {
		if pt, ok := p.parts[b.parts[i].id]; ok {
			pt.published = max(pt.published, b.parts[i].mark)
		}
	}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// drain waits for every batch handed on and returns the first failure.
func (p *Processor) drain() error {
	var first error
	for len(p.pipe.inflight) > 0 {
		if _, err := p.reap(true); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// recover deals with a failed batch: it waits for the rest of the
// pipeline, then stalls on a store failure (every partition folds again
// from the store once it works) or returns any other failure.
func (p *Processor) recover(ctx context.Context, err error) error {
	_ = p.drain() // the later batches' failures follow from this one
	p.pipe.c.failed = false
	if ctx.Err() != nil {
		return nil
	}
	var se *storeError
	if !errors.As(err, &se) {
		// The hot states hold what failed to publish: nothing more of
		// them may be committed (flush), a restart folds it again.
		p.pipe.tainted = true
		return err
	}
	if berr := p.store.Broken(); berr != nil {
		p.m.storeErrors.Inc()
		return fmt.Errorf("store broken, restart to recover (nothing is lost: the batch was not committed): %w", berr)
	}
	p.stall(err)
	return nil
}

// accountBatch updates metrics and status once b is committed (commit
// stage).
func (p *Processor) accountBatch(b *batch) {
	m := p.m
	m.batches.Inc()
	records, ups := 0, 0
	p.mu.Lock()
	for i := range b.parts {
		pb := &b.parts[i]
		records += pb.records
		ups += pb.ups
		if !pb.persisted {
			continue
		}
		if _, owned := p.mu.next[pb.id]; owned {
			p.mu.next[pb.id] = pb.next
		}
		if end := p.mu.end[pb.id]; end > 0 {
			m.setLag(pb.id, max(0, end-pb.next))
		}
	}
	p.mu.Unlock()
	if b.persists {
		select {
		case p.committedSig <- struct{}{}: // mirrorLoop
		default: // a mirror is due already
		}
	}
	m.batchRecords.Observe(float64(records))
	m.updates.Add(float64(ups))
	for i := range b.parts {
		for _, c := range b.parts[i].channels {
			m.channelUpdates.WithLabelValues(c.channel).Add(float64(c.updates))
			m.channelZero.WithLabelValues(c.channel).Add(float64(c.zero))
		}
	}
	for i := range b.parts {
		st := &b.parts[i].stats
		for t, c := range st.applied {
			if c > 0 {
				m.appliedBy[t].Add(float64(c))
			}
		}
		if st.duplicates > 0 {
			m.duplicates.Add(float64(st.duplicates))
		}
		for r, c := range st.deads {
			if c > 0 {
				m.deadBy[r].Add(float64(c))
			}
		}
		for k, c := range st.alerts {
			if c > 0 {
				m.alertsBy[k].Add(float64(c))
			}
		}
	}
}

// persistDue reports whether the next batch commits states: with
// exactly-once every batch does (the transaction commits the group's
// offsets with its outputs), otherwise once per CommitInterval.
func (p *Processor) persistDue() bool {
	return p.sess != nil || time.Since(p.pipe.persistedAt) >= p.cfg.CommitInterval
}

// unpersisted reports whether a partition folded records not yet carried
// to the store.
func (p *Processor) unpersisted() bool {
	for _, pt := range p.parts {
		if pt.unpersisted {
			return true
		}
	}
	return false
}

// flush commits what every partition folded since the last commit and
// waits for the pipeline: before partitions go, and before Run returns.
func (p *Processor) flush(ctx context.Context) error {
	if p.pipe.tainted {
		return p.drain()
	}
	b, err := p.foldStage(kgo.Fetches{}, true)
	if err == nil && b != nil {
		err = p.handOn(ctx, b)
	}
	if derr := p.drain(); err == nil {
		err = derr
	}
	return err
}

func (p *Processor) observeLatency(cause time.Time) { p.m.latency.Observe(time.Since(cause).Seconds()) }

// evict keeps each partition's hot states under its share of
// MaxCachedSKUs (poll loop only).
func (p *Processor) evict() {
	limit := max(1, p.cfg.MaxCachedSKUs/max(1, len(p.parts)))
	for _, pt := range p.parts {
		pt.fold.Evict(limit)
	}
}
