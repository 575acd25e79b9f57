package processors

import (
	"context"
	"errors"
	"fmt"
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
// the next offset (key changelogOffsetKey); changelogkeys.go lays the keys
// out. Records are produced after the batch is committed to Pebble and
// flushed before a partition is given up.
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
// mended when the partition is assigned: resend (resend.go).

// changelogRecords appends a partition's share of a batch to out: the
// dirty SKUs' writes (ledger/layout.go: a state key per SKU and, for a
// split SKU, its new parts and, as tombstones, the parts it no longer
// needs, in the order that keeps every prefix readable), the partition
// state if it changed, then the next offset. A share that did not persist
// (it holds its outputs after a crash, its states stay dirty) has nothing
// to write: a marker without the states would let a restore skip records.
func (pb *partBatch) changelogRecords(topic string, out []*kgo.Record) []*kgo.Record {
	if !pb.persisted {
		return out
	}
	// One allocation for the records and one for their keys.
	recs := make([]kgo.Record, 0, len(pb.writes)+2)
	size := 0
	for i := range pb.writes {
		size += clPartKeyHead + len(pb.writes[i].sku)
	}
	keys := make([]byte, 0, size)
	add := func(key, value []byte) {
		recs = append(recs, kgo.Record{Topic: topic, Partition: pb.id, Key: key, Value: value})
		out = append(out, &recs[len(recs)-1])
	}
	for i := range pb.writes {
		w := &pb.writes[i]
		at := len(keys)
		if w.op == 's' {
			keys = appendChangelogStateKey(keys, w.sku)
		} else {
			keys = appendChangelogPartKey(keys, w.sku, w.seq)
		}
		add(keys[at:len(keys):len(keys)], w.v)
	}
	if pb.policy != nil {
		add(changelogPartitionStateKey, pb.policy)
	}
	add(changelogOffsetKey, changelogMarkerValue(pb.next))
	return out
}

// restoreResult is a finished restore of one partition.
type restoreResult struct {
	part     int32
	restored bool // false: the local store was as new as the changelog
	skus     int
	next     int64
	took     time.Duration
	// err: the restore failed and is retried; nothing else here counts.
	err error
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
	res, err := restorePartition(ctx, cfg, st, part, env)
	res.part, res.err, res.took = part, err, time.Since(start)
	return res
}

// restorePartition is restore: it decides, from the store's offset and
// what the changelog holds, whether the store, the changelog or neither
// is brought up to the other.
func restorePartition(ctx context.Context, cfg Config, st *store.Store, part int32, env restoreEnv) (restoreResult, error) {
	local, haveLocal, err := st.Offset(part)
	if err != nil {
		return restoreResult{}, err
	}
	upToDate := restoreResult{next: local}
	// The client consumes nothing until the changelog must be read whole:
	// consuming from the start at once would fetch megabytes of states in
	// the background of a restart that needs only the last record.
	cl, err := kgo.NewClient(restoreClientOpts(cfg, kgo.FetchMaxBytes(64<<20), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return restoreResult{}, err
	}
	defer cl.Close()
	end, err := changelogEnd(ctx, cl, cfg.Topics.Changelog, part)
	if err != nil {
		return restoreResult{}, err
	}
	if end == 0 {
		if haveLocal { // a store folded with the changelog off
			return resend(ctx, cfg, st, part, local, env, newChangelogView(0))
		}
		return upToDate, nil
	}
	// Usually the last record is the marker of the last batch, and a local
	// store that is as new needs nothing else (a restart on the same disk).
	// A last record that cannot be read in time is no answer either way:
	// reading the changelog whole then decides.
	if haveLocal && !env.force {
		if last, err := lastRecord(ctx, cfg, part, end); err == nil && isMarkerAt(last.Key, last.Value, local) {
			return upToDate, nil
		}
	}
	view, err := readChangelog(ctx, cl, cfg.Topics.Changelog, part, end)
	if err != nil {
		return restoreResult{}, err
	}
	switch {
	case haveLocal && (view.clNext < local || (env.force && view.clNext == local)):
		return resend(ctx, cfg, st, part, local, env, view)
	case view.clNext < 0 || (haveLocal && view.clNext <= local):
		return upToDate, nil
	}
	if err := installChangelog(st, cfg.Ledger, part, view); err != nil {
		return restoreResult{}, err
	}
	return restoreResult{restored: true, skus: len(view.states), next: view.clNext}, nil
}

// restoreClientOpts are the options of a client reading changelog
// partitions for a restore, with extra.
func restoreClientOpts(cfg Config, extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("stockledger-restore"),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}
	opts = append(opts, extra...)
	return append(opts, cfg.ClientOpts...)
}

// changelogEnd is the end offset of changelog partition part.
func changelogEnd(ctx context.Context, cl *kgo.Client, topic string, part int32) (int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("listing changelog end offsets: %w", err)
	}
	end, ok := ends.Lookup(topic, part)
	if !ok || end.Err != nil {
		return 0, fmt.Errorf("changelog partition %d: end offset unknown (%v)", part, end.Err)
	}
	return end.Offset, nil
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

// newChangelogView is the view of an empty changelog partition, with
// room for about hint states.
func newChangelogView(hint int) changelogView {
	return changelogView{states: make(map[string][]byte, hint), parts: make(map[string]map[uint32][]byte), clNext: -1}
}

// viewHint bounds the states a restore's view is first sized for: a
// changelog partition holds at most as many states as records, and a map
// grown from empty is rehashed again and again on the way to a partition's
// SKUs, which is most of reading the changelog.
const viewHint = 1 << 18

// add reads one record into the view, a later record replacing an
// earlier one of the same key.
func (v *changelogView) add(key, value []byte) {
	k := parseChangelogKey(key)
	switch k.kind {
	case clOffsetMarker:
		if next, ok := parseChangelogMarker(value); ok {
			v.clNext = next
		}
	case clPartitionState:
		v.partState = value
	case clSKUPart:
		switch ps := v.parts[k.sku]; {
		case len(value) == 0: // a tombstone
			delete(ps, k.seq)
		case ps != nil:
			ps[k.seq] = value
		default:
			v.parts[k.sku] = map[uint32][]byte{k.seq: value}
		}
	case clSKUState:
		if len(value) == 0 { // a tombstone (resend)
			delete(v.states, k.sku)
			return
		}
		v.states[k.sku] = value
	}
}

// readChangelog reads changelog partition part up to end with cl.
//
// Nobody writes this changelog partition while we restore it (we own the
// partition and the previous owner flushed before giving it up), so the
// end is reached at the end offset, or, when transaction markers or
// aborted records sit at the tail, once the broker has nothing more.
func readChangelog(ctx context.Context, cl *kgo.Client, topic string, part int32, end int64) (changelogView, error) {
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().AtStart()}})
	view := newChangelogView(int(min(end, viewHint)))
	next := int64(0) // offset after the last record read
	idle := 0
	for next < end && idle < 3 {
		fs, err := pollChangelog(ctx, cl, part)
		if err != nil {
			return view, err
		}
		if fs.NumRecords() == 0 {
			idle++
			continue
		}
		idle = 0
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			view.add(r.Key, r.Value)
		})
	}
	return view, nil
}

