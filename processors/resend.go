package processors

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
)

// resend brings changelog partition part up to the local store, whose
// offset is local: the changelog is behind it (its last marker is older,
// or there is none). A batch's changelog records are produced after its
// store commit, so a process that died in between (SIGKILL), or whose
// changelog writes failed, left batches in the store that the changelog
// never got; folding on from the store and writing later markers would
// make the changelog claim them, and a restore elsewhere would bring back
// stale SKUs. So before the partition folds again, every SKU the
// changelog does not hold exactly as stored is sent in its persisted form,
// keys the store does not have are tombstoned, then the partition state
// and, once all of that is acknowledged, a marker at local. A restore
// from the changelog then equals the store.
//
// With exactly-once, batch changelog records are committed in the batch's
// transaction before the store, so a crash cannot leave the store ahead;
// but a store folded with the changelog off, or without exactly-once, or
// with changelog writes that failed (the transactions go on without them,
// see batcher.changelog) can be, so the same check runs, and the records
// go outside any transaction (read_committed readers see them).
//
// Order, so that a reader stopping anywhere (a crash half-way) restores
// old or new SKUs but never a core with parts of another: for a split SKU,
// its parts the changelog lacks, then its core, then tombstones of parts
// the core no longer names. Parts are never overwritten with other bytes:
// a SKU whose parts the changelog holds differently (another instance
// numbered them after a lost batch) is sent whole, in its canonical
// encoding, which restore reads as a whole SKU, one record. Until the
// final marker the old one stands, and states past it are folded again
// idempotently, as after any crash.
func resend(ctx context.Context, cfg Config, st *store.Store, part int32, local int64, env restoreEnv, cl changelogView) (restoreResult, error) {
	prod := env.prod
	if prod == nil {
		c, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			kgo.ClientID("stockledger-restore"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchMaxBytes(16 << 20), // maxMessageBytes
		}, cfg.ClientOpts...)...)
		if err != nil {
			return restoreResult{}, err
		}
		defer c.Close()
		prod = c
	}
	rs := &resender{ctx: ctx, prod: prod, topic: cfg.Topics.Changelog, part: part, cl: cl}
	err := rs.run(st, cfg.Ledger, local)
	return restoreResult{resent: true, clNext: cl.clNext, next: local,
		skus: rs.skus, unchanged: rs.unchanged, tombstones: rs.tombstones}, err
}

// resender re-sends one partition's state to its changelog partition,
// which holds cl, and counts what it sent.
type resender struct {
	ctx   context.Context
	prod  *kgo.Client
	topic string
	part  int32
	cl    changelogView
	// The SKUs sent, those the changelog held as stored, keys tombstoned.
	skus, unchanged, tombstones int

	wg sync.WaitGroup // records sent and not yet acknowledged
	mu struct {
		sync.Mutex
		err error // the first record that failed
	}
}

// run sends what the changelog lacks of the store's partition, the
// partition state, then the marker at local.
func (rs *resender) run(st *store.Store, lcfg ledger.Config, local int64) error {
	have := make(map[string]struct{})
	err := st.PersistedSKUs(rs.part, func(name string, v []byte, ps [][]byte) error {
		have[name] = struct{}{}
		return rs.sku(name, v, ps)
	})
	if err != nil {
		return fmt.Errorf("re-sending partition %d to the changelog: %w", rs.part, err)
	}
	rs.tombstoneOthers(have)
	pst := ledger.Partition{Config: lcfg}
	if err := st.Partition(rs.part, &pst); err != nil {
		return err
	}
	if enc := pst.AppendBinary(nil); !bytes.Equal(enc, rs.cl.partState) {
		rs.send(changelogPartitionStateKey, enc)
	}
	// The marker only once everything before it is in: a record that
	// failed must not sit behind a marker that claims it.
	if err := rs.wait(); err != nil {
		return err
	}
	rs.send(changelogOffsetKey, changelogMarkerValue(local))
	return rs.wait()
}

// clHolds is how the changelog holds a SKU the store has.
type clHolds uint8

