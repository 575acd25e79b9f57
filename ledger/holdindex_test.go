package ledger_test

import (
	"slices"
	"testing"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// indexLog is a StateWriter and HoldIndexer that records the index writes.
type indexLog struct{ writes []string }

func (l *indexLog) PutState([]byte)        {}
func (l *indexLog) PutPart(uint32, []byte) {}
func (l *indexLog) DeletePart(uint32)      {}
func (l *indexLog) HoldIndex(_ int64, id string, open bool) {
	op := "delete "
	if open {
		op = "put "
	}
	l.writes = append(l.writes, op+id)
}

// TestHoldIndexWritesOnlyWhatPersistsChanged: between two persists of a
// SKU, the index gains the holds open now that it lacks and loses the ones
// it has that closed; a hold refused, or opened and closed in between,
// never reaches it (no key, no tombstone).
func TestHoldIndexWritesOnlyWhatPersistsChanged(t *testing.T) {
	book := ledger.NewBook(ledger.DefaultConfig())
	var fx ledger.Effects
	fold := func(lines ...string) {
		t.Helper()
		for _, l := range lines {
			var ev ledger.Event
			if r, d := schemas.ParseEventJSON([]byte(l), &ev); r != ledger.ReasonNone {
				t.Fatalf("%s: %s", r, d)
			}
			if res := book.Apply(&ev, &fx); res.Outcome != ledger.Applied {
				t.Fatalf("%s: %+v", l, res)
			}
		}
	}
	persist := func(want ...string) {
		t.Helper()
		var w indexLog
		book.Fold.SKU("S").Persist(&w)
		slices.Sort(w.writes)
		if !slices.Equal(w.writes, want) {
			t.Fatalf("index writes %q, want %q", w.writes, want)
		}
	}
	hold := func(id string, qty int) string {
		return `{"event_id":"h-` + id + `","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"S","hold_id":"` + id +
			`","channel":"web","qty":` + string(rune('0'+qty)) + `,"expires_at":"2026-11-27T10:15:00Z"}`
	}
	release := func(id string) string {
		return `{"event_id":"x-` + id + `","type":"hold_released","occurred_at":"2026-11-27T10:01:00Z","sku":"S","hold_id":"` + id + `"}`
	}
	fold(`{"event_id":"r","type":"receipt","occurred_at":"2026-11-27T09:00:00Z","sku":"S","location":"dc","qty":5}`,
		hold("A", 2), hold("B", 9), hold("C", 1), release("C"))
	persist("put A") // B refused, C opened and released: nothing
	fold(release("A"), hold("D", 1))
	persist("delete A", "put D")
	persist()

	// A state read back: its open holds are in the index.
	var back ledger.SKU
	if err := ledger.DecodeSKU("S", book.Fold.SKU("S").AppendBinary(nil), &back); err != nil {
		t.Fatal(err)
	}
	book.Fold.Put(&back)
	fold(release("D"))
	persist("delete D")
}
