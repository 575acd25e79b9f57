package processors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
)

// The changelog topic mirrors each partition's committed ledger state, so
// a partition that moves to another instance is restored from it instead
// of folding its whole history again (as Kafka Streams and Goka do).
//
// Changelog partition p holds partition p's state: one record per SKU
// (key: the SKU, value: its state encoding), the partition's policies
// (key changelogPartitionStateKey) and, last for every committed batch,
// the next offset (key changelogOffsetKey; changelogkeys.go lays the keys
// out). Records are produced after the
// batch is committed to Pebble and flushed before a partition is given up.
//
// Why a restore is exact even when the writer died half-way through a
// batch's records: the restored partition state and offset are those of
// the last complete batch, and some SKU states may be from the next one.
// Folding again from that offset skips the events those SKUs already
// applied (duplicates by event_id) and a channel policy reaches a SKU
// only once (PolicySeq); ledger's TestRefoldOverAheadStateIsIdempotent
// checks it. Their outputs were published before the states were written.
//
// The other way round, a store ahead of the changelog (a crash between a
// batch's store commit and its records, or failed changelog writes), is
// mended when the partition is assigned: resend.

// changelogRecords appends a partition's share of a batch to out: the
// dirty SKUs' writes (ledger/layout.go: a state key per SKU and, for a
// split SKU, its new parts and, as tombstones, the parts it no longer
// needs, in the order that keeps every prefix readable), the partition
// state if it changed, then the next offset.
func (pb *partBatch) changelogRecords(topic string, out []*kgo.Record) []*kgo.Record {
	for i := range pb.writes {
		w := &pb.writes[i]
		r := &kgo.Record{Topic: topic, Partition: pb.id, Key: changelogStateKey(w.sku), Value: w.v}
		if w.op != 's' {
			r.Key = changelogPartKey(w.sku, w.seq)
		}
		out = append(out, r)
	}
	if pb.policy != nil {
		out = append(out, &kgo.Record{Topic: topic, Partition: pb.id, Key: changelogPartitionStateKey, Value: pb.policy})
	}
	return append(out, &kgo.Record{Topic: topic, Partition: pb.id, Key: changelogOffsetKey, Value: changelogMarkerValue(pb.next)})
}

// restoreResult is a finished restore of one partition.
type restoreResult struct {
	part     int32
	restored bool // false: the local store was as new as the changelog
	skus     int
	next     int64
	took     time.Duration
	err      error
	// The changelog was behind the local store and was brought up to it
	// (resend): its last offset marker before (-1: none), the SKUs
	// re-sent, those it already held as stored, keys tombstoned.
	resent                bool
	clNext                int64
	unchanged, tombstones int
}

// restoreEnv is what a restore needs besides the config and the store.
type restoreEnv struct {
	// prod produces re-sent records (resend); nil: a plain client of the
	// restore's own (exactly-once, whose client only writes in
	// transactions).
	prod *kgo.Client
	// force re-sends even when the changelog's last marker equals the
	// store's offset: this process saw the partition's changelog writes
	// fail, so records before that marker may be missing.
	force bool
}

