package store_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// holdLoader reads a store partition for a fold and counts the full scans.
type holdLoader struct {
	st    *store.Store
	scans int
}

func (l *holdLoader) LoadSKU(name string, s *ledger.SKU) (bool, error) { return l.st.SKU(0, name, s) }
func (l *holdLoader) LoadSKUs(fn func(*ledger.SKU) error) error {
	l.scans++
	return l.st.LoadSKUs(0, fn)
}
func (l *holdLoader) LoadHolds(fn func(sku, hold string, at int64) error) error {
	return l.st.LoadHolds(0, fn)
}

// TestHoldIndexExpiresWithoutScanning folds holds into a store, then a new
// fold that starts cold expires them at its first clock event from the
// store's index alone: the same hold results as a fold that never left
// memory, and not one read of every state.
func TestHoldIndexExpiresWithoutScanning(t *testing.T) {
	st, err := store.Open("", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var lines []string
	for i := range 300 {
		sku := fmt.Sprintf("SKU-%03d", i)
		lines = append(lines,
			fmt.Sprintf(`{"event_id":"r%d","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":%q,"location":"dc","qty":10}`, i, sku),
			fmt.Sprintf(`{"event_id":"h%d","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":%q,"hold_id":"A","channel":"web","qty":2,"expires_at":"2026-11-27T10:%02d:00Z"}`, i, sku, 5+i%50),
			fmt.Sprintf(`{"event_id":"g%d","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":%q,"hold_id":"B","channel":"web","qty":1,"expires_at":"2026-11-27T11:00:00Z"}`, i, sku))
		if i%3 == 0 { // released early: its index entry must go
			lines = append(lines, fmt.Sprintf(`{"event_id":"x%d","type":"hold_released","occurred_at":"2026-11-27T10:01:00Z","sku":%q,"hold_id":"A"}`, i, sku))
		}
	}
	clock := `{"event_id":"clock/0/1","type":"clock","occurred_at":"2026-11-27T10:40:00Z"}`

	mem := ledger.NewBook(ledger.DefaultConfig())
	first := ledger.NewFold(ledger.DefaultConfig(), &holdLoader{st: st})
	var fx ledger.Effects
	for _, l := range lines {
		apply(t, mem.Fold, l, &fx)
		apply(t, first, l, &fx)
	}
	b := st.NewBatch()
	if err := first.Dirty(func(s *ledger.SKU) error { return b.PutSKU(0, s) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	open := 0
	if err := st.LoadHolds(0, func(string, string, int64) error { open++; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := 300*2 - 100; open != want {
		t.Errorf("the store indexes %d open holds, want %d", open, want)
	}

	var want, got ledger.Effects
	apply(t, mem.Fold, clock, &want)
	l := &holdLoader{st: st}
	cold := ledger.NewFold(ledger.DefaultConfig(), l)
	apply(t, cold, clock, &got)
	if l.scans != 0 {
		t.Errorf("the cold fold read every state %d times", l.scans)
	}
	if len(want.HoldResults) == 0 {
		t.Fatal("the clock expired nothing in memory")
	}
	render := func(rs []ledger.HoldResult) []string {
		var out []string
		for i := range rs {
			out = append(out, keys.HoldResult(&rs[i]))
		}
		return out
	}
	if g, w := render(got.HoldResults), render(want.HoldResults); !slices.Equal(g, w) {
		t.Errorf("cold fold expired %d holds, in memory %d; first %v / %v", len(g), len(w), g[:min(1, len(g))], w[:min(1, len(w))])
	}
}

func apply(t *testing.T, f *ledger.Fold, line string, fx *ledger.Effects) {
	t.Helper()
	var ev ledger.Event
	if r, d := schemas.ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
		t.Fatalf("%s: %s %s", line, r, d)
	}
	res, err := f.Apply(&ev, fx)
	if err != nil || res.Outcome != ledger.Applied {
		t.Fatalf("%s: %+v %v", line, res, err)
	}
}
