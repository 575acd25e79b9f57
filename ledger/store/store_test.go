package store_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// TestSplitSKUsReadBack folds a skewed stream into two partitions of a
// Pebble store, committing at random boundaries (so best sellers are split
// into parts, get deltas and new bases), and reads every SKU back by each
// path the processor and the audit commands use: a point load, LoadSKUs and
// the canonical SKUs scan, and a multi-get (SKUsNamed) of every name with
// names the store lacks between them. Names are prefixes of one another, so one SKU's
// parts must not be read as another's. Dropping a partition leaves nothing
// of it and nothing of the other missing.
func TestSplitSKUsReadBack(t *testing.T) {
	st, err := store.Open("", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lines := gen.Stream(gen.Config{Seed: 3, SKUs: 40, Zipf: 1.3, DupPct: 2}, 30000)
	books := [2]*ledger.Book{ledger.NewBook(ledger.DefaultConfig()), ledger.NewBook(ledger.DefaultConfig())}
	r := rand.New(rand.NewPCG(3, 3))
	var fx ledger.Effects
	commit := func() {
		b := st.NewBatch()
		for p, book := range books {
			for _, name := range book.Names() {
				s := book.SKU(name)
				if err := b.PutSKU(int32(p), s); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range lines {
		var ev ledger.Event
		if reason, _ := schemas.ParseEventJSON(l, &ev); reason != ledger.ReasonNone {
			continue
		}
		// Partition 0 has each SKU twice, under names that extend one
		// another ("SKU-1" and "SKU-1x"); partition 1 the same SKUs once.
		books[0].Apply(&ev, &fx)
		books[1].Apply(&ev, &fx)
		ev.SKU += "x"
		books[0].Apply(&ev, &fx)
		if r.IntN(300) == 0 || i == len(lines)-1 {
			commit()
		}
	}
	check := func(p int32, book *ledger.Book) {
		t.Helper()
		split := 0
		for _, name := range book.Names() {
			s := book.SKU(name)
			want := string(s.AppendBinary(nil))
			var got ledger.SKU
			found, err := st.SKU(p, name, &got)
			if err != nil || !found {
				t.Fatalf("partition %d SKU %s: found %v, %v", p, name, found, err)
			}
			if string(got.AppendBinary(nil)) != want {
				t.Fatalf("partition %d SKU %s: point load differs", p, name)
			}
			if s.Seen.Len() > 64 {
				split++
			}
		}
		if split == 0 {
			t.Fatalf("partition %d: no SKU large enough to be split", p)
		}
		n := 0
		err := st.SKUs(p, func(name string, val []byte) error {
			n++
			if s := book.SKU(name); s == nil || string(s.AppendBinary(nil)) != string(val) {
				return fmt.Errorf("scan: SKU %s differs", name)
			}
			return nil
		})
		if err != nil || n != book.Hot() {
			t.Fatalf("partition %d: scan saw %d of %d SKUs: %v", p, n, book.Hot(), err)
		}
		n = 0
		err = st.LoadSKUs(p, func(s *ledger.SKU) error {
			n++
			if want := book.SKU(s.Name); want == nil || string(want.AppendBinary(nil)) != string(s.AppendBinary(nil)) {
				return fmt.Errorf("load: SKU %s differs", s.Name)
			}
			return nil
		})
		if err != nil || n != book.Hot() {
			t.Fatalf("partition %d: LoadSKUs saw %d of %d SKUs: %v", p, n, book.Hot(), err)
		}
		var names []string
		for _, name := range book.Names() {
			names = append(names, name, name+"-absent")
		}
		slices.Sort(names)
		n = 0
		err = st.SKUsNamed(p, names, func(s *ledger.SKU) error {
			n++
			if want := book.SKU(s.Name); want == nil || string(want.AppendBinary(nil)) != string(s.AppendBinary(nil)) {
				return fmt.Errorf("multi-get: SKU %s differs", s.Name)
			}
			return nil
		})
		if err != nil || n != book.Hot() {
			t.Fatalf("partition %d: SKUsNamed found %d of %d SKUs: %v", p, n, book.Hot(), err)
		}
	}
	check(0, books[0])
	check(1, books[1])
	if err := st.DropPartition(0); err != nil {
		t.Fatal(err)
	}
	if err := st.SKUs(0, func(name string, _ []byte) error { return fmt.Errorf("SKU %s left after the drop", name) }); err != nil {
		t.Fatal(err)
	}
	check(1, books[1])
}

// TestCommitKeep writes a ledger in pieces through one batch emptied by
// CommitKeep after each piece, the way a replay writes back: every state
// reads back equal, each piece starts empty (no state is written twice or
// lost between pieces), and no piece grows past twice KeepLen (the last
// state of a piece carries it over 3/4 of KeepLen; these states are all
// far smaller than KeepLen).
func TestCommitKeep(t *testing.T) {
	st, err := store.Open("", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	book := ledger.NewBook(ledger.DefaultConfig())
	var fx ledger.Effects
	for _, l := range gen.Stream(gen.Config{Seed: 5, SKUs: 2000, Zipf: 1.1}, 60000) {
		var ev ledger.Event
		if reason, _ := schemas.ParseEventJSON(l, &ev); reason == ledger.ReasonNone {
			book.Apply(&ev, &fx)
			fx.Reset()
		}
	}
	b := st.NewBatch()
	empty := b.Len()
	pieces := 0
	for _, name := range book.Names() {
		s := book.SKU(name)
		if err := b.PutSKU(0, s); err != nil {
			t.Fatal(err)
		}
		if b.Len() > store.KeepLen*3/4 {
			if b.Len() > 2*store.KeepLen {
				t.Fatalf("a piece grew to %d bytes", b.Len())
			}
			if err := b.CommitKeep(); err != nil {
				t.Fatal(err)
			}
			if b.Len() != empty {
				t.Fatalf("after CommitKeep the batch holds %d bytes, want %d (empty)", b.Len(), empty)
			}
			pieces++
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if pieces < 2 {
		t.Fatalf("%d pieces: the ledger is too small to test committing in pieces", pieces)
	}
	for _, name := range book.Names() {
		s := book.SKU(name)
		var got ledger.SKU
		found, err := st.SKU(0, name, &got)
		if err != nil || !found {
			t.Fatalf("SKU %s: found %v, %v", name, found, err)
		}
		if string(got.AppendBinary(nil)) != string(s.AppendBinary(nil)) {
			t.Fatalf("SKU %s reads back different", name)
		}
	}
}

// TestAllocatedBytesIsWhatDuCounts: AllocatedBytes equals du's count of
// the store's directory (blocks allocated, Pebble's preallocated logs
// included), where du is installed.
func TestAllocatedBytesIsWhatDuCounts(t *testing.T) {
	du, err := exec.LookPath("du")
	if err != nil {
		t.Skip("du not found")
	}
	dir := filepath.Join(t.TempDir(), "ledger")
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := st.NewBatch()
	if err := b.PutState(0, "SKU-A", bytes.Repeat([]byte("x"), 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	// Closed, so that Pebble allocates nothing between the two counts (it
	// preallocates a log in the background).
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := st.AllocatedBytes()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(du, "-s", "--block-size=1", dir).Output()
	if err != nil {
		t.Skipf("du -s --block-size=1: %v", err) // not GNU du
	}
	want, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || got < 100_000 {
		t.Fatalf("AllocatedBytes %d, du says %d", got, want)
	}
}
