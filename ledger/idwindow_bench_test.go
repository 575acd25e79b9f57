package ledger

import (
	"fmt"
	"testing"
)

// BenchmarkIDWindowChurn: a best seller's window at its 10,000-id bound,
// one check and one add (evicting the oldest) per event.
func BenchmarkIDWindowChurn(b *testing.B) {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("evt-%016x", i*7919)
	}
	var w IDWindow
	for i := range 10000 {
		w.Add(ids[i], int64(i), 10000, 0)
	}
	b.ResetTimer()
	for i := range b.N {
		id := ids[(10000+i)&(len(ids)-1)]
		if !w.Contains(id) {
			w.Add(id, int64(i), 10000, 0)
		}
	}
}

// BenchmarkIDWindowLongTail: the long tail of a large catalog, many SKUs
// with a few ids each, their ids allocated far apart (one event at a time
// across every SKU), one check and one add per event on a random SKU.
func BenchmarkIDWindowLongTail(b *testing.B) {
	benchWindows(b, 100_000, 8) // stays scanned: 8 ids each
}

// BenchmarkIDWindowBestSellers: 100 best sellers' windows at their
// 10,000-id bound, far more than the caches hold (tables and ids, about
// 50 MB), one check and one add (evicting the oldest) per event on a
// random one: the cost is the table's cache misses.
func BenchmarkIDWindowBestSellers(b *testing.B) {
	benchWindows(b, 100, 10_000)
}

// benchWindows fills skus windows with perSKU ids each, one id at a time
// across every window (so a window's ids lie far apart in memory), then
// measures a check and an add (lookup's probe reused, the oldest evicted)
// of a new id on a random window per op.
func benchWindows(b *testing.B, skus, perSKU int) {
	ws := make([]IDWindow, skus)
	n := 0
	for range perSKU {
		for i := range ws {
			ws[i].Add(fmt.Sprintf("evt-%016x", n), int64(n), perSKU, 0)
			n++
		}
	}
	fresh := make([]string, 1<<16)
	for i := range fresh {
		fresh[i] = fmt.Sprintf("evt-%016x", n+i)
	}
	x := uint64(1)
	b.ResetTimer()
	for i := range b.N {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		w := &ws[x%uint64(skus)]
		id := fresh[i&(len(fresh)-1)]
		if pr, seen := w.lookup(id); !seen {
			w.add(id, int64(n+i), pr, perSKU, 0)
		}
	}
}
