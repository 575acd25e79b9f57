package ledger

import (
	"container/heap"
	"strings"
)

// The partition's open holds by expiry, so a clock event finds the holds
// it expires without looking at every SKU. Entries are hints: a hold
// released or converted early leaves its entry behind, and the SKU's own
// state decides (Partition.Expire checks the hold is open and due).

// HoldLoader is a Loader that can list the open holds of the states it
// holds without reading every state.
type HoldLoader interface {
	Loader
	// LoadHolds calls fn with every open hold of the states the loader holds.
	LoadHolds(fn func(sku, holdID string, expiresAt int64) error) error
}

type expiryEntry struct {
	at        int64
	sku, hold string
}

// expiryHeap is a min-heap in the order the spec expires holds:
// (expires_at, sku, hold_id).
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	a, b := &h[i], &h[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if c := strings.Compare(a.sku, b.sku); c != 0 {
		return c < 0
	}
	return a.hold < b.hold
}
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)   { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiryEntry{}
	*h = old[:len(old)-1]
	return e
}

func (f *Fold) pushHold(sku, hold string, at int64) {
	heap.Push(&f.expiry, expiryEntry{at: at, sku: sku, hold: hold})
}

// pushOpenHolds adds s's open holds.
func (f *Fold) pushOpenHolds(s *SKU) {
	for id, h := range s.Holds {
		if !h.Closed {
			f.pushHold(s.Name, id, h.ExpiresAt)
		}
	}
}

// noteHolds adds the holds an event just opened (its hold results from h0).
func (f *Fold) noteHolds(fx *Effects, h0 int) {
	for i := h0; i < len(fx.HoldResults); i++ {
		r := &fx.HoldResults[i]
		if r.Status == HoldGranted || r.Status == HoldPartial {
			f.pushHold(r.SKU, r.HoldID, r.ExpiresAt)
		}
	}
}

// loadExpiry fills the index with the open holds of the states the loader
// holds, once: from its own index when it keeps one (HoldLoader), else by
// reading every state. Hot states may be ahead of the loader's, so their
// open holds are added too.
func (f *Fold) loadExpiry() error {
	if f.expiryKnown {
		return nil
	}
	var err error
	if hl, ok := f.load.(HoldLoader); ok {
		err = hl.LoadHolds(func(sku, hold string, at int64) error {
			f.pushHold(sku, hold, at)
			return nil
		})
	} else {
		err = f.load.LoadSKUs(func(s *SKU) error {
			f.pushOpenHolds(s)
			return nil
		})
	}
	if err != nil {
		return err
	}
	for _, h := range f.hot {
		f.pushOpenHolds(&h.s)
	}
	f.expiryKnown = true
	return nil
}

// applyClock applies a clock event: the partition's clock moves, and every
// open hold it has passed expires, each SKU's together, the SKUs in the
// order of their first expiring hold by (expires_at, sku, hold_id).
func (f *Fold) applyClock(ev *Event, fx *Effects) (Result, error) {
	if r, d := Validate(ev); r != ReasonNone {
		return refuse(r, d), nil
	}
	f.P.ApplyClock(ev)
	if err := f.loadExpiry(); err != nil {
		return Result{}, err
	}
	var due []*hotState // each SKU once, in the order of its first expiring hold
	ids := make(map[*hotState][]string)
	for len(f.expiry) > 0 && f.expiry[0].at <= f.P.Clock {
		e := heap.Pop(&f.expiry).(expiryEntry)
		h, hot, err := f.state(e.sku)
		if err != nil {
			return Result{}, err
		}
		if hold, ok := h.s.Holds[e.hold]; !ok || hold.Closed || hold.ExpiresAt != e.at {
			continue // released or converted before it expired
		}
		if !hot {
			f.put(h)
		}
		if _, ok := ids[h]; !ok {
			due = append(due, h)
		}
		ids[h] = append(ids[h], e.hold)
	}
	for _, h := range due {
		if f.P.Expire(&h.s, ids[h], ev, fx) {
			f.markDirty(h)
		}
	}
	return applied, nil
}
