package audit

import (
	"fmt"
	"path/filepath"
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
	if !f.lf.Cold {
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
