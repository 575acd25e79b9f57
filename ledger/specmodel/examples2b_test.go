package specmodel

// Worked examples 10 to 15 of part 2: listings, transfers closed short,
// replenishment.

import "testing"

func TestExample2_10Listings(t *testing.T) {
	m := run(t, example2_10)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 5, unassigned: 6,
			locations: map[string]LocationView{"dc": dc(14)},
			channels:  map[string]int64{"amazon": 6, "web": 8}},
		unassignedBy: map[string]int64{"web": 6},
		// amazon/AMZ-TEE was removed: its last update is 0 (below)
		listings: map[string]int64{"web/TEE-6PK": 1},
	})
	checkDead(t, m, [2]string{"o2", ReasonUnresolvedListing})
	checkAlerts(t, m)
	var listing []string
	for _, u := range m.Updates() {
		if u.ListingSKU != "" {
			listing = append(listing, fmtUpdates([]Update{u}))
		}
	}
	want := []string{
		"{web/TEE/TEE-6PK 2 prev=null v=2 cause=l1} ",
		"{amazon/TEE/AMZ-TEE 12 prev=null v=3 cause=l2} ",
		"{amazon/TEE/AMZ-TEE 6 prev=12 v=4 cause=o1} ",
		"{web/TEE/TEE-6PK 1 prev=2 v=4 cause=o1} ",
		"{amazon/TEE/AMZ-TEE 0 prev=6 v=5 cause=l3} ",
	}
	if joinLines(listing) != joinLines(want) {
		t.Errorf("listing updates:\n%s\nwant\n%s", joinLines(listing), joinLines(want))
	}
	checkUpdates2(t, m)
}

func TestExample2_11ListingMoves(t *testing.T) {
	m := run(t, example2_11)
	checkSKU2(t, m, "MUG", want2{
		wantSKU: wantSKU{version: 3, unassigned: 2,
			locations: map[string]LocationView{"dc": dc(9)},
			channels:  map[string]int64{"web": 7}},
		unassignedBy: map[string]int64{"web": 2},
		listings:     map[string]int64{"web/GIFT-SET": 3},
	})
	checkSKU2(t, m, "TEE", want2{wantSKU: wantSKU{version: 4,
		locations: map[string]LocationView{"dc": dc(14)},
		channels:  map[string]int64{"web": 14}}})
	var last Update
	for _, u := range m.Updates() {
		if u.SKU == "TEE" && u.ListingSKU == "GIFT-SET" {
			last = u
		}
	}
	if last.Available != 0 || last.CauseEventID != "l3" {
		t.Errorf("web/TEE/GIFT-SET last update %+v, want 0 from l3", last)
	}
	checkDead(t, m)
	checkAlerts(t, m)
	checkUpdates2(t, m)
}

func TestExample2_12TransferClosedShort(t *testing.T) {
	m := run(t, example2_12)
	checkSKU2(t, m, "BAG", want2{wantSKU: wantSKU{version: 5,
		locations: map[string]LocationView{"dc": dc(12), "store": dc(7)}}})
	checkAlertsExactly(t, m, Alert{Kind: AlertTransferShort, SKU: "BAG", Location: "store", TransferID: "T-1",
		Expected: i64(8), Received: i64(5), Short: i64(3), Version: 4, CauseEventID: "tc"})
	checkDead(t, m, [2]string{"tc2", ReasonUnknownTransfer})
}

func TestExample2_13ReorderBeforeAnyClock(t *testing.T) {
	m := run(t, example2_13)
	checkSKU2(t, m, "FAST", want2{
		wantSKU: wantSKU{version: 5, locations: map[string]LocationView{"store": dc(7)}},
		sold28:  i64(33), projected: i64(7),
	})
	checkSKU2(t, m, "SLOW", want2{
		wantSKU: wantSKU{version: 6, locations: map[string]LocationView{"store": dc(29)}},
		sold28:  i64(3), projected: i64(29),
	})
	checkAlertsExactly(t, m, Alert{Kind: AlertReorderDue, SKU: "FAST", Projected: i64(7), Sold28: i64(33),
		DaysOfCover: i64(5), LeadTimeDays: i64(7), Version: 5, CauseEventID: "f4"})
	checkDead(t, m)
}