const (
	clHoldsSame     clHolds = iota // its state and parts, as stored
	clHoldsLess                    // an older state, or not all its parts
	clHoldsConflict                // a part with other bytes than the store's
)

// holds says how the changelog holds SKU name, stored as state and parts
// ps numbered from first.
func (cl *changelogView) holds(name string, state []byte, ps [][]byte, first uint32) clHolds {
	clState, had := cl.states[name]
	same, conflict := had && bytes.Equal(clState, state), false
	for i, pv := range ps {
		switch c, ok := cl.parts[name][first+uint32(i)]; {
		case !ok:
			same = false
		case !bytes.Equal(c, pv):
			same, conflict = false, true
		}
	}
	switch {
	case same:
		return clHoldsSame
	case conflict:
		return clHoldsConflict
	}
	return clHoldsLess
}

// sku sends what the changelog lacks of SKU name, stored as v and, split,
// parts ps.
func (rs *resender) sku(name string, v []byte, ps [][]byte) error {
	first, next, split, err := ledger.PartRange(v)
	if err != nil {
		return fmt.Errorf("SKU %q: %w", name, err)
	}
	if split && uint32(len(ps)) != next-first {
		return fmt.Errorf("SKU %q: %d parts of [%d, %d) in the store", name, len(ps), first, next)
	}
	if !split {
		first, next = 0, 0
	}
	switch rs.cl.holds(name, v, ps, first) {
	case clHoldsSame:
		rs.unchanged++
	case clHoldsConflict:
		var sku ledger.SKU
		if err := ledger.DecodeSKUParts(name, v, ps, &sku); err != nil {
			return err
		}
		rs.send(changelogStateKey(name), sku.AppendBinary(nil))
		first, next = 0, 0 // every part of the changelog's is stale
		rs.skus++
	case clHoldsLess:
		for i, pv := range ps {
			if _, ok := rs.cl.parts[name][first+uint32(i)]; !ok {
				rs.send(changelogPartKey(name, first+uint32(i)), pv)
			}
		}
		if clState, had := rs.cl.states[name]; !had || !bytes.Equal(clState, v) {
			rs.send(changelogStateKey(name), bytes.Clone(v))
		}
		rs.skus++
	}
	rs.tombstoneParts(name, first, next)
	return nil
}

// tombstoneOthers tombstones the SKUs the changelog holds and the store
// does not (have). The store never deletes a SKU; the changelog may still
// hold one (a history the store does not share): restore must not bring
// it back.
func (rs *resender) tombstoneOthers(have map[string]struct{}) {
	for name := range rs.cl.states {
		if _, ok := have[name]; !ok {
			rs.send(changelogStateKey(name), nil)
			rs.tombstones++
		}
	}
	for name := range rs.cl.parts {
		if _, ok := have[name]; !ok {
			rs.tombstoneParts(name, 0, 0)
		}
	}
}

// tombstoneParts tombstones name's parts in the changelog outside
// [keep0, keep1).
func (rs *resender) tombstoneParts(name string, keep0, keep1 uint32) {
	for q := range rs.cl.parts[name] {
		if q < keep0 || q >= keep1 {
			rs.send(changelogPartKey(name, q), nil)
			rs.tombstones++
		}
	}
}

// send produces one record without waiting for it.
func (rs *resender) send(key, value []byte) {
	rs.wg.Add(1)
	rs.prod.Produce(rs.ctx, &kgo.Record{Topic: rs.topic, Partition: rs.part, Key: key, Value: value}, func(_ *kgo.Record, err error) {
		if err != nil {
			rs.mu.Lock()
			if rs.mu.err == nil {
				rs.mu.err = err
			}
			rs.mu.Unlock()
		}
		rs.wg.Done()
	})
}

// wait waits for every record sent so far.
func (rs *resender) wait() error {
	done := make(chan struct{})
	go func() { rs.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-rs.ctx.Done():
		return rs.ctx.Err()
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.mu.err != nil {
		return fmt.Errorf("re-sending partition %d to the changelog: %w", rs.part, rs.mu.err)
	}
	return nil
}
