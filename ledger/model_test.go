package ledger_test

import (
	"flag"
	"fmt"
	"slices"
	"testing"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/schemas"
)

var seedFlag = flag.Uint64("seed", 0, "replay one seed of the randomized model tests")

// TestFoldMatchesModel folds seeded random streams (duplicates, refusals,
// malformed events, policy changes) through the ledger and through the
// independent model of the spec, and compares every update, alert and dead
// letter in order, and every SKU's final state. Every 997 events the whole
// book is encoded and decoded, as a restart from the store would.
func TestFoldMatchesModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if *seedFlag != 0 {
		seeds = []uint64{*seedFlag}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Logf("seed %d (replay with -seed=%d)", seed, seed)
			cfg := gen.Config{Seed: seed, SKUs: 50 + int(seed)*20, DupPct: 4, RefusePct: 4, InvalidPct: 3,
				Zipf: 1.2, PolicyChanges: []int{3000, 7000, 11000}}
			lines := gen.Stream(cfg, 15000)
			compareWithModel(t, lines, 997)
		})
	}
}

func compareWithModel(t *testing.T, lines [][]byte, reopenEvery int) {
	t.Helper()
	m := specmodel.New()
	book := ledger.NewBook(ledger.DefaultConfig())
	var fx ledger.Effects
	var dead []specmodel.DeadLetter
	dups := 0
	for i, line := range lines {
		m.Apply(line)
		var ev ledger.Event
		res := ledger.Result{Outcome: ledger.Refused}
		reason, detail := schemas.ParseEventJSON(line, &ev)
		if reason == ledger.ReasonNone {
			res = book.Apply(&ev, &fx)
		} else {
			res.Reason, res.Detail = reason, detail
		}
		switch res.Outcome {
		case ledger.Refused:
			id := ev.ID
			if reason != ledger.ReasonNone && ev.Has&ledger.FieldEventID == 0 {
				id = ""
			}
			dead = append(dead, specmodel.DeadLetter{EventID: id, Reason: res.Reason.String()})
		case ledger.Duplicate:
			dups++
		}
		if reopenEvery > 0 && i%reopenEvery == reopenEvery-1 {
			book = reopen(t, book)
		}
	}
	// Updates, in order.
	want := m.Updates()
	if len(want) != len(fx.Updates) {
		t.Errorf("updates: got %d, model %d", len(fx.Updates), len(want))
	}
	for i := range min(len(want), len(fx.Updates)) {
		g, w := fx.Updates[i], want[i]
		if g.Channel != w.Channel || g.SKU != w.SKU || int64(g.Available) != w.Available ||
			int64(g.Version) != w.Version || g.CauseEventID != w.CauseEventID ||
			g.HasPrevious != (w.Previous != nil) || (w.Previous != nil && int64(g.Previous) != *w.Previous) {
			t.Fatalf("update %d: got %+v, model %+v (prev %v)", i, g, w, ptr(w.Previous))
		}
	}
	// Alerts, in order.
	wa := m.Alerts()
	if len(wa) != len(fx.Alerts) {
		t.Errorf("alerts: got %d, model %d", len(fx.Alerts), len(wa))
	}
	for i := range min(len(wa), len(fx.Alerts)) {
		if g, w := keys.Alert(&fx.Alerts[i]), keys.ModelAlert(&wa[i]); g != w {
			t.Fatalf("alert %d:\n got   %s\n model %s", i, g, w)
		}
	}
	// Dead letters, in order.
	wd := m.DeadLetters()
	if len(wd) != len(dead) {
		t.Errorf("dead letters: got %d, model %d", len(dead), len(wd))
	}
	for i := range min(len(wd), len(dead)) {
		if dead[i].EventID != wd[i].EventID || dead[i].Reason != wd[i].Reason {
			t.Fatalf("dead letter %d: got %s/%s, model %s/%s (%s)", i, dead[i].EventID, dead[i].Reason, wd[i].EventID, wd[i].Reason, wd[i].Line)
		}
	}
	if dups != m.Duplicates() {
		t.Errorf("duplicates: got %d, model %d", dups, m.Duplicates())
	}
	// Final state of every SKU.
	if got, want := book.Names(), m.SKUs(); !slices.Equal(got, want) {
		t.Fatalf("SKUs: got %d, model %d", len(got), len(want))
	}
	for _, name := range m.SKUs() {
		w, _ := m.SKU(name)
		s := book.SKU(name)
		if int64(s.Version) != w.Version || int64(s.Unassigned) != w.Unassigned {
			t.Fatalf("%s: version/unassigned %d/%d, model %d/%d", name, s.Version, s.Unassigned, w.Version, w.Unassigned)
		}
		named := 0
		for _, l := range s.Locations {
			if !l.Named {
				continue
			}
			named++
			wl, ok := w.Locations[l.Code]
			got := specmodel.LocationView{OnHand: int64(l.OnHand), Reserved: int64(l.Reserved), Unavailable: int64(l.Unavailable),
				Incoming: int64(l.Incoming), SafetyStock: int64(l.SafetyStock), Available: int64(l.Available())}
			if !ok || got != wl {
				t.Fatalf("%s@%s: got %+v, model %+v", name, l.Code, got, wl)
			}
		}
		if named != len(w.Locations) {
			t.Fatalf("%s: %d locations, model %d", name, named, len(w.Locations))
		}
		for c, v := range w.Channels {
			if got, ok := s.PublishedATS(c); !ok || int64(got) != v {
				t.Fatalf("%s/%s: ats %d, model %d", name, c, got, v)
			}
		}
	}
	t.Logf("%d events: %d updates, %d alerts, %d dead letters, %d duplicates", len(lines), len(fx.Updates), len(fx.Alerts), len(dead), dups)
}

// reopen encodes and decodes every state, as a restart from the store does.
func reopen(t *testing.T, b *ledger.Book) *ledger.Book {
	t.Helper()
	nb := ledger.NewBook(b.P.Config)
	if err := ledger.DecodePartition(b.P.AppendBinary(nil), &nb.P); err != nil {
		t.Fatal(err)
	}
	for _, name := range b.Names() {
		s := b.SKU(name)
		ns := new(ledger.SKU)
		if err := ledger.DecodeSKU(name, s.AppendBinary(nil), ns); err != nil {
			t.Fatal(err)
		}
		nb.Put(ns)
	}
	return nb
}

func ptr(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
