package processors

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// partition is the state one owned partition folds into. Only the poll
// loop touches it (within a batch, the partition's own fold goroutine).
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
	// produced: outputs of records below this offset may be on the topics
	// (store.SetProduced); holding: the fold is between published and
	// produced after a restart, and keeps the outputs until it reaches
	// produced, to publish them as one batch.
	produced int64
	holding  bool
	// unpersisted: records were folded since the last persisted batch;
	// partitionChanged: among them a channel policy or a clock (the
	// partition's own state changed).
	unpersisted, partitionChanged bool

	// Scratch of the batch being folded, reused: what leaves the fold
	// stage is copied into the partBatch it returns.
	fx       ledger.Effects
	causeTS  []time.Time // per fx.Updates entry: the cause record's timestamp
	deads    []schemas.DeadLetter
	deadKeys [][]byte
	// listings: the listing events applied, in order, as the bindings
	// the listings topic carries (their outputs, like the others).
	listings []schemas.ListingBinding
	idx      map[updateKey]int
	ups      []coalesced
	// states holds the persisted forms of the states (writeLog), outs
	// the outputs' keys and values: a batch's stay valid until the later
	// stages are done with them.
	states, outs arena
	holdsHint    int // the last persisted batch's changes of the hold index
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

// LoadMany reads the states of names (sorted, distinct) in one pass.
func (l StoreLoader) LoadMany(names []string, fn func(*ledger.SKU) error) error {
	return l.Store.SKUsNamed(l.Part, names, fn)
}

// LoadSKUs reads every state of the partition.
func (l StoreLoader) LoadSKUs(fn func(*ledger.SKU) error) error { return l.Store.LoadSKUs(l.Part, fn) }

// LoadHolds reads the store's index of the partition's open holds
// (ledger.HoldLoader).
func (l StoreLoader) LoadHolds(fn func(sku, holdID string, expiresAt int64) error) error {
	return l.Store.LoadHolds(l.Part, fn)
}

func newPartition(id int32, topic string, partitions int32, cfg ledger.Config, st *store.Store, reg *schemas.Registry) *partition {
	fold := NewRecordFold(ledger.NewFold(cfg, StoreLoader{Store: st, Part: id}), reg, id, partitions)
	return &partition{id: id, topic: topic, fold: fold}
}

// foldBatch is the fold stage of one partition: it applies records (in
// offset order) and returns what the later stages need as a value: the
// changed states' persisted forms, the new next offset, the counts. The
// outputs stay in the partition's scratch (fx, deads) for encodeOutputs.
// Records below pt.published were folded and their outputs acknowledged
// before a crash or stall that kept their state from being committed: they
// are folded quietly, their outputs not published again, so versions on
// the updates topic only grow. An error is the store's (a state could not
// be read): nothing of the batch may be committed.
//
// Only a batch that persists carries the states it changed (and those of
// the batches before it that did not): the others leave them dirty.
func (pt *partition) foldBatch(records []*kgo.Record, seq uint64, persist bool) (partBatch, error) {
	if !pt.holding {
		pt.fx.Reset()
		pt.causeTS, pt.deads, pt.deadKeys = pt.causeTS[:0], pt.deads[:0], pt.deadKeys[:0]
		pt.listings = pt.listings[:0]
	}
	pb := partBatch{id: pt.id, records: len(records)}
	err := pt.fold.Each(records, func(r *kgo.Record, value []byte, placed bool) error {
		nu, na, nh := len(pt.fx.Updates), len(pt.fx.Alerts), len(pt.fx.HoldResults)
		nd, nl := len(pt.deads), len(pt.listings)
		if err := pt.foldOne(r, value, placed, &pb.stats); err != nil {
			return err
		}
		if r.Offset < pt.published {
			pt.fx.Updates, pt.fx.Alerts, pt.fx.HoldResults = pt.fx.Updates[:nu], pt.fx.Alerts[:na], pt.fx.HoldResults[:nh]
			pt.deads, pt.deadKeys, pt.listings = pt.deads[:nd], pt.deadKeys[:nd], pt.listings[:nl]
			return nil
		}
		for range len(pt.fx.Updates) - nu {
			pt.causeTS = append(pt.causeTS, r.Timestamp)
		}
		return nil
	})
	if err != nil {
		return partBatch{}, err
	}
	if len(records) > 0 {
		pt.next = records[len(records)-1].Offset + 1
	}
	pb.next = pt.next
	pt.unpersisted = pt.unpersisted || len(records) > 0
	pt.partitionChanged = pt.partitionChanged || pb.stats.partitionChanged
	// A batch cut elsewhere before a crash may have published a key's
	// later value than this batch ends with: the outputs wait for the
	// batch that reaches the produced mark, and nothing is persisted
	// before they are published.
	if pt.holding = pt.next < pt.produced; pt.holding {
		pb.held, pb.mark = true, pt.published
		return pb, nil
	}
	pb.mark = max(pt.published, pt.next)
	if persist {
		pt.persist(&pb, seq)
	}
	for i := range pt.deads {
		pb.stats.deads[pt.deads[i].Reason]++
	}
	for i := range pt.fx.Alerts {
		pb.stats.alerts[pt.fx.Alerts[i].Kind]++
	}
	return pb, nil
}