// restore brings partition part of the store up to the changelog when the
// changelog is ahead of it, and the changelog up to the store when the
// store is ahead (resend). It reads the changelog partition to its end.
func restore(ctx context.Context, cfg Config, st *store.Store, part int32, env restoreEnv) restoreResult {
	start := time.Now()
	res := restoreResult{part: part}
	local, haveLocal, err := st.Offset(part)
	if err != nil {
		res.err = err
		return res
	}
	res.next = local
	// The client consumes nothing until the changelog must be read whole:
	// consuming from the start at once would fetch megabytes of states in
	// the background of a restart that needs only the last record.
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("stockledger-restore"),
		kgo.FetchMaxBytes(64 << 20),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}, cfg.ClientOpts...)...)
	if err != nil {
		res.err = err
		return res
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, cfg.Topics.Changelog)
	if err != nil {
		res.err = fmt.Errorf("listing changelog end offsets: %w", err)
		return res
	}
	end, ok := ends.Lookup(cfg.Topics.Changelog, part)
	if !ok || end.Err != nil {
		res.err = fmt.Errorf("changelog partition %d: end offset unknown (%v)", part, end.Err)
		return res
	}
	states := make(map[string][]byte)
	parts := make(map[string]map[uint32][]byte)
	var partState []byte
	clNext := int64(-1)
	if end.Offset == 0 {
		if haveLocal { // a store folded with the changelog off
			res.err = resend(ctx, cfg, st, part, local, env, &res, changelogView{states, parts, partState, clNext})
		}
		res.took = time.Since(start)
		return res
	}
	// Usually the last record is the marker of the last batch, and a local
	// store that is as new needs nothing else (a restart on the same disk).
	if haveLocal && !env.force {
		if last, err := lastRecord(ctx, cfg, part, end.Offset); err == nil && isMarkerAt(last.Key, last.Value, local) {
			res.took = time.Since(start)
			return res
		}
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topics.Changelog: {part: kgo.NewOffset().AtStart()}})
	next := int64(0) // offset after the last record read
	// Nobody writes this changelog partition while we restore it (we own
	// the partition and the previous owner flushed before giving it up), so
	// the end is reached at the end offset, or, when transaction markers or
	// aborted records sit at the tail, once the broker has nothing more.
	idle := 0
	for next < end.Offset && idle < 3 {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			res.err = ctx.Err()
			return res
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			res.err = fmt.Errorf("reading changelog partition %d: %w", part, ferr)
			return res
		}
		if fs.NumRecords() == 0 {
			idle++
			continue
		}
		idle = 0
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			switch k := parseChangelogKey(r.Key); k.kind {
			case clOffsetMarker:
				if n, ok := parseChangelogMarker(r.Value); ok {
					clNext = n
				}
			case clPartitionState:
				partState = r.Value
			case clSKUPart:
				if len(r.Value) == 0 { // a tombstone
					delete(parts[k.sku], k.seq)
				} else if ps := parts[k.sku]; ps != nil {
					ps[k.seq] = r.Value
				} else {
					parts[k.sku] = map[uint32][]byte{k.seq: r.Value}
				}
			case clSKUState:
				if len(r.Value) == 0 { // a tombstone (resend)
					delete(states, k.sku)
					return
				}
				states[k.sku] = r.Value
			}
		})
	}
	if haveLocal && (clNext < local || (env.force && clNext == local)) {
		res.err = resend(ctx, cfg, st, part, local, env, &res, changelogView{states, parts, partState, clNext})
		res.took = time.Since(start)
		return res
	}
	if clNext < 0 || (haveLocal && clNext <= local) {
		res.took = time.Since(start)
		return res
	}
	// Replace the local partition: everything first, the offset last, so a
	// crash half-way leaves no offset and the next assignment restores again.
	if err := st.DropPartition(part); err != nil {
		res.err = err
		return res
	}
	b := st.NewBatch()
	var sku ledger.SKU
	var ps [][]byte
	for name, v := range states {
		first, next, split, err := ledger.PartRange(v)
		if err != nil {
			res.err = fmt.Errorf("changelog partition %d: SKU %q: %w", part, name, err)
			return res
		}
		ps = ps[:0]
		for q := first; split && q < next; q++ {
			pv, ok := parts[name][q]
			if !ok {
				res.err = fmt.Errorf("changelog partition %d: SKU %q: part %d of [%d, %d) missing", part, name, q, first, next)
				return res
			}
			ps = append(ps, pv)
		}
		// Decoded before it is installed: a corrupt changelog fails the
		// restore here, not a later batch.
		if err := ledger.DecodeSKUParts(name, v, ps, &sku); err != nil {
			res.err = fmt.Errorf("changelog partition %d: %w", part, err)
			return res
		}
		w := b.SKUWriter(part, name)
		w.PutState(v)
		for i, pv := range ps {
			w.PutPart(first+uint32(i), pv)
		}
		if err := w.Err(); err != nil {
			res.err = err
			return res
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(); err != nil {
				res.err = err
				return res
			}
			b = st.NewBatch()
		}
	}
	if partState != nil {
		pst := ledger.Partition{Config: cfg.Ledger}
		if err := ledger.DecodePartition(partState, &pst); err != nil {
			res.err = fmt.Errorf("changelog partition %d: %w", part, err)
			return res
		}
		if err := b.PutPartition(part, &pst); err != nil {
			res.err = err
			return res
		}
	}
	if err := b.SetOffset(part, clNext); err != nil {
		res.err = err
		return res
	}
	if err := b.Commit(); err != nil {
		res.err = err
		return res
	}
	res.restored, res.skus, res.next, res.took = true, len(states), clNext, time.Since(start)
	return res
}

