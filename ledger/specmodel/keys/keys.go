// Package keys renders alerts of the ledger and of the independent model
// (ledger/specmodel) as the same comparable strings, so tests can count and
// compare them. It is the one place that knows both types; the model itself
// stays free of the ledger's.
package keys

import (
	"fmt"
	"strings"

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
		fmt.Sprint(a.Version), a.CauseEventID}, "|")
}
