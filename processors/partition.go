package processors

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// partition is the state one owned partition folds into. Only the poll
// loop's worker for this partition touches it, one batch at a time.
type partition struct {
	id         int32
	topic      string
	partitions int32 // the events topic's partition count, for placement
	st         ledger.Partition
	skus       map[string]*ledger.SKU // hot states; Pebble has every committed one
	next       int64                  // next offset to fold
	// published: outputs of records below this offset were acknowledged
	// by Kafka (it may be ahead of the committed state after a crash).
	published int64

	// Per batch.
	dirty      []*ledger.SKU
	writes     []skuWrite // the dirty states' persisted forms, for Pebble and the changelog
	dirtySet   map[*ledger.SKU]struct{}
	stDirty    bool
	fx         ledger.Effects
	causeTS    []time.Time // per fx.Updates entry: the cause record's timestamp
	deads      []schemas.DeadLetter
	deadKeys   [][]byte
	applied    [16]int
	duplicates int
	err        error
	ev         ledger.Event
}

func newPartition(id int32, topic string, partitions int32, cfg ledger.Config) *partition {
	return &partition{
		id: id, topic: topic, partitions: partitions, st: ledger.Partition{Config: cfg},
		skus: make(map[string]*ledger.SKU), dirtySet: make(map[*ledger.SKU]struct{}),
	}
}

func (pt *partition) resetBatch() {
	clear(pt.dirtySet)
	pt.dirty = pt.dirty[:0]
	clear(pt.writes)
	pt.writes = pt.writes[:0]
	pt.stDirty = false
	pt.fx.Reset()
	pt.causeTS = pt.causeTS[:0]
	pt.deads = pt.deads[:0]
	pt.deadKeys = pt.deadKeys[:0]
	pt.applied = [16]int{}
	pt.duplicates = 0
	pt.err = nil
}

func (pt *partition) markDirty(s *ledger.SKU) {
	if _, ok := pt.dirtySet[s]; !ok {
		pt.dirtySet[s] = struct{}{}
		pt.dirty = append(pt.dirty, s)
	}
}

// sku returns the hot state of name, loading it from the store or
// starting a new one.
func (pt *partition) sku(st *store.Store, name string) (*ledger.SKU, error) {
	if s, ok := pt.skus[name]; ok {
		return s, nil
	}
	s := new(ledger.SKU)
	if _, err := st.SKU(pt.id, name, s); err != nil {
		return nil, err
	}
	pt.skus[s.Name] = s
	return s, nil
}

// fold applies records (in offset order) to the partition. On an operating
// error (the store) it stops and records it in pt.err; the batch is then not
// committed and the records are folded again. Records below pt.published
// were folded and their outputs acknowledged before a crash or stall that
// kept their state from being committed: they are folded quietly, their
// outputs not published again, so versions on the updates topic only grow.
func (pt *partition) fold(st *store.Store, dec *schemas.Decoder, records []*kgo.Record) {
	for _, r := range records {
		nu, na, nd := len(pt.fx.Updates), len(pt.fx.Alerts), len(pt.deads)
		pt.next = r.Offset + 1
		if !pt.foldOne(st, dec, r) {
			return
		}
		if r.Offset < pt.published {
			pt.fx.Updates, pt.fx.Alerts = pt.fx.Updates[:nu], pt.fx.Alerts[:na]
			pt.deads, pt.deadKeys = pt.deads[:nd], pt.deadKeys[:nd]
			continue
		}
		for range len(pt.fx.Updates) - nu {
			pt.causeTS = append(pt.causeTS, r.Timestamp)
		}
	}
	pt.persist()
}

// foldOne folds one record; false means an operating error in pt.err.
func (pt *partition) foldOne(st *store.Store, dec *schemas.Decoder, r *kgo.Record) bool {
	ev := &pt.ev
	ev.Reset()
	if reason, detail := dec.Decode(r.Value, ev); reason != ledger.ReasonNone {
		if err := dec.Err(); err != nil { // the schema registry, not the event
			pt.err = err
			return false
		}
		pt.deadLetter(r, ev, reason, detail)
		return true
	}
	pl := ledger.Placement{Partition: pt.id, Partitions: pt.partitions, Key: r.Key}
	if reason, detail := pl.Check(ev); reason != ledger.ReasonNone {
		pt.deadLetter(r, ev, reason, detail)
		return true
	}
	var res ledger.Result
	if ev.Type == ledger.TypeChannelPolicy {
		res = pt.st.ApplyChannelPolicy(ev)
		if res.Outcome == ledger.Applied {
			pt.stDirty = true
			if err := pt.reachAll(st, ev); err != nil {
				pt.err = err
				return false
			}
		}
	} else {
		if reason, detail := ledger.Validate(ev); reason != ledger.ReasonNone {
			pt.deadLetter(r, ev, reason, detail)
			return true
		}
		s, err := pt.sku(st, ev.SKU)
		if err != nil {
			pt.err = err
			return false
		}
		if res = pt.st.ApplyValid(s, ev, &pt.fx); res.Outcome == ledger.Applied {
			pt.markDirty(s)
		}
	}
	switch res.Outcome {
	case ledger.Applied:
		pt.applied[ev.Type]++
	case ledger.Duplicate:
		pt.duplicates++
	case ledger.Refused:
		pt.deadLetter(r, ev, res.Reason, res.Detail)
	}
	return true
}

