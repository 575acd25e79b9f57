package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/schemas"
)

// TestRefoldOverAheadStateIsIdempotent is the property the changelog
// restore relies on: when a restored partition state is as of offset a,
// but some SKU states are as of a later offset b (a batch whose changelog
// records were only partly written before a crash), folding again from a
// gives exactly the ledger of a straight fold. Applied events are skipped
// as duplicates by event_id, and a channel policy reaches a SKU once.
func TestRefoldOverAheadStateIsIdempotent(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			lines := gen.Stream(gen.Config{Seed: seed, SKUs: 40, DupPct: 3, RefusePct: 3, InvalidPct: 2,
				PolicyChanges: []int{300, 700, 1100, 1500}}, 2000)
			r := rand.New(rand.NewPCG(seed, 99))
			a := 200 + r.IntN(800)
			b := a + 1 + r.IntN(600)
			fold := func(book *ledger.Book, ls [][]byte) {
				var fx ledger.Effects
				for _, l := range ls {
					var ev ledger.Event
					if reason, _ := schemas.ParseEventJSON(l, &ev); reason == ledger.ReasonNone {
						book.Apply(&ev, &fx)
					}
				}
			}
			straight := ledger.NewBook(ledger.DefaultConfig())
			fold(straight, lines)

			atA := ledger.NewBook(ledger.DefaultConfig())
			fold(atA, lines[:a])
			snapA := reopen(t, atA)
			fold(atA, lines[a:b])
			snapB := atA // as of b

			mixed := snapA
			ahead := 0
			for _, name := range snapB.Names() {
				s := snapB.SKU(name)
				if r.IntN(2) == 0 {
					ns := new(ledger.SKU)
					if err := ledger.DecodeSKU(name, s.AppendBinary(nil), ns); err != nil {
						t.Fatal(err)
					}
					mixed.Put(ns)
					ahead++
				}
			}
			fold(mixed, lines[a:])
			t.Logf("partition as of %d, %d SKUs as of %d", a, ahead, b)
			for _, name := range straight.Names() {
				want, got := straight.SKU(name).AppendBinary(nil), mixed.SKU(name)
				if got == nil || string(got.AppendBinary(nil)) != string(want) {
					t.Fatalf("%s differs from the straight fold", name)
				}
			}
			if mixed.Hot() != straight.Hot() {
				t.Fatalf("%d SKUs, straight fold %d", mixed.Hot(), straight.Hot())
			}
		})
	}
}
