package processors

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// partition is the state one owned partition folds into. Only the poll
// loop's worker for this partition touches it, one batch at a time.
type partition struct {
	id    int32
	topic string
	// fold holds the partition's policies and hot states; the store has
	// every committed state, read back when a SKU is not hot.
	fold *RecordFold
	next int64 // next offset to fold
	// published: outputs of records below this offset were acknowledged
	// by Kafka (it may be ahead of the committed state after a crash).
	published int64

	// Per batch.
	writes     []skuWrite // the changed states' persisted forms, for Pebble and the changelog
	stDirty    bool
	fx         ledger.Effects
	causeTS    []time.Time // per fx.Updates entry: the cause record's timestamp
	deads      []schemas.DeadLetter
	deadKeys   [][]byte
	applied    [16]int
	duplicates int
	err        error
}

// StoreLoader reads one partition's states from a store (ledger.Loader):
// the live store's committed ones, or what a replay wrote back.
type StoreLoader struct {
	Store *store.Store
	Part  int32
}

// LoadSKU reads name's state.
func (l StoreLoader) LoadSKU(name string, s *ledger.SKU) (bool, error) {
	return l.Store.SKU(l.Part, name, s)
}

// LoadSKUs reads every state of the partition.
func (l StoreLoader) LoadSKUs(fn func(*ledger.SKU) error) error { return l.Store.LoadSKUs(l.Part, fn) }

func newPartition(id int32, topic string, partitions int32, cfg ledger.Config, st *store.Store, reg *schemas.Registry) *partition {
	fold := NewRecordFold(ledger.NewFold(cfg, StoreLoader{Store: st, Part: id}), reg, id, partitions)
	return &partition{id: id, topic: topic, fold: fold}
}

func (pt *partition) resetBatch() {
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

// foldRecords applies records (in offset order) to the partition. On an operating
// error (the store) it stops and records it in pt.err; the batch is then not
// committed and the records are folded again. Records below pt.published
// were folded and their outputs acknowledged before a crash or stall that
// kept their state from being committed: they are folded quietly, their
// outputs not published again, so versions on the updates topic only grow.
func (pt *partition) foldRecords(records []*kgo.Record) {
	for _, r := range records {
		nu, na, nd := len(pt.fx.Updates), len(pt.fx.Alerts), len(pt.deads)
		pt.next = r.Offset + 1
		if !pt.foldOne(r) {
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
func (pt *partition) foldOne(r *kgo.Record) bool {
	res, err := pt.fold.FoldRecord(r.Value, r.Key, false, &pt.fx)
	if err != nil {
		pt.err = err
		return false
	}
	ev := &pt.fold.Ev
	switch res.Outcome {
	case ledger.Applied:
		pt.applied[ev.Type]++
		if ev.Type == ledger.TypeChannelPolicy {
			pt.stDirty = true
		}
	case ledger.Duplicate:
		pt.duplicates++
	case ledger.Refused:
		pt.deadLetter(r, ev, res.Reason, res.Detail)
	}
	return true
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

// persist computes the persisted form of the batch's changed states once,
// for Pebble (stage) and the changelog: what changed, not whole states.
// The writes carry the batch from here: the fold's states are clean.
func (pt *partition) persist() {
	_ = pt.fold.Dirty(func(s *ledger.SKU) error {
		s.Persist(writeLog{pt, s.Name})
		return nil
	})
	pt.fold.Clean()
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
		if err := b.PutPartition(pt.id, &pt.fold.P); err != nil {
			return err
		}
	}
	return b.SetOffset(pt.id, pt.next)
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