// foldOne folds record r, whose value is value (r's own or a copy),
// counting its outcome; placed: r was found placed (Each).
func (pt *partition) foldOne(r *kgo.Record, value []byte, placed bool, st *foldStats) error {
	res, err := pt.fold.FoldRecord(value, r.Key, placed, &pt.fx)
	if err != nil {
		return err
	}
	ev := &pt.fold.Ev
	switch res.Outcome {
	case ledger.Applied:
		st.applied[ev.Type]++
		switch ev.Type {
		case ledger.TypeChannelPolicy, ledger.TypeClock:
			st.partitionChanged = true // the partition's state is persisted with the batch
		case ledger.TypeListing:
			pt.appliedListing(ev)
		}
	case ledger.Duplicate:
		st.duplicates++
	case ledger.Refused:
		pt.deadLetter(r, ev, res.Reason, res.Detail)
	}
	return nil
}

// appliedListing records an applied listing event as the binding the
// listings topic carries, with the SKU's version after it (the SKU is hot:
// it was just applied to).
func (pt *partition) appliedListing(ev *ledger.Event) {
	b := schemas.ListingBinding{Channel: ev.Channel, ListingSKU: ev.ListingSKU, SKU: ev.SKU,
		Units: ev.ListingUnits(), Active: ev.IsActive(), CauseEventID: ev.ID, OccurredAt: ev.OccurredAt}
	if s := pt.fold.SKU(ev.SKU); s != nil {
		b.Version = s.Version
	}
	pt.listings = append(pt.listings, b)
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

// writeLog collects one SKU's writes into a batch.
type writeLog struct {
	pb    *partBatch
	sku   string
	arena *arena // partition.states
}

// ValueBuffer lends the arena to ledger.SKU.Persist, which appends each
// value after what it holds.
func (w writeLog) ValueBuffer() *[]byte {
	w.arena.free()
	return &w.arena.last
}

func (w writeLog) PutState(v []byte) { w.pb.writes = append(w.pb.writes, skuWrite{w.sku, 's', 0, v}) }
func (w writeLog) PutPart(seq uint32, v []byte) {
	w.pb.writes = append(w.pb.writes, skuWrite{w.sku, 'p', seq, v})
}
func (w writeLog) DeletePart(seq uint32) {
	w.pb.writes = append(w.pb.writes, skuWrite{w.sku, 'd', seq, nil})
}

// HoldIndex records a change of the store's index of open holds; the
// changelog does not carry it (a restore derives it from the states).
func (w writeLog) HoldIndex(expiresAt int64, holdID string, open bool) {
	w.pb.holds = append(w.pb.holds, holdIndexWrite{w.sku, holdID, expiresAt, open})
}

// holdIndexWrite is one change of the store's index of open holds.
type holdIndexWrite struct {
	sku, hold string
	expiresAt int64
	open      bool
}

// persist computes the persisted form of the batch's changed states once,
// for Pebble and the changelog: what changed, not whole states, and the
// partition's policies when they changed. From here the writes carry the
// batch: the fold's states are clean, and stay in memory until batch seq
// is committed (ledger.Fold.CleanAs).
func (pt *partition) persist(pb *partBatch, seq uint64) {
	pb.holds = make([]holdIndexWrite, 0, pt.holdsHint) // grown once, not by doubling
	_ = pt.fold.Dirty(func(s *ledger.SKU) error {
		s.Persist(writeLog{pb, s.Name, &pt.states})
		return nil
	})
	pt.fold.CleanAs(seq)
	pt.holdsHint = len(pb.holds)
	if pt.partitionChanged {
		pb.policy = pt.fold.P.AppendBinary(nil)
	}
	pb.persisted = true
	pt.unpersisted, pt.partitionChanged = false, false
}

// stage writes the partition's share of a batch (new states, policies if
// changed, next offset) into b.
func (pb *partBatch) stage(b *store.Batch) error {
	for i := range pb.writes {
		x := &pb.writes[i]
		var err error
		switch x.op {
		case 's':
			err = b.PutState(pb.id, x.sku, x.v)
		case 'p':
			err = b.PutPart(pb.id, x.sku, x.seq, x.v)
		case 'd':
			err = b.DeletePart(pb.id, x.sku, x.seq)
		}
		if err != nil {
			return err
		}
	}
	for _, h := range pb.holds {
		if err := b.PutHoldIndex(pb.id, h.sku, h.expiresAt, h.hold, h.open); err != nil {
			return err
		}
	}
	if pb.policy != nil {
		if err := b.PutPartitionBytes(pb.id, pb.policy); err != nil {
			return err
		}
	}
	return b.SetOffset(pb.id, pb.next)
}

// coalesced is one channel/sku's net update over a batch.
type coalesced struct {
	u       ledger.Update
	causeTS time.Time
}

type updateKey struct{ channel, sku, listing string }

// coalesce folds the batch's updates to one per channel/sku (and listing): the last
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
func (pt *partition) coalesce() []coalesced {
	if pt.idx == nil {
		pt.idx = make(map[updateKey]int)
	}
	clear(pt.idx)
	out := pt.ups[:0]
	for i := range pt.fx.Updates {
		u := &pt.fx.Updates[i]
		k := updateKey{u.Channel, u.SKU, u.ListingSKU}
		if j, ok := pt.idx[k]; ok {
			c := &out[j]
			prev, has := c.u.Previous, c.u.HasPrevious
			c.u = *u
			c.u.Previous, c.u.HasPrevious = prev, has
			c.causeTS = pt.causeTS[i]
			continue
		}
		pt.idx[k] = len(out)
		out = append(out, coalesced{u: *u, causeTS: pt.causeTS[i]})
	}
	pt.ups = out
	return out
}
