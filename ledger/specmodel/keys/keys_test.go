package keys

import (
	"testing"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
)

// The same alert renders the same from both sides; an absent optional
// field is not a zero.
func TestSameAlertSameKey(t *testing.T) {
	units := int64(4)
	m := specmodel.Alert{Kind: "po_short", SKU: "S", Location: "dc", POID: "PO-1", Units: &units, Version: 7, CauseEventID: "e9"}
	l := ledger.Alert{Kind: ledger.AlertPOShort, SKU: "S", Location: "dc", POID: "PO-1", Units: 4, Version: 7, CauseEventID: "e9",
		Has: ledger.AlertHasLocation | ledger.AlertHasPOID | ledger.AlertHasUnits}
	if Alert(&l) != ModelAlert(&m) {
		t.Fatalf("ledger %q, model %q", Alert(&l), ModelAlert(&m))
	}
	zero := int64(0)
	m.Total = &zero
	if Alert(&l) == ModelAlert(&m) {
		t.Fatal("a total of 0 renders like no total")
	}
}

// Every field of an alert is in its key: two alerts that differ in any one
// field never compare equal.
func TestEveryFieldCounts(t *testing.T) {
	all := ledger.AlertHasLocation | ledger.AlertHasPOID | ledger.AlertHasUnits | ledger.AlertHasShortfall |
		ledger.AlertHasOnHand | ledger.AlertHasTotal | ledger.AlertHasReorderPoint
	base := ledger.Alert{Kind: ledger.AlertOversold, SKU: "S", Location: "dc", Channel: "web", POID: "P", OrderID: "O",
		Shortfall: 1, Units: 2, OnHand: 3, Total: 4, ReorderPoint: 5, Version: 6, CauseEventID: "e", Has: all}
	changes := []func(a *ledger.Alert){
		func(a *ledger.Alert) { a.Kind = ledger.AlertLowStock },
		func(a *ledger.Alert) { a.SKU = "T" },
		func(a *ledger.Alert) { a.Location = "st" },
		func(a *ledger.Alert) { a.Channel = "pos" },
		func(a *ledger.Alert) { a.POID = "Q" },
		func(a *ledger.Alert) { a.OrderID = "R" },
		func(a *ledger.Alert) { a.Shortfall = 9 },
		func(a *ledger.Alert) { a.Units = 9 },
		func(a *ledger.Alert) { a.OnHand = 9 },
		func(a *ledger.Alert) { a.Total = 9 },
		func(a *ledger.Alert) { a.ReorderPoint = 9 },
		func(a *ledger.Alert) { a.Version = 9 },
		func(a *ledger.Alert) { a.CauseEventID = "f" },
		func(a *ledger.Alert) { a.Has &^= ledger.AlertHasTotal },
	}
	for i, change := range changes {
		a := base
		change(&a)
		if Alert(&a) == Alert(&base) {
			t.Errorf("change %d does not change the key %q", i, Alert(&base))
		}
	}
}
