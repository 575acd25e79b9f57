package ledger_test

import (
	"bytes"
	"testing"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/schemas"
)

// TestDeferPublishSettlesToEager folds seeded streams with policy changes
// twice: publishing eagerly, and with DeferPublish, settling every SKU at
// checkpoints (then folding on from the settled states). At each
// checkpoint every SKU's encoding, Published included, must be the eager
// fold's, and the deferred fold must emit no update.
func TestDeferPublishSettlesToEager(t *testing.T) {
	for _, seed := range []uint64{11, 12, 13} {
		cfg := gen.Config{Seed: seed, SKUs: 40, DupPct: 4, RefusePct: 4, InvalidPct: 2, Zipf: 1.2,
			PolicyChanges: []int{500, 900, 901, 2500, 4000}}
		eager, deferred := ledger.NewBook(ledger.DefaultConfig()), ledger.NewBook(ledger.DefaultConfig())
		deferred.P.DeferPublish = true
		var fxE, fxD ledger.Effects
		var ev ledger.Event
		checks := 0
		for i, line := range gen.Stream(cfg, 6000) {
			ev.Reset()
			if r, _ := schemas.ParseEventJSON(line, &ev); r != ledger.ReasonNone {
				continue
			}
			resE, resD := eager.Apply(&ev, &fxE), deferred.Apply(&ev, &fxD)
			if resE != resD {
				t.Fatalf("seed %d event %d: eager %+v, deferred %+v", seed, i, resE, resD)
			}
			if len(fxD.Updates) != 0 {
				t.Fatalf("seed %d event %d: deferred fold emitted %d updates", seed, i, len(fxD.Updates))
			}
			if i%397 != 396 && i != 5999 {
				continue
			}
			checks++
			for _, name := range deferred.Names() {
				s := deferred.SKU(name)
				deferred.P.SettlePublished(s)
				want := eager.SKU(name).AppendBinary(nil)
				if got := s.AppendBinary(nil); !bytes.Equal(got, want) {
					t.Fatalf("seed %d after event %d: SKU %s settled to\n%+v\nwant\n%+v", seed, i, name, s.Published, eager.SKU(name).Published)
				}
			}
			if deferred.Hot() != eager.Hot() {
				t.Fatalf("seed %d: %d SKUs deferred, %d eager", seed, deferred.Hot(), eager.Hot())
			}
		}
		if checks < 10 || len(eager.P.Channels) < 4 {
			t.Fatalf("seed %d: only %d checkpoints, %d channels", seed, checks, len(eager.P.Channels))
		}
	}
}