// changelogView is what a changelog partition holds, as restore reads it:
// the last value of every SKU's state key and part, the partition state,
// the last offset marker (-1: none).
type changelogView struct {
	states    map[string][]byte
	parts     map[string]map[uint32][]byte
	partState []byte
	clNext    int64
}

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
func resend(ctx context.Context, cfg Config, st *store.Store, part int32, local int64, env restoreEnv, res *restoreResult, cl changelogView) error {
	prod := env.prod
	if prod == nil {
		c, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			kgo.ClientID("stockledger-restore"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchMaxBytes(16 << 20), // maxMessageBytes
		}, cfg.ClientOpts...)...)
		if err != nil {
			return err
		}
		defer c.Close()
		prod = c
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	send := func(key, value []byte) {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Topic: cfg.Topics.Changelog, Partition: part, Key: key, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	// wait waits for every record sent so far.
	wait := func() error {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil {
			return fmt.Errorf("re-sending partition %d to the changelog: %w", part, firstErr)
		}
		return nil
	}
	res.resent, res.clNext, res.next = true, cl.clNext, local
	// tombstoneParts tombstones name's parts in the changelog outside
	// [keep0, keep1).
	tombstoneParts := func(name string, keep0, keep1 uint32) {
		for q := range cl.parts[name] {
			if q < keep0 || q >= keep1 {
				send(changelogPartKey(name, q), nil)
				res.tombstones++
			}
		}
	}
	have := make(map[string]struct{})
	err := st.PersistedSKUs(part, func(name string, v []byte, ps [][]byte) error {
		have[name] = struct{}{}
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
		clState, had := cl.states[name]
		same, conflict := had && bytes.Equal(clState, v), false
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
			res.unchanged++
		case conflict:
			var sku ledger.SKU
			if err := ledger.DecodeSKUParts(name, v, ps, &sku); err != nil {
				return err
			}
			send(changelogStateKey(name), sku.AppendBinary(nil))
			first, next = 0, 0 // every part of the changelog's is stale
			res.skus++
		default:
			for i, pv := range ps {
				if _, ok := cl.parts[name][first+uint32(i)]; !ok {
					send(changelogPartKey(name, first+uint32(i)), pv)
				}
			}
			if !had || !bytes.Equal(clState, v) {
				send(changelogStateKey(name), bytes.Clone(v))
			}
			res.skus++
		}
		tombstoneParts(name, first, next)
		return nil
	})
	if err != nil {
		return fmt.Errorf("re-sending partition %d to the changelog: %w", part, err)
	}
	// The store never deletes a SKU; the changelog may still hold one (a
	// history the store does not share): restore must not bring it back.
	for name := range cl.states {
		if _, ok := have[name]; !ok {
			send(changelogStateKey(name), nil)
			res.tombstones++
		}
	}
	for name := range cl.parts {
		if _, ok := have[name]; !ok {
			tombstoneParts(name, 0, 0)
		}
	}
	pst := ledger.Partition{Config: cfg.Ledger}
	if err := st.Partition(part, &pst); err != nil {
		return err
	}
	if enc := pst.AppendBinary(nil); !bytes.Equal(enc, cl.partState) {
		send(changelogPartitionStateKey, enc)
	}
	// The marker only once everything before it is in: a record that
	// failed must not sit behind a marker that claims it.
	if err := wait(); err != nil {
		return err
	}
	send(changelogOffsetKey, changelogMarkerValue(local))
	return wait()
}

// lastRecord reads the record at end-1 of changelog partition part.
func lastRecord(ctx context.Context, cfg Config, part int32, end int64) (*kgo.Record, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("stockledger-restore"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topics.Changelog: {part: kgo.NewOffset().At(end - 1)}}),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var last *kgo.Record
		fs.EachRecord(func(r *kgo.Record) { last = r })
		if last != nil {
			return last, nil
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
	}
}
