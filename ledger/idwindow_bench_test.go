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
