package processors

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSKUGroupsOrder: sorted hands back every record added, each SKU's in
// the order added, SKUs in the order they first came (a stable sort by
// first appearance, computed here directly), each with a copy of its
// value, for names on both sides of the inline-key limit; reset starts
// over.
func TestSKUGroupsOrder(t *testing.T) {
	g := newSKUGroups()
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"A", "B", "SKU-000001", "ABCDEFGHIJKLMNOPQRSTUVW", "ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"}
	for round := range 3 {
		var recs []*kgo.Record
		for i := range 200 + round*50 {
			sku := names[rng.IntN(len(names))]
			recs = append(recs, &kgo.Record{Key: []byte(sku), Value: fmt.Appendf(nil, "v%d-%d", round, i)})
		}
		for _, r := range recs {
			g.add(r, r.Key)
		}
		first := map[string]int{}
		for i, r := range recs {
			if _, ok := first[string(r.Key)]; !ok {
				first[string(r.Key)] = i
			}
		}
		want := slices.Clone(recs)
		slices.SortStableFunc(want, func(a, b *kgo.Record) int { return first[string(a.Key)] - first[string(b.Key)] })
		got, vals := g.sorted()
		if len(got) != len(want) || len(vals) != len(want) {
			t.Fatalf("round %d: %d records and %d values, want %d", round, len(got), len(vals), len(want))
		}
		for i := range want {
			if got[i] != want[i] || string(vals[i]) != string(want[i].Value) {
				t.Fatalf("round %d: record %d is %q (value %q), want %q", round, i, got[i].Value, vals[i], want[i].Value)
			}
		}
		g.reset()
	}
}
