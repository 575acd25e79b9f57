package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
)

// BenchmarkClockWithMillionOpenHolds: a partition holds a million open
// holds (100,000 SKUs, ten each, expiring over 1,000 minutes); each clock
// event moves a minute and expires the thousand holds due. The cost per
// clock follows what it expires, not the million it leaves open.
func BenchmarkClockWithMillionOpenHolds(b *testing.B) {
	const skus, perSKU, minutes = 100_000, 10, 1_000
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	book := ledger.NewBook(ledger.DefaultConfig())
	var fx ledger.Effects
	for i := range skus {
		sku := fmt.Sprintf("SKU-%06d", i)
		apply(b, book, &ledger.Event{ID: "r", Type: ledger.TypeReceipt, SKU: sku, OccurredAt: start.UnixMicro(),
			Location: "dc", Qty: perSKU, Has: ledger.FieldEventID | ledger.FieldType | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation | ledger.FieldQty}, &fx)
		for h := range perSKU {
			exp := start.Add(time.Duration(1+(i*perSKU+h)%minutes) * time.Minute)
			apply(b, book, &ledger.Event{ID: fmt.Sprint("h", h), Type: ledger.TypeHold, SKU: sku, OccurredAt: start.UnixMicro(),
				HoldID: fmt.Sprint("H", h), Channel: "web", Qty: 1, ExpiresAt: exp.UnixMicro(),
				Has: ledger.FieldEventID | ledger.FieldType | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldHoldID | ledger.FieldChannel | ledger.FieldQty | ledger.FieldExpiresAt}, &fx)
		}
		fx.Reset()
	}
	b.ResetTimer()
	expired := 0
	for n := range b.N {
		at := start.Add(time.Duration(1+n%minutes) * time.Minute)
		apply(b, book, &ledger.Event{ID: fmt.Sprint("clock/", n), Type: ledger.TypeClock, OccurredAt: at.UnixMicro(),
			Has: ledger.FieldEventID | ledger.FieldType | ledger.FieldOccurredAt}, &fx)
		expired += len(fx.HoldResults)
		fx.Reset()
	}
	b.ReportMetric(float64(expired)/float64(b.N), "expired/clock")
	if expired > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(expired), "ns/expired")
	}
}

func apply(b *testing.B, book *ledger.Book, ev *ledger.Event, fx *ledger.Effects) {
	if res := book.Apply(ev, fx); res.Outcome != ledger.Applied {
		b.Fatalf("%+v: %+v", ev, res)
	}
}
