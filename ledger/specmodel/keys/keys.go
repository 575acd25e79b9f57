// Package keys renders alerts and hold results of the ledger and of the
// independent model (ledger/specmodel) as the same comparable strings, so
// tests can count and compare them, and compares a SKU's part 2 state with
// the model's. It is the one place that knows both types; the model itself
// stays free of the ledger's.
package keys

import (
	"fmt"
	"maps"
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

// DiffPart2 names the first difference between a SKU's state and the
// model's view of it in part 2's state: unassigned units by channel, open
// holds, listings (their published values) and projected; "" when none.
// Sold28 is left to callers that hold the partition, whose clock ends the
// sales window.
func DiffPart2(s *ledger.SKU, w *specmodel.SKUView) string {
	by := map[string]int64{}
	for _, u := range s.UnassignedBy {
		by[u.Channel] = int64(u.Qty)
	}
	if !maps.Equal(by, w.UnassignedBy) {
		return fmt.Sprintf("unassigned by channel %v, model %v", by, w.UnassignedBy)
	}
	open := 0
	for _, h := range s.Holds {
		if !h.Closed {
			open++
		}
	}
	if open != w.OpenHolds {
		return fmt.Sprintf("%d open holds, model %d", open, w.OpenHolds)
	}
	listings := map[string]int64{}
	for _, l := range s.Listings {
		listings[l.Channel+"/"+l.ListingSKU] = int64(l.Published)
	}
	if !maps.Equal(listings, w.Listings) {
		return fmt.Sprintf("listings %v, model %v", listings, w.Listings)
	}
	if int64(s.Projected()) != w.Projected {
		return fmt.Sprintf("projected %d, model %d", s.Projected(), w.Projected)
	}
	return ""
}