// pollChangelog polls cl, reading changelog partition part, for at most
// 300 ms: a poll that ends on that bound is not an error, it may simply
// have found nothing.
func pollChangelog(ctx context.Context, cl *kgo.Client, part int32) (kgo.Fetches, error) {
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	fs := cl.PollFetches(pctx)
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ferr error
	fs.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) {
			ferr = err
		}
	})
	if ferr != nil {
		return nil, fmt.Errorf("reading changelog partition %d: %w", part, ferr)
	}
	return fs, nil
}

// installChangelog replaces partition part of the store with what the
// changelog holds: everything first, the offset last, so a crash half-way
// leaves no offset and the next assignment restores again.
func installChangelog(st *store.Store, lcfg ledger.Config, part int32, view changelogView) error {
	if err := st.DropPartition(part); err != nil {
		return err
	}
	b := st.NewBatch()
	defer func() { b.Close() }()
	var ps [][]byte
	var sku ledger.SKU // each SKU is decoded into it, then forgotten
	for name, v := range view.states {
		first, err := view.skuParts(name, v, &ps, &sku)
		if err != nil {
			return fmt.Errorf("changelog partition %d: %w", part, err)
		}
		if err := b.PutState(part, name, v); err != nil {
			return err
		}
		if err := indexOpenHolds(b, part, &sku); err != nil {
			return err
		}
		for i, pv := range ps {
			if err := b.PutPart(part, name, first+uint32(i), pv); err != nil {
				return err
			}
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(); err != nil {
				return err
			}
			b = st.NewBatch()
		}
	}
	if view.partState != nil {
		pst := ledger.Partition{Config: lcfg}
		if err := ledger.DecodePartition(view.partState, &pst); err != nil {
			return fmt.Errorf("changelog partition %d: %w", part, err)
		}
		if err := b.PutPartition(part, &pst); err != nil {
			return err
		}
	}
	if err := b.SetOffset(part, view.clNext); err != nil {
		return err
	}
	return b.Commit()
}

// indexOpenHolds stages the store's index entries of s's open holds: the
// changelog carries states, and the index is derived from them.
func indexOpenHolds(b *store.Batch, part int32, s *ledger.SKU) error {
	for id, h := range s.Holds {
		if !h.Closed {
			if err := b.PutHoldIndex(part, s.Name, h.ExpiresAt, id, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// skuParts sets *ps to the parts of SKU name, whose state is state, from
// the view, and returns the first one's sequence number. It decodes the
// SKU into scratch before it is installed: a corrupt changelog fails the
// restore here, not a later batch.
func (v *changelogView) skuParts(name string, state []byte, ps *[][]byte, scratch *ledger.SKU) (uint32, error) {
	first, next, split, err := ledger.PartRange(state)
	if err != nil {
		return 0, fmt.Errorf("SKU %q: %w", name, err)
	}
	*ps = (*ps)[:0]
	for q := first; split && q < next; q++ {
		pv, ok := v.parts[name][q]
		if !ok {
			return 0, fmt.Errorf("SKU %q: part %d of [%d, %d) missing", name, q, first, next)
		}
		*ps = append(*ps, pv)
	}
	if err := ledger.DecodeSKUParts(name, state, *ps, scratch); err != nil {
		return 0, err
	}
	return first, nil
}

// lastRecord reads the last record of changelog partition part (end is
// its end offset). With exactly-once the last transaction's commit marker
// sits at end-1 and is never delivered: the last record is then the one at
// end-2, read committed. An error means no answer (the tail was aborted,
// say): the caller reads the changelog whole.
func lastRecord(ctx context.Context, cfg Config, part int32, end int64) (*kgo.Record, error) {
	from := end - 1
	if cfg.ExactlyOnce {
		from = max(0, end-2)
	}
	at := kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topics.Changelog: {part: kgo.NewOffset().At(from)}})
	cl, err := kgo.NewClient(restoreClientOpts(cfg, at, kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var last *kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) { last = r })
		// The record at end-1, or, with exactly-once, the one before the
		// last transaction's commit marker.
		if last != nil && (last.Offset == end-1 || cfg.ExactlyOnce && last.Offset == end-2) {
			return last, nil
		}
	}
}
