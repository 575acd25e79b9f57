package audit_test

import (
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors/audit"
)

// TestDiffFindsCorruptLiveState: Diff reports a live state that does not
// decode as a difference of that SKU, beside the ordinary ones, and an
// operating error of a store as an error, not as a difference.
func TestDiffFindsCorruptLiveState(t *testing.T) {
	open := func() *store.Store {
		st, err := store.Open("", store.Options{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	put := func(st *store.Store, skus ...*ledger.SKU) {
		b := st.NewBatch()
		for _, s := range skus {
			if err := b.PutSKU(0, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	live, replay := open(), open()
	defer replay.Close()
	put(live, &ledger.SKU{Name: "A", Version: 2}, &ledger.SKU{Name: "SAME", Version: 1})
	put(replay, &ledger.SKU{Name: "A", Version: 3}, &ledger.SKU{Name: "B", Version: 1}, &ledger.SKU{Name: "BAD", Version: 1}, &ledger.SKU{Name: "SAME", Version: 1})
	b := live.NewBatch()
	if err := b.PutState(0, "BAD", []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}

	diffs, total, _, err := audit.Diff(live, replay, 0, ledger.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range diffs {
		got = append(got, d.String())
	}
	if total != 3 || len(diffs) != 3 || !strings.HasPrefix(got[0], "A: version: live 2, replay 3") ||
		!strings.HasPrefix(got[1], "B: only in replay") || !strings.HasPrefix(got[2], "BAD: live state unreadable") {
		t.Fatalf("%d differ:\n%s", total, strings.Join(got, "\n"))
	}

	live.Close()
	if _, _, _, err := audit.Diff(live, replay, 0, ledger.DefaultConfig(), 0); err == nil {
		t.Fatal("Diff of a closed live store: no error")
	}
}
