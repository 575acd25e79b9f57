package audit

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// TestFoldAfterEviction: a SKU whose state was written back and dropped
// from memory (more hot SKUs than allowed) is read back from the store for
// its next event, even when it was the last SKU the decoder found: every
// receipt of every SKU is on hand at the end.
func TestFoldAfterEviction(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	receipt := func(i int, sku string, qty int) []*kgo.Record { return receiptRecord(t, i, sku, qty) }
	// One hot SKU at most: A, found hot by its second receipt, is dropped
	// when B arrives, then receives again.
	f := newReplayFold(0, 1, st, schemas.NewRegistry(), ledger.DefaultConfig(), 1)
	batches := [][]*kgo.Record{receipt(0, "A", 1), receipt(1, "A", 2), receipt(2, "B", 10), receipt(3, "A", 4), receipt(4, "B", 20)}
	for _, b := range batches {
		if err := f.fold(b); err != nil {
			t.Fatal(err)
		}
	}
	if !f.evicted {
		t.Fatal("no state was evicted: the test does not cover read-back")
	}
	if err := f.finish(int64(len(batches))); err != nil {
		t.Fatal(err)
	}
	for sku, want := range map[string]ledger.Qty{"A": 7, "B": 30} {
		var s ledger.SKU
		found, err := st.SKU(0, sku, &s)
		if err != nil || !found {
			t.Fatalf("%s: found=%v err=%v", sku, found, err)
		}
		if got := s.Location("dc-east").OnHand; got != want {
			t.Errorf("%s: on_hand %d, want %d (the sum of its receipts)", sku, got, want)
		}
	}
}

// TestHotKeys: SKUs whose names fit the inline key and SKUs whose names do
// not are found hot by the decoder (skuName hands back the hot state's own
// name), and states dropped from memory are forgotten by both indexes.
func TestHotKeys(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names := []string{"A", "SKU-000001", "ABCDEFGHIJKLMNOPQRSTUVW" /* 23 */, "ABCDEFGHIJKLMNOPQRSTUVWX" /* 24 */, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"}
	f := newReplayFold(0, 1, st, schemas.NewRegistry(), ledger.DefaultConfig(), 100)
	for i := range 20 {
		if err := f.fold(receiptRecord(t, i, names[i%len(names)], 1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		f.last = nil // not the last one found: the indexes
		if got := f.skuName([]byte(name)); got != name || f.hit == nil || f.hit.s.Name != name {
			t.Fatalf("%q: skuName %q, hot state %v", name, got, f.hit)
		}
		if got := f.hit.s.Location("dc-east").OnHand; got != 4 {
			t.Errorf("%q: on_hand %d, want 4 (its four receipts)", name, got)
		}
	}
	if len(f.short) != 3 {
		t.Errorf("%d SKUs by inline key, want the 3 of up to 23 bytes", len(f.short))
	}
	f.maxHot = 4 // keeps 3
	if err := f.writeBack(true); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f.last, f.hit = nil, nil
		f.skuName([]byte(name))
		if _, hot := f.skus[name]; hot != (f.hit != nil) {
			t.Errorf("%q: hot %v, but skuName found it %v", name, hot, f.hit != nil)
		}
	}
	short := 0
	for name := range f.skus {
		if len(name) < len(hotKey{}) {
			short++
		}
	}
	if len(f.skus) != 3 || len(f.short) != short {
		t.Errorf("after dropping all but 3: %d hot SKUs (%d short), %d by inline key", len(f.skus), short, len(f.short))
	}
	if a, _ := makeHotKey([]byte("A")); a == func() hotKey { k, _ := makeHotKey([]byte("A\x00")); return k }() {
		t.Error(`"A" and "A\x00" have the same inline key`)
	}
}

// receiptRecord is event i, a receipt of qty at dc-east for sku, as a
// one-record batch at offset i.
func receiptRecord(t *testing.T, i int, sku string, qty int) []*kgo.Record {
	t.Helper()
	line := fmt.Sprintf(`{"event_id":"e-%d","type":"receipt","sku":%q,"occurred_at":"2026-11-27T08:00:%02dZ","location":"dc-east","qty":%d}`, i, sku, i, qty)
	var ev ledger.Event
	if r, d := schemas.ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
		t.Fatalf("%s: %s", line, d)
	}
	v, err := schemas.EncodeEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	return []*kgo.Record{{Key: []byte(sku), Value: v, Offset: int64(i)}} // partition 0 of 1: every SKU's
}

// TestSKUGroupsOrder: sorted hands back every value added, each SKU's in
// the order added, SKUs in the order they first came (a stable sort by
// first appearance, computed here directly), for names on both sides of
// the inline-key limit; reset starts over.
func TestSKUGroupsOrder(t *testing.T) {
	g := skuGroups{short: map[hotKey]int32{}, long: map[string]int32{}}
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"A", "B", "SKU-000001", "ABCDEFGHIJKLMNOPQRSTUVW", "ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"}
	for round := range 3 {
		type rec struct{ sku, val string }
		var recs []rec
		for i := range 200 + round*50 {
			recs = append(recs, rec{names[rng.IntN(len(names))], fmt.Sprintf("v%d-%d", round, i)})
		}
		for _, r := range recs {
			g.add([]byte(r.val), []byte(r.sku))
		}
		first := map[string]int{}
		for i, r := range recs {
			if _, ok := first[r.sku]; !ok {
				first[r.sku] = i
			}
		}
		want := slices.Clone(recs)
		slices.SortStableFunc(want, func(a, b rec) int { return first[a.sku] - first[b.sku] })
		got := g.sorted()
		if len(got) != len(want) {
			t.Fatalf("round %d: %d values, want %d", round, len(got), len(want))
		}
		for i := range want {
			if string(got[i]) != want[i].val {
				t.Fatalf("round %d: value %d is %q, want %q", round, i, got[i], want[i].val)
			}
		}
		g.reset()
	}
}
