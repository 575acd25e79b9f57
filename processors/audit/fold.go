package audit

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// Counts are what a fold did with its records.
type Counts struct {
	Records    int64
	Applied    int64
	Duplicates int64
	Dead       map[string]int64 // dead letters by reason
	Alerts     map[string]int64 // alerts by kind
}

func newCounts() Counts { return Counts{Dead: map[string]int64{}, Alerts: map[string]int64{}} }

func (c *Counts) add(o Counts) {
	c.Records += o.Records
	c.Applied += o.Applied
	c.Duplicates += o.Duplicates
	for k, v := range o.Dead {
		c.Dead[k] += v
	}
	for k, v := range o.Alerts {
		c.Alerts[k] += v
	}
}

// replayFold folds one partition into a scratch store the way the
// processor does (ledger.Fold: decode, validate, apply; a channel_policy
// reaches every known SKU in SKU order), keeping states in memory and
// writing them back in batches: a state is read from the store only after
// it was evicted, never once per event. Each batch is folded SKU by SKU
// (processors.SKUOrder).
type replayFold struct {
	part   int32
	st     *store.Store
	lf     *processors.RecordFold
	maxHot int
	fx     ledger.Effects
	counts Counts
	next   int64
	folded int // events folded: effects are counted every 64
}

func newReplayFold(part, parts int32, st *store.Store, reg *schemas.Registry, cfg ledger.Config, maxHot int) *replayFold {
	f := &replayFold{
		part: part, st: st, lf: processors.NewRecordFold(ledger.NewFold(cfg, processors.StoreLoader{Store: st, Part: part}), reg, part, parts),
		maxHot: max(1, maxHot), counts: newCounts(),
	}
	f.lf.Order = processors.SKUOrder
	// A replay keeps no channel updates: publishing is settled once per
	// state, when it is written back (writeBack).
	f.lf.P.DeferPublish = true
	f.lf.Cold = false // the scratch store starts empty
	return f
}

func (f *replayFold) fold(recs []*kgo.Record) error {
	err := f.lf.Each(recs, func(r *kgo.Record, value []byte, placed bool) error {
		if placed {
			// Its key was checked: reading the record again, in SKU
			// order, would cost a cache miss per event.
			return f.foldOne(value, nil, true)
		}
		return f.foldOne(value, r.Key, false)
	})
	if err != nil {
		return err
	}
	f.counts.Records += int64(len(recs))
	f.countEffects()
	if f.lf.Hot() > f.maxHot {
		return f.writeBack(true)
	}
	return nil
}

// foldOne folds one record, keyed key, checking its placement unless
// placed (the caller found it placed).
func (f *replayFold) foldOne(value, key []byte, placed bool) error {
	res, err := f.lf.FoldRecord(value, key, placed, &f.fx)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case ledger.Applied:
		f.counts.Applied++
	case ledger.Duplicate:
		f.counts.Duplicates++
	case ledger.Refused:
		f.counts.Dead[res.Reason.String()]++
	}
	if f.folded++; f.folded%64 == 0 { // a replay keeps counts, not outputs: keep them small
		f.countEffects()
	}
	return nil
}

// countEffects counts the alerts folded since the last call and drops the
// effects.
func (f *replayFold) countEffects() {
	for i := range f.fx.Alerts {
		f.counts.Alerts[f.fx.Alerts[i].Kind.String()]++
	}
	f.fx.Reset()
}

// writeBack writes every changed state to the store, settled (the fold
// defers publishing); with evict, it then drops states until a quarter of
// the budget is free.
func (f *replayFold) writeBack(evict bool) error {
	b := f.st.NewBatch()
	defer b.Close()
	err := f.lf.Dirty(func(s *ledger.SKU) error {
		f.lf.P.SettlePublished(s)
		if err := b.PutSKU(f.part, s); err != nil {
			return err
		}
		if b.Len() > store.KeepLen*3/4 {
			return b.CommitKeep()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.Commit(); err != nil {
		return err
	}
	f.lf.Clean()
	if evict {
		f.lf.Evict(f.maxHot)
	}
	return nil
}

// finish writes the partition's remaining states, its policies and its
// next offset, so the scratch store holds what the live store would at
// that offset.
func (f *replayFold) finish(next int64) error {
	f.next = next
	if err := f.writeBack(false); err != nil {
		return err
	}
	b := f.st.NewBatch()
	defer b.Close()
	if err := b.PutPartition(f.part, &f.lf.P); err != nil {
		return err
	}
	if err := b.SetOffset(f.part, next); err != nil {
		return err
	}
	return b.Commit()
}
