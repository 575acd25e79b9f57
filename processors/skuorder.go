package processors

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
)

// Order is the order in which a driver hands a batch's records to the
// fold (RecordFold.Each).
type Order uint8

const (
	// OffsetOrder folds the records as they lie in the partition.
	OffsetOrder Order = iota
	// SKUOrder folds them SKU by SKU: each SKU's records in offset order,
	// SKUs in the order they first appear. The ledger of a partition is the
	// same whatever the order between SKUs, as long as each SKU's events
	// keep theirs and a channel_policy (which reaches every SKU) stays
	// between what came before and after it: so a record whose sku PeekSKU
	// cannot tell (a channel_policy, an event of a schema the registry does
	// not hold yet, or one the decode will refuse), or that sits where its
	// sku does not belong, folds in its place, after the groups before it.
	// A best seller's events then follow each other, and its state (the id
	// window, the record maps) stays in the caches for all of them instead
	// of being fetched again for each. Outputs keep their order per key.
	SKUOrder
)

// skuGroups orders records by SKU (SKUOrder).
type skuGroups struct {
	short map[ledger.NameKey]int32 // group by sku, for names that fit a NameKey
	long  map[string]int32         // group by sku, for the others
	count []int32                  // per group: its records; then where its next one goes in order
	bytes []int                    // per group: its values' bytes; then where its next one goes in arena
	group []int32                  // per record grouped: its group
	recs  []*kgo.Record            // the records grouped, in offset order
	in    [][]byte                 // their values, in offset order
	arena []byte                   // the values, copied group after group (sorted)
	order []*kgo.Record            // the records, in group order
	vals  [][]byte                 // per order: its value, in arena
}

func newSKUGroups() *skuGroups {
	return &skuGroups{short: make(map[ledger.NameKey]int32), long: make(map[string]int32)}
}

// add appends r, of SKU sku, to its group.
func (g *skuGroups) add(r *kgo.Record, sku []byte) {
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
	g.bytes[gi] += len(r.Value)
	g.group = append(g.group, gi)
	g.recs = append(g.recs, r)
	g.in = append(g.in, r.Value)
}

// sorted returns the records added since the last reset, group by group
// (a counting sort), with their values copied one after the other: the
// fold then reads them in sequence. Reading the records' own values in
// group order was a cache miss per event (a fetch's records lie in offset
// order).
func (g *skuGroups) sorted() ([]*kgo.Record, [][]byte) {
	var n int32
	var size int
	for i := range g.count {
		n, g.count[i] = n+g.count[i], n
		size, g.bytes[i] = size+g.bytes[i], size
	}
	g.arena = slices.Grow(g.arena[:0], size)[:size]
	g.order = slices.Grow(g.order[:0], len(g.recs))[:len(g.recs)]
	g.vals = slices.Grow(g.vals[:0], len(g.recs))[:len(g.recs)]
	for i, r := range g.recs {
		gi := g.group[i]
		at, j := g.bytes[gi], g.count[gi]
		end := at + copy(g.arena[at:], g.in[i])
		g.order[j], g.vals[j] = r, g.arena[at:end:end]
		g.bytes[gi], g.count[gi] = end, j+1
	}
	return g.order, g.vals
}

// reset empties the groups.
func (g *skuGroups) reset() {
	clear(g.short)
	clear(g.long)
	clear(g.recs) // the records are the caller's
	clear(g.in)
	clear(g.order)
	g.count, g.bytes, g.group, g.recs, g.in = g.count[:0], g.bytes[:0], g.group[:0], g.recs[:0], g.in[:0]
}

// Each hands the records of a batch (in offset order) to fold in the fold's
// Order, with the value to decode (the record's own, or a copy of it) and
// whether the record was found placed (RecordFold.ApplyRecord's placed).
// It stops at fold's first error.
//
// First, when the fold is cold, the states of the batch's SKUs that are
// not hot are loaded in one pass (ledger.Fold.Prefetch), so that no event
// waits for a read of its own. An error is the loader's, before any
// record was folded.
func (rf *RecordFold) Each(recs []*kgo.Record, fold func(r *kgo.Record, value []byte, placed bool) error) error {
	if err := rf.prefetch(recs); err != nil {
		return err
	}
	if rf.Order == OffsetOrder {
		for _, r := range recs {
			if err := fold(r, r.Value, false); err != nil {
				return err
			}
		}
		return nil
	}
	if rf.groups == nil {
		rf.groups = newSKUGroups()
	}
	g := rf.groups
	defer g.reset()
	flush := func() error {
		order, vals := g.sorted()
		for i, r := range order {
			if err := fold(r, vals[i], true); err != nil {
				return err
			}
		}
		g.reset()
		return nil
	}
	for _, r := range recs {
		if sku, ok := rf.PeekSKU(r.Value); ok && rf.Placed(r.Key, sku) {
			g.add(r, sku)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if err := fold(r, r.Value, false); err != nil {
			return err
		}
	}
	return flush()
}

// prefetch loads the states of recs' SKUs that are not hot (a cold
// fold's).
func (rf *RecordFold) prefetch(recs []*kgo.Record) error {
	if !rf.Cold {
		return nil
	}
	names := rf.names[:0]
	for _, r := range recs {
		if sku, ok := rf.PeekSKU(r.Value); ok {
			names = append(names, sku)
		}
	}
	err := rf.Prefetch(names)
	clear(names) // the records' bytes
	rf.names = names[:0]
	return err
}