// reachAll brings an applied channel_policy event to every SKU the
// partition knows, in SKU order, loading those not in memory.
func (pt *partition) reachAll(st *store.Store, ev *ledger.Event) error {
	names := make([]string, 0, len(pt.skus))
	for name := range pt.skus {
		names = append(names, name)
	}
	err := st.LoadSKUs(pt.id, func(s *ledger.SKU) error {
		if _, ok := pt.skus[s.Name]; ok {
			return nil
		}
		pt.skus[s.Name] = s
		names = append(names, s.Name)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		s := pt.skus[name]
		if !s.Known() {
			continue
		}
		pt.st.ReachSKU(s, ev, &pt.fx)
		pt.markDirty(s)
	}
	return nil
}

// deadLetter records r as a dead letter.
func (pt *partition) deadLetter(r *kgo.Record, ev *ledger.Event, reason ledger.Reason, detail string) {
	d := schemas.DeadLetter{
		Original: r.Value, Reason: reason, Detail: detail,
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
	}
	if reason != ledger.ReasonUndecodable && reason != ledger.ReasonUnknownSchema {
		d.EventID, d.SKU = ev.ID, ev.SKU
		if ev.Type != ledger.TypeUnknown {
			d.Type = ev.Type.String()
		}
	}
	pt.deads = append(pt.deads, d)
	pt.deadKeys = append(pt.deadKeys, r.Key)
}

// skuWrite is one write of a dirty SKU's persisted form (ledger.StateWriter).
type skuWrite struct {
	sku string
	op  byte // 's' the state key, 'p' a part, 'd' a part deleted
	seq uint32
	v   []byte
}

// writeLog collects one SKU's writes into its partition's batch.
type writeLog struct {
	pt  *partition
	sku string
}

func (w writeLog) PutState(v []byte) { w.pt.writes = append(w.pt.writes, skuWrite{w.sku, 's', 0, v}) }
func (w writeLog) PutPart(seq uint32, v []byte) {
	w.pt.writes = append(w.pt.writes, skuWrite{w.sku, 'p', seq, v})
}
func (w writeLog) DeletePart(seq uint32) {
	w.pt.writes = append(w.pt.writes, skuWrite{w.sku, 'd', seq, nil})
}

// persist computes the persisted form of the batch's dirty states once,
// for Pebble (stage) and the changelog: what changed, not whole states.
func (pt *partition) persist() {
	for _, s := range pt.dirty {
		s.Persist(writeLog{pt, s.Name})
	}
}

// stage writes the batch's new states and next offset into b.
func (pt *partition) stage(b *store.Batch) error {
	var w *store.SKUWriter
	for i := range pt.writes {
		x := &pt.writes[i]
		if w == nil || x.sku != pt.writes[i-1].sku {
			if w != nil && w.Err() != nil {
				return w.Err()
			}
			w = b.SKUWriter(pt.id, x.sku)
		}
		switch x.op {
		case 's':
			w.PutState(x.v)
		case 'p':
			w.PutPart(x.seq, x.v)
		case 'd':
			w.DeletePart(x.seq)
		}
	}
	if w != nil && w.Err() != nil {
		return w.Err()
	}
	if pt.stDirty {
		if err := b.PutPartition(pt.id, &pt.st); err != nil {
			return err
		}
	}
	return b.SetOffset(pt.id, pt.next)
}

// trim drops clean states once more than max are hot, down to three
// quarters of max. Every state in memory is committed at this point, so
// dropping any is safe; small states go first, since a best seller's state
// (thousands of orders and ids, in parts) costs the most to read back.
func (pt *partition) trim(max int) {
	if len(pt.skus) <= max {
		return
	}
	target := max * 3 / 4
	for _, small := range [2]bool{true, false} {
		for name, s := range pt.skus {
			if len(pt.skus) <= target {
				return
			}
			if !small || s.Seen.Len() < 64 {
				delete(pt.skus, name)
			}
		}
	}
}

// coalesced is one channel/sku's net update over a batch.
type coalesced struct {
	u       ledger.Update
	causeTS time.Time
}

type updateKey struct{ channel, sku string }

// coalesce folds the batch's updates to one per channel/sku: the last
// value, with the previous value published before the batch.
//
// A key that changed is published even when it ends the batch where it
// began (previous == available). The batch may be a replay: after a crash
// (or a store failure) between publishing a batch and committing it, its
// outputs reached consumers but the state did not, so the committed
// "previous" is not what consumers last saw. Folded again with other batch
// boundaries, a key that went 25 -> 13 in the lost batch may go 25 -> 13
// -> 25 in one new batch; dropping that as "unchanged" would leave 13 as
// the key's last value on the topic for good.
func (pt *partition) coalesce(out []coalesced, idx map[updateKey]int) []coalesced {
	clear(idx)
	for i := range pt.fx.Updates {
		u := &pt.fx.Updates[i]
		k := updateKey{u.Channel, u.SKU}
		if j, ok := idx[k]; ok {
			c := &out[j]
			prev, has := c.u.Previous, c.u.HasPrevious
			c.u = *u
			c.u.Previous, c.u.HasPrevious = prev, has
			c.causeTS = pt.causeTS[i]
			continue
		}
		idx[k] = len(out)
		out = append(out, coalesced{u: *u, causeTS: pt.causeTS[i]})
	}
	return out
}