func TestExample2_14WindowFollowsClock(t *testing.T) {
	m := run(t, example2_14)
	checkSKU2(t, m, "SLOW", want2{
		wantSKU: wantSKU{version: 6, locations: map[string]LocationView{"store": dc(29)}},
		sold28:  i64(3), projected: i64(29),
	})
	checkAlerts(t, m)
	checkDead(t, m)

	// sold28 falls from 6 to 1 on the clock of 29 November, with no event of SLOW
	lines := splitLines(example2_14)
	m = run(t, joinLines(lines[:6]))
	if v, _ := m.SKU("SLOW"); v.Sold28 != 6 {
		t.Errorf("sold28 before the clock of 29 November = %d, want 6", v.Sold28)
	}
	m.Apply([]byte(lines[6]))
	if v, _ := m.SKU("SLOW"); v.Sold28 != 1 || v.Version != 4 {
		t.Errorf("after the clock of 29 November: sold28 %d version %d, want 1 and 4", v.Sold28, v.Version)
	}
}

func TestExample2_15AlertsLookPastHolds(t *testing.T) {
	m := run(t, example2_15)
	checkSKU2(t, m, "CAP", want2{
		wantSKU: wantSKU{version: 7, unassigned: 9,
			locations: map[string]LocationView{"dc": dc(12)},
			channels:  map[string]int64{"web": 3}},
		unassignedBy: map[string]int64{"web": 9},
		sold28:       i64(9), projected: i64(3),
	})
	checkHolds(t, m,
		"CAP/H-1 web@- granted req=8 granted=8 avail=4 v=3 from=c2",
		"CAP/H-2 web@- granted req=2 granted=2 avail=1 v=5 from=c4",
		"CAP/H-1 web@- converted req=8 granted=0 avail=1 v=6 from=c5",
		"CAP/H-2 web@- expired req=2 granted=0 avail=3 v=7 from=clock/0/1795773960000",
	)
	checkAlertsExactly(t, m,
		Alert{Kind: AlertLowStock, SKU: "CAP", Total: i64(3), ReorderPoint: i64(5), Version: 6, CauseEventID: "c5"},
		Alert{Kind: AlertReorderDue, SKU: "CAP", Projected: i64(3), Sold28: i64(9), DaysOfCover: i64(9), LeadTimeDays: i64(14), Version: 6, CauseEventID: "c5"},
	)
	checkDead(t, m)
	checkUpdates2(t, m)
}

// TestFirstClockMovesWindowBack is DECISIONS.md's sales window moved back
// by the first clock: before it the window ends on a sale dated ahead (30
// November) and forgets 1 November; the clock of 28 November ends it on its
// own day, where a sale dated 2 November counts and 1 November stays empty.
func TestFirstClockMovesWindowBack(t *testing.T) {
	m := run(t, `
{"event_id":"a0","type":"sku_policy","occurred_at":"2026-11-01T08:00:00Z","sku":"AHEAD","safety_stock":{},"lead_time_days":7}
{"event_id":"a1","type":"receipt","occurred_at":"2026-11-01T08:00:00Z","sku":"AHEAD","location":"store","qty":40}
{"event_id":"a2","type":"pos_sale","occurred_at":"2026-11-01T10:00:00Z","sku":"AHEAD","channel":"pos","location":"store","qty":5}
{"event_id":"a3","type":"pos_sale","occurred_at":"2026-11-30T10:00:00Z","sku":"AHEAD","channel":"pos","location":"store","qty":1}
{"event_id":"clock/0/1795867200000","type":"clock","occurred_at":"2026-11-28T12:00:00Z"}
{"event_id":"a4","type":"pos_sale","occurred_at":"2026-11-02T10:00:00Z","sku":"AHEAD","channel":"pos","location":"store","qty":2}
`)
	checkSKU2(t, m, "AHEAD", want2{
		wantSKU: wantSKU{version: 5, locations: map[string]LocationView{"store": dc(32)}},
		sold28:  i64(2), projected: i64(32),
	})
	checkAlerts(t, m)
	checkDead(t, m)
}
