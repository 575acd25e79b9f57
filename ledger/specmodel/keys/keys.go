// Package keys renders alerts of the ledger and of the independent model
// (ledger/specmodel) as the same comparable strings, so tests can count and
// compare them. It is the one place that knows both types; the model itself
// stays free of the ledger's.
package keys

import (
	"fmt"
	"strings"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
)

// Alert renders an alert the ledger raised.
func Alert(a *ledger.Alert) string {
	q := func(f ledger.AlertField, v ledger.Qty) string {
		if a.Has&f == 0 {
			return "-"
		}
		return fmt.Sprint(int64(v))
	}
	return strings.Join([]string{a.Kind.String(), a.SKU, a.Location, a.Channel, a.POID, a.OrderID,
		q(ledger.AlertHasShortfall, a.Shortfall), q(ledger.AlertHasUnits, a.Units), q(ledger.AlertHasOnHand, a.OnHand),
		q(ledger.AlertHasTotal, a.Total), q(ledger.AlertHasReorderPoint, a.ReorderPoint),
		a.TransferID, q(ledger.AlertHasExpected, a.Expected), q(ledger.AlertHasReceived, a.Received), q(ledger.AlertHasShort, a.Short),
		q(ledger.AlertHasProjected, a.Projected), q(ledger.AlertHasSold28, a.Sold28),
		q(ledger.AlertHasDaysOfCover, a.DaysOfCover), q(ledger.AlertHasLeadTimeDays, a.LeadTimeDays),
		fmt.Sprint(a.Version), a.CauseEventID}, "|")
}

// ModelAlert renders an alert the model raised, as Alert renders the same
// alert of the ledger.
func ModelAlert(a *specmodel.Alert) string {
	q := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return strings.Join([]string{a.Kind, a.SKU, a.Location, a.Channel, a.POID, a.OrderID,
		q(a.Shortfall), q(a.Units), q(a.OnHand), q(a.Total), q(a.ReorderPoint),
		a.TransferID, q(a.Expected), q(a.Received), q(a.Short),
		q(a.Projected), q(a.Sold28), q(a.DaysOfCover), q(a.LeadTimeDays),
		fmt.Sprint(a.Version), a.CauseEventID}, "|")
}

// HoldResult renders a hold result of the ledger.
func HoldResult(r *ledger.HoldResult) string {
	return fmt.Sprintf("%s/%s %s@%s %s req=%d granted=%d avail=%d exp=%s v%d from %s", r.SKU, r.HoldID, r.Channel, r.Location,
		r.Status, r.Requested, r.Granted, r.Available, time.UnixMicro(r.ExpiresAt).UTC().Format(time.RFC3339Nano), r.Version, r.CauseEventID)
}

// ModelHoldResult renders a hold result of the model, as HoldResult does.
func ModelHoldResult(r *specmodel.HoldResult) string {
	return fmt.Sprintf("%s/%s %s@%s %s req=%d granted=%d avail=%d exp=%s v%d from %s", r.SKU, r.HoldID, r.Channel, r.Location,
		r.Status, r.Requested, r.Granted, r.Available, r.ExpiresAt, r.Version, r.CauseEventID)
}
