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

// TestFoldMatchesModelPart2 is TestFoldMatchesModel with part 2's mix:
// holds (released, converted, expiring on clock events, refused as
// expired), listings, overrides, transfers closed short, lead times and
// sales dated days apart.
func TestFoldMatchesModelPart2(t *testing.T) {
	seeds := []uint64{11, 12, 13, 14, 15, 16, 17, 18}
	if *seedFlag != 0 {
		seeds = []uint64{*seedFlag}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Logf("seed %d (replay with -seed=%d)", seed, seed)
			cfg := gen.Config{Seed: seed, SKUs: 30 + int(seed)*5, DupPct: 4, RefusePct: 4, InvalidPct: 3,
				Zipf: 1.2, PolicyChanges: []int{3000, 7000, 11000}, Part2: true, ClockEvery: 40}
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
	compareOutputs(t, m, &fx, dead, dups)
	compareFinal(t, m, book)
	t.Logf("%d events: %d updates, %d alerts, %d hold results, %d dead letters, %d duplicates",
		len(lines), len(fx.Updates), len(fx.Alerts), len(fx.HoldResults), len(dead), dups)
}

// compareOutputs compares every update, alert, hold result and dead letter
// with the model's, in order.
func compareOutputs(t *testing.T, m *specmodel.Model, fx *ledger.Effects, dead []specmodel.DeadLetter, dups int) {
	t.Helper()
	want := m.Updates()
	if len(want) != len(fx.Updates) {
		t.Errorf("updates: got %d, model %d", len(fx.Updates), len(want))
	}
	for i := range min(len(want), len(fx.Updates)) {
		g, w := fx.Updates[i], want[i]
		if g.Channel != w.Channel || g.SKU != w.SKU || g.ListingSKU != w.ListingSKU || int64(g.Available) != w.Available ||
			int64(g.Version) != w.Version || g.CauseEventID != w.CauseEventID ||
			g.HasPrevious != (w.Previous != nil) || (w.Previous != nil && int64(g.Previous) != *w.Previous) {
			t.Fatalf("update %d: got %+v, model %+v (prev %v)", i, g, w, ptr(w.Previous))
		}
	}
	wa := m.Alerts()
	if len(wa) != len(fx.Alerts) {
		t.Errorf("alerts: got %d, model %d", len(fx.Alerts), len(wa))
	}
	for i := range min(len(wa), len(fx.Alerts)) {
		if g, w := keys.Alert(&fx.Alerts[i]), keys.ModelAlert(&wa[i]); g != w {
			t.Fatalf("alert %d:\n got   %s\n model %s", i, g, w)
		}
	}
	wh := m.HoldResults()
	if len(wh) != len(fx.HoldResults) {
		t.Errorf("hold results: got %d, model %d", len(fx.HoldResults), len(wh))
	}
	for i := range min(len(wh), len(fx.HoldResults)) {
		if g, w := keys.HoldResult(&fx.HoldResults[i]), keys.ModelHoldResult(&wh[i]); g != w {
			t.Fatalf("hold result %d:\n got   %s\n model %s", i, g, w)
		}
	}
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
}

// compareFinal compares every SKU's final state with the model's.
func compareFinal(t *testing.T, m *specmodel.Model, book *ledger.Book) {
	t.Helper()
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
		if d := diffPart2(&book.P, s, &w); d != "" {
			t.Fatalf("%s: %s", name, d)
		}
	}
}

// diffPart2 names the first difference between s and the model's view of
// it in channels, listings, unassigned by channel, open holds and sales.
func diffPart2(p *ledger.Partition, s *ledger.SKU, w *specmodel.SKUView) string {
	if len(s.Published) != len(w.Channels) {
		return fmt.Sprintf("%d channels %v, model %v", len(s.Published), s.Published, w.Channels)
	}
	for c, v := range w.Channels {
		if got, ok := s.PublishedATS(c); !ok || int64(got) != v {
			return fmt.Sprintf("%s: ats %d, model %d", c, got, v)
		}
	}
	if d := keys.DiffPart2(s, w); d != "" {
		return d
	}
	if int64(p.Sold28(s)) != w.Sold28 {
		return fmt.Sprintf("sold28 %d, model %d", p.Sold28(s), w.Sold28)
	}
	return ""
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
