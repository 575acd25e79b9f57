package audit

import (
	"slices"

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
// (skuGroups).
type replayFold struct {
	part   int32
	st     *store.Store
	lf     *processors.RecordFold
	maxHot int
	fx     ledger.Effects
	counts Counts
	next   int64
	groups skuGroups
	folded int // events folded: effects are counted every 64
}

// skuGroups orders a batch's records for the fold by SKU: each SKU's
// records in offset order, SKUs in the order they first appear. The
// ledger of a partition is the same whatever the order between SKUs, as
// long as each SKU's events keep theirs and a channel_policy (which
// reaches every SKU) stays between what came before and after it: so a
// record whose sku PeekSKU cannot tell (a channel_policy, an event of a
// schema the registry does not hold yet, or one the decode will refuse)
// folds in its place, after the groups before it.
// A best seller's events then follow each other, and its state (the id
// window, the record maps) stays in the caches for all of them instead of
// being fetched again for each; the counts (dead letters, alerts) are sums
// and do not depend on the order.
type skuGroups struct {
	short map[ledger.NameKey]int32 // group by sku, for names that fit a NameKey
	long  map[string]int32         // group by sku, for the others
	count []int32                  // per group: its records; then where its next one goes in order
	bytes []int                    // per group: its values' bytes; then where its next one goes in arena
	group []int32                  // per record grouped: its group
	vals  [][]byte                 // per record grouped: its value, in offset order
	arena []byte                   // the values, copied group after group (sorted)
	order [][]byte                 // the values in arena, in group order
}

// add appends a record's value, of SKU sku, to its group.
func (g *skuGroups) add(value, sku []byte) {
	gi, found := ledger.LookupName(g.short, g.long, sku)
	if !found {
		gi = int32(len(g.count))
		if k, ok := ledger.MakeNameKey(sku); ok {
			g.short[k] = gi
		} else {
			g.long[string(sku)] = gi
		}
		g.count = append(g.count, 0)
		g.bytes = append(g.bytes, 0)
	}
	g.count[gi]++
	g.bytes[gi] += len(value)
	g.group = append(g.group, gi)
	g.vals = append(g.vals, value)
}

// sorted returns the values added since the last reset, group by group,
// copied one after the other (a counting sort): the fold then reads them
// in sequence. Reading the records' own bytes in group order was a cache
// miss per event (the records of a fetch lie in offset order).
func (g *skuGroups) sorted() [][]byte {
	var n int32
	var size int
	for i := range g.count {
		n, g.count[i] = n+g.count[i], n
		size, g.bytes[i] = size+g.bytes[i], size
	}
	g.arena = slices.Grow(g.arena[:0], size)[:size]
	g.order = slices.Grow(g.order[:0], len(g.vals))[:len(g.vals)]
	for i, v := range g.vals {
		gi := g.group[i]
		at := g.bytes[gi]
		end := at + copy(g.arena[at:], v)
		g.order[g.count[gi]] = g.arena[at:end:end]
		g.bytes[gi], g.count[gi] = end, g.count[gi]+1
	}
	return g.order
}

// reset empties the groups.
func (g *skuGroups) reset() {
	clear(g.short)
	clear(g.long)
	clear(g.vals) // the values are the read's (fetchPool)
	g.count, g.bytes, g.group, g.vals, g.order = g.count[:0], g.bytes[:0], g.group[:0], g.vals[:0], g.order[:0]
}

func newReplayFold(part, parts int32, st *store.Store, reg *schemas.Registry, cfg ledger.Config, maxHot int) *replayFold {
	f := &replayFold{
		part: part, st: st, lf: processors.NewRecordFold(ledger.NewFold(cfg, processors.StoreLoader{Store: st, Part: part}), reg, part, parts),
		maxHot: max(1, maxHot), counts: newCounts(),
		groups: skuGroups{short: make(map[ledger.NameKey]int32), long: make(map[string]int32)},
	}
	// A replay keeps no channel updates: publishing is settled once per
	// state, when it is written back (writeBack).
	f.lf.P.DeferPublish = true
	f.lf.Cold = false // the scratch store starts empty
	return f
}

func (f *replayFold) fold(recs []*kgo.Record) error {
	for _, r := range recs {
		if sku, ok := f.lf.PeekSKU(r.Value); ok && f.lf.Placed(r.Key, sku) {
			f.groups.add(r.Value, sku)
			continue
		}
		if err := f.foldGroups(); err != nil {
			return err
		}
		if err := f.foldOne(r.Value, r.Key, false); err != nil {
			return err
		}
	}
	if err := f.foldGroups(); err != nil {
		return err
	}
	f.counts.Records += int64(len(recs))
	f.countEffects()
	if f.lf.Hot() > f.maxHot {
		return f.writeBack(true)
	}
	return nil
}

// foldGroups folds the grouped records, group by group, and empties the
// groups.
func (f *replayFold) foldGroups() error {
	g := &f.groups
	for _, v := range g.sorted() {
		if err := f.foldOne(v, nil, true); err != nil {
			return err
		}
	}
	g.reset()
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
