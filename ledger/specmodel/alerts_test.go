package specmodel

// Alerts (ledger-semantics.md "What it publishes"; decisions.md "Alerts") and
// channel stock updates (decisions.md "Channels and updates").

import (
	"reflect"
	"strconv"
	"testing"
)

func i64(v int64) *int64 { return &v }

// sku builds an event line for SKU S with the given type and body.
func sku(id, typ, body string) string { return e(id, typ, body) }

func TestAlertKinds(t *testing.T) {
	policyAmazonDC := e("cp-amz", TypeChannelPolicy, `"channel":"amazon","locations":["dc"],"buffer":0,"share_pct":100`)
	cases := []struct {
		name  string
		lines []string
		want  []Alert // SKU "S" is implied
	}{
		{
			name: "oversold: located order",
			lines: []string{
				sku("r", TypeReceipt, `"location":"store","qty":2`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":3,"location":"store"`),
			},
			// sellable(store) = 2 - 3 = -1
			want: []Alert{{Kind: AlertOversold, Location: "store", Channel: "web", OrderID: "W-1", Shortfall: i64(1), Version: 2, CauseEventID: "o"}},
		},
		{
			name: "oversold: located order, already negative, alerts again",
			lines: []string{
				sku("r", TypeReceipt, `"location":"store","qty":2`),
				sku("o1", TypeOrder, `"channel":"web","order_id":"W-1","qty":3,"location":"store"`),
				sku("o2", TypeOrder, `"channel":"web","order_id":"W-2","qty":1,"location":"store"`),
			},
			want: []Alert{
				{Kind: AlertOversold, Location: "store", Channel: "web", OrderID: "W-1", Shortfall: i64(1), Version: 2, CauseEventID: "o1"},
				{Kind: AlertOversold, Location: "store", Channel: "web", OrderID: "W-2", Shortfall: i64(2), Version: 3, CauseEventID: "o2"},
			},
		},
		{
			name: "oversold: unavailable units are not sellable",
			lines: []string{
				sku("r", TypeReceipt, `"location":"dc","qty":5`),
				sku("rt", TypeReturn, `"location":"dc","qty":2,"resellable":false`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":6,"location":"dc"`),
			},
			// sellable(dc) = 7 - 6 - 2 = -1
			want: []Alert{{Kind: AlertOversold, Location: "dc", Channel: "web", OrderID: "W-1", Shortfall: i64(1), Version: 3, CauseEventID: "o"}},
		},
		{
			name: "no oversold: safety stock is not part of sellable",
			lines: []string{
				sku("sp", TypeSKUPolicy, `"safety_stock":{"dc":5}`),
				sku("r", TypeReceipt, `"location":"dc","qty":5`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":5,"location":"dc"`),
			},
		},
		{
			name: "oversold: pos_sale",
			lines: []string{
				sku("r", TypeReceipt, `"location":"store","qty":3`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":3,"location":"store"`),
				sku("x", TypePOSSale, `"channel":"pos","location":"store","qty":2`),
			},
			want: []Alert{{Kind: AlertOversold, Location: "store", Channel: "pos", Shortfall: i64(2), Version: 3, CauseEventID: "x"}},
		},
		{
			name: "oversold: unlocated order counts its channel's eligible locations",
			lines: []string{
				policyAmazonDC,
				sku("r1", TypeReceipt, `"location":"dc","qty":5`),
				sku("r2", TypeReceipt, `"location":"store","qty":10`),
				sku("o", TypeOrder, `"channel":"amazon","order_id":"A-1","qty":7`),
			},
			// max(0, sellable(dc)) - unassigned = 5 - 7 = -2
			want: []Alert{{Kind: AlertOversold, Channel: "amazon", OrderID: "A-1", Shortfall: i64(2), Version: 3, CauseEventID: "o"}},
		},
		{
			name: "no oversold: unlocated order on a channel without a policy counts every location",
			lines: []string{
				policyAmazonDC,
				sku("r1", TypeReceipt, `"location":"dc","qty":5`),
				sku("r2", TypeReceipt, `"location":"store","qty":10`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":15`),
			},
		},
		{
			name: "oversold: unlocated, earlier unassigned counts, negative locations clamp to 0",
			lines: []string{
				sku("r1", TypeReceipt, `"location":"dc","qty":4`),
				sku("r2", TypeReceipt, `"location":"store","qty":6`),
				sku("o1", TypeOrder, `"channel":"web","order_id":"W-1","qty":8,"location":"dc"`),
				sku("o2", TypeOrder, `"channel":"web","order_id":"W-2","qty":4`),
				sku("o3", TypeOrder, `"channel":"web","order_id":"W-3","qty":3`),
			},
			// o1: sellable(dc) = -4 -> oversold 4.
			// o2: max(0,-4) + max(0,6) - 4 = 2: fine.
			// o3: 6 - 7 = -1 -> oversold 1.
			want: []Alert{
				{Kind: AlertOversold, Location: "dc", Channel: "web", OrderID: "W-1", Shortfall: i64(4), Version: 3, CauseEventID: "o1"},
				{Kind: AlertOversold, Channel: "web", OrderID: "W-3", Shortfall: i64(1), Version: 5, CauseEventID: "o3"},
			},
		},
		{
			name: "receipt_over: beyond what the line still expects, at the receipt's location",
			lines: []string{
				sku("po", TypePurchaseOrder, `"po_id":"P","location":"dc","qty":10`),
				sku("g1", TypeReceipt, `"po_id":"P","location":"dc","qty":6`),
				sku("g2", TypeReceipt, `"po_id":"P","location":"store","qty":7`),
			},
			want: []Alert{{Kind: AlertReceiptOver, Location: "store", POID: "P", Units: i64(3), Version: 3, CauseEventID: "g2"}},
		},
		{
			name: "receipt_over: fully received line still open, closed later without po_short",
			lines: []string{
				sku("po", TypePurchaseOrder, `"po_id":"P","location":"dc","qty":10`),
				sku("g1", TypeReceipt, `"po_id":"P","location":"dc","qty":10`),
				sku("g2", TypeReceipt, `"po_id":"P","location":"dc","qty":1`),
				sku("pc", TypePurchaseOrderClosed, `"po_id":"P"`),
			},
			want: []Alert{{Kind: AlertReceiptOver, Location: "dc", POID: "P", Units: i64(1), Version: 3, CauseEventID: "g2"}},
		},
		{
			name: "receipt_unmatched",
			lines: []string{
				sku("g", TypeReceipt, `"po_id":"NOPE","location":"dc","qty":4`),
			},
			want: []Alert{{Kind: AlertReceiptUnmatched, Location: "dc", POID: "NOPE", Units: i64(4), Version: 1, CauseEventID: "g"}},
		},
		{
			name: "po_short: at the line's location",
			lines: []string{
				sku("po", TypePurchaseOrder, `"po_id":"P","location":"dc","qty":10`),
				sku("g", TypeReceipt, `"po_id":"P","location":"store","qty":4`),
				sku("pc", TypePurchaseOrderClosed, `"po_id":"P"`),
			},
			want: []Alert{{Kind: AlertPOShort, Location: "dc", POID: "P", Units: i64(6), Version: 3, CauseEventID: "pc"}},
		},
		{
			name: "negative_on_hand: shipment",
			lines: []string{
				sku("s", TypeShipment, `"location":"dc","qty":3`),
			},
			want: []Alert{{Kind: AlertNegativeOnHand, Location: "dc", OnHand: i64(-3), Version: 1, CauseEventID: "s"}},
		},
		{
			name: "negative_on_hand: transfer_out and adjustment, not a rise that stays negative",
			lines: []string{
				sku("t", TypeTransferOut, `"transfer_id":"T","location":"dc","to_location":"store","qty":2`),
				sku("a1", TypeAdjustment, `"location":"dc","on_hand_delta":-1,"reason":"lost"`),
				sku("a2", TypeAdjustment, `"location":"dc","on_hand_delta":1,"reason":"found"`),
				sku("a3", TypeAdjustment, `"location":"dc","on_hand_delta":0,"unavailable_delta":1,"reason":"qc"`),
			},
			want: []Alert{
				{Kind: AlertNegativeOnHand, Location: "dc", OnHand: i64(-2), Version: 1, CauseEventID: "t"},
				{Kind: AlertNegativeOnHand, Location: "dc", OnHand: i64(-3), Version: 2, CauseEventID: "a1"},
			},
		},
		{
			name: "no negative_on_hand: a count to zero",
			lines: []string{
				sku("r", TypeReceipt, `"location":"dc","qty":3`),
				sku("k", TypeStockCount, `"location":"dc","counted":0`),
			},
		},
		{
			name: "pos_sale: oversold, then negative_on_hand, then low_stock",
			lines: []string{
				sku("sp", TypeSKUPolicy, `"safety_stock":{},"reorder_point":5`),
				sku("r", TypeReceipt, `"location":"store","qty":10`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":4,"location":"store"`),
				sku("x", TypePOSSale, `"channel":"pos","location":"store","qty":11`),
			},
			// before x: total = 10 - 4 = 6 > 5. After: on_hand -1, sellable -5, total 0.
			want: []Alert{
				{Kind: AlertOversold, Location: "store", Channel: "pos", Shortfall: i64(5), Version: 4, CauseEventID: "x"},
				{Kind: AlertNegativeOnHand, Location: "store", OnHand: i64(-1), Version: 4, CauseEventID: "x"},
				{Kind: AlertLowStock, Total: i64(0), ReorderPoint: i64(5), Version: 4, CauseEventID: "x"},
			},
		},
		{
			name: "low_stock: an unlocated order lowers the total",
			lines: []string{
				sku("sp", TypeSKUPolicy, `"safety_stock":{},"reorder_point":3`),
				sku("r", TypeReceipt, `"location":"dc","qty":5`),
				sku("o", TypeOrder, `"channel":"web","order_id":"W-1","qty":2`),
			},
			want: []Alert{{Kind: AlertLowStock, Total: i64(3), ReorderPoint: i64(3), Version: 3, CauseEventID: "o"}},
		},
		{
			name: "low_stock: total counts every location, safety stock withheld",
			lines: []string{
				sku("sp", TypeSKUPolicy, `"safety_stock":{"dc":2},"reorder_point":6`),
				sku("r1", TypeReceipt, `"location":"dc","qty":5`),
				sku("r2", TypeReceipt, `"location":"store","qty":4`),
				sku("x", TypePOSSale, `"channel":"pos","location":"store","qty":1`),
			},
			// after r2: 3 + 4 = 7 > 6; after x: 3 + 3 = 6 <= 6
			want: []Alert{{Kind: AlertLowStock, Total: i64(6), ReorderPoint: i64(6), Version: 4, CauseEventID: "x"}},
		},
		{
			name: "low_stock: a new sku_policy's safety stock crosses the reorder point",
			lines: []string{
				sku("sp1", TypeSKUPolicy, `"safety_stock":{},"reorder_point":5`),
				sku("r", TypeReceipt, `"location":"dc","qty":8`),
				sku("sp2", TypeSKUPolicy, `"safety_stock":{"dc":4},"reorder_point":5`),
			},
			want: []Alert{{Kind: AlertLowStock, Total: i64(4), ReorderPoint: i64(5), Version: 3, CauseEventID: "sp2"}},
		},
		{
			name: "no low_stock: raising the reorder point above the total (the total was not above it)",
			lines: []string{
				sku("r", TypeReceipt, `"location":"dc","qty":8`),
				sku("sp", TypeSKUPolicy, `"safety_stock":{},"reorder_point":10`),
				sku("x", TypePOSSale, `"channel":"pos","location":"dc","qty":1`),
			},
		},
		{
			name: "no low_stock without a reorder point; a policy without one removes it",
			lines: []string{
				sku("sp1", TypeSKUPolicy, `"safety_stock":{},"reorder_point":5`),
				sku("sp2", TypeSKUPolicy, `"safety_stock":{}`),
				sku("r", TypeReceipt, `"location":"dc","qty":8`),
				sku("x", TypePOSSale, `"channel":"pos","location":"dc","qty":8`),
			},
		},
		{
			name: "low_stock: fires again after recovering above the reorder point",
			lines: []string{
				sku("sp", TypeSKUPolicy, `"safety_stock":{},"reorder_point":2`),
				sku("r1", TypeReceipt, `"location":"dc","qty":3`),
				sku("x1", TypePOSSale, `"channel":"pos","location":"dc","qty":1`),
				sku("r2", TypeReceipt, `"location":"dc","qty":5`),
				sku("x2", TypePOSSale, `"channel":"pos","location":"dc","qty":6`),
			},
			want: []Alert{
				{Kind: AlertLowStock, Total: i64(2), ReorderPoint: i64(2), Version: 3, CauseEventID: "x1"},
				{Kind: AlertLowStock, Total: i64(1), ReorderPoint: i64(2), Version: 5, CauseEventID: "x2"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := New()
			for _, l := range c.lines {
				m.Apply([]byte(l))
			}
			if d := m.DeadLetters(); len(d) != 0 {
				t.Fatalf("dead letters: %+v", d)
			}
			got := m.Alerts()
			want := c.want
			for i := range want {
				want[i].SKU = "S"
			}
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("alerts:\n got  %s\n want %s", fmtAlerts(got), fmtAlerts(want))
			}
		})
	}
}

func fmtAlerts(as []Alert) string {
	s := ""
	for _, a := range as {
		s += "{" + a.Kind + " sku=" + a.SKU + " loc=" + a.Location + " ch=" + a.Channel + " po=" + a.POID + " order=" + a.OrderID
		if a.TransferID != "" {
			s += " transfer=" + a.TransferID
		}
		for _, f := range []struct {
			n string
			p *int64
		}{{"shortfall", a.Shortfall}, {"units", a.Units}, {"on_hand", a.OnHand}, {"total", a.Total}, {"reorder_point", a.ReorderPoint},
			{"expected", a.Expected}, {"received", a.Received}, {"short", a.Short},
			{"projected", a.Projected}, {"sold28", a.Sold28}, {"days_of_cover", a.DaysOfCover}, {"lead_time_days", a.LeadTimeDays}} {
			if f.p != nil {
				s += " " + f.n + "=" + itoa(*f.p)
			}
		}
		s += " v=" + itoa(a.Version) + " cause=" + a.CauseEventID + "} "
	}
	return s
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestQuantitiesAfterEvents(t *testing.T) {
	m := run(t, `
`+sku("po", TypePurchaseOrder, `"po_id":"P","location":"dc","qty":10`)+`
`+sku("g", TypeReceipt, `"po_id":"P","location":"store","qty":4`)+`
`+sku("o1", TypeOrder, `"channel":"web","order_id":"W-1","qty":5,"location":"store"`)+`
`+sku("o2", TypeOrder, `"channel":"web","order_id":"W-2","qty":3`)+`
`+sku("c1", TypeOrderCancelled, `"order_id":"W-1","qty":2`)+`
`+sku("s1", TypeShipment, `"location":"dc","qty":2,"order_id":"W-2"`)+`
`+sku("c2", TypeOrderCancelled, `"order_id":"W-2"`)+`
`+sku("s2", TypeShipment, `"location":"store","qty":5,"order_id":"W-1"`)+`
`+sku("c3", TypeOrderCancelled, `"order_id":"W-1"`)+`
`+sku("t1", TypeTransferOut, `"transfer_id":"T","location":"dc","to_location":"store","qty":3`)+`
`+sku("t2", TypeTransferIn, `"transfer_id":"T","qty":2`)+`
`+sku("t3", TypeTransferIn, `"transfer_id":"T","qty":4`)+`
`+sku("rt", TypeReturn, `"location":"store","qty":2`)+`
`+sku("a", TypeAdjustment, `"location":"store","on_hand_delta":-1,"unavailable_delta":1,"reason":"damaged"`)+`
`+sku("k", TypeStockCount, `"location":"dc","counted":7`)+`
`)
	checkDead(t, m)
	// po: incoming(dc) 10. g: on_hand(store) 4, incoming(dc) 6.
	// o1: reserved(store) 5 (oversold 1). o2: unassigned 3; web has no policy so every
	// location counts: max(0, 0) + max(0, -1) - 3 = -3 (oversold 3).
	// c1: reserved(store) 3 (W-1 open 3).
	// s1: on_hand(dc) -2, unassigned 1 (W-2 open 1). c2: unassigned 0.
	// s2: on_hand(store) -1, reserved(store) 0 (releases the 3 open). c3: releases nothing.
	// t1: on_hand(dc) -5, incoming(store) 3. t2: on_hand(store) 1, incoming(store) 1.
	// t3: on_hand(store) 5, incoming(store) 0 (never below zero).
	// rt: on_hand(store) 7. a: on_hand(store) 6, unavailable(store) 1.
	// k: on_hand(dc) 7.
	checkSKU(t, m, "S", wantSKU{
		version: 15,
		locations: map[string]LocationView{
			"dc":    {OnHand: 7, Incoming: 6, Available: 7},
			"store": {OnHand: 6, Unavailable: 1, Available: 5},
		},
	})
	checkAlerts(t, m,
		alertKey{AlertOversold, "o1", 1},
		alertKey{AlertOversold, "o2", 3},
		alertKey{AlertNegativeOnHand, "s1", -2},
		alertKey{AlertNegativeOnHand, "s2", -1},
		alertKey{AlertNegativeOnHand, "t1", -5},
	)
}

func TestSafetyStockForLocationNotYetHad(t *testing.T) {
	m := run(t, `
`+e("cp", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`)+`
`+sku("sp", TypeSKUPolicy, `"safety_stock":{"dc":3,"store":1}`)+`
`)
	// sku_policy names no location the SKU has.
	checkSKU(t, m, "S", wantSKU{version: 1, locations: map[string]LocationView{}, channels: map[string]int64{"web": 0}})
	m.Apply([]byte(sku("r", TypeReceipt, `"location":"dc","qty":5`)))
	checkSKU(t, m, "S", wantSKU{version: 2,
		locations: map[string]LocationView{"dc": {OnHand: 5, SafetyStock: 3, Available: 2}},
		channels:  map[string]int64{"web": 2}})
	// a new policy replaces the whole map
	m.Apply([]byte(sku("sp2", TypeSKUPolicy, `"safety_stock":{"store":1}`)))
	checkSKU(t, m, "S", wantSKU{version: 3,
		locations: map[string]LocationView{"dc": {OnHand: 5, Available: 5}},
		channels:  map[string]int64{"web": 5}})
}

func TestATSFormula(t *testing.T) {
	m := run(t, `
`+e("c1", TypeChannelPolicy, `"channel":"a","locations":["dc","nowhere"],"buffer":3,"share_pct":33`)+`
`+e("c2", TypeChannelPolicy, `"channel":"b","locations":[],"buffer":100,"share_pct":100`)+`
`+e("c3", TypeChannelPolicy, `"channel":"c","locations":["store"],"buffer":0,"share_pct":100,"max_qty":0`)+`
`+e("c4", TypeChannelPolicy, `"channel":"d","locations":["store","dc"],"buffer":0,"share_pct":99,"max_qty":15`)+`
`+sku("r1", TypeReceipt, `"location":"dc","qty":20`)+`
`+sku("r2", TypeReceipt, `"location":"store","qty":5`)+`
`+sku("o", TypeOrder, `"channel":"web","order_id":"W","qty":9,"location":"store"`)+`
`)
	// available: dc 20, store -4 (clamped to 0 in pools).
	// a: floor((20-3)*33/100) = floor(5.61) = 5
	// b: 20 - 100 < 0 -> 0
	// c: max_qty 0 -> 0
	// d: floor(20*99/100) = 19, capped at 15
	checkSKU(t, m, "S", wantSKU{version: 3, channels: map[string]int64{"a": 5, "b": 0, "c": 0, "d": 15}})
	checkFinalMatchesUpdates(t, m)
}

func TestUpdates(t *testing.T) {
	m := New()
	apply := func(l string) { m.Apply([]byte(l)) }
	next := 0
	expect := func(want ...Update) {
		t.Helper()
		got := m.Updates()[next:]
		next = len(m.Updates())
		if len(got) != len(want) {
			t.Fatalf("updates = %s, want %s", fmtUpdates(got), fmtUpdates(want))
		}
		for i := range want {
			if fmtUpdates(got[i:i+1]) != fmtUpdates(want[i:i+1]) {
				t.Errorf("update %d = %s, want %s", i, fmtUpdates(got[i:i+1]), fmtUpdates(want[i:i+1]))
			}
		}
	}
	version := func(s string) int64 {
		v, _ := m.SKU(s)
		return v.Version
	}

	// A policy with no SKU known reaches nobody.
	apply(e("p-web", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`))
	apply(e("p-dc", TypeChannelPolicy, `"channel":"dcx","locations":["dc"],"buffer":1,"share_pct":100`))
	expect()

	// First applied event of a SKU: one update per channel, previous null.
	apply(`{"event_id":"r1","type":"receipt","sku":"A",` + ts + `,"location":"store","qty":4}`)
	expect(
		Update{Channel: "dcx", SKU: "A", Available: 0, Version: 1, CauseEventID: "r1"},
		Update{Channel: "web", SKU: "A", Available: 4, Version: 1, CauseEventID: "r1"},
	)
	if version("A") != 1 {
		t.Errorf("A version %d: the policies before it do not count", version("A"))
	}

	// Only the changed channel publishes.
	apply(`{"event_id":"r2","type":"receipt","sku":"A",` + ts + `,"location":"store","qty":1}`)
	expect(Update{Channel: "web", SKU: "A", Available: 5, Previous: i64(4), Version: 2, CauseEventID: "r2"})

	// No change, no update; the version still grows.
	apply(`{"event_id":"po","type":"purchase_order","sku":"A",` + ts + `,"po_id":"P","location":"dc","qty":9}`)
	expect()
	if version("A") != 3 {
		t.Errorf("A version %d, want 3", version("A"))
	}

	// A channel without a policy gets nothing.
	apply(`{"event_id":"o1","type":"order","sku":"A",` + ts + `,"channel":"ebay","order_id":"E-1","qty":1,"location":"store"}`)
	expect(Update{Channel: "web", SKU: "A", Available: 4, Previous: i64(5), Version: 4, CauseEventID: "o1"})

	apply(`{"event_id":"r1","type":"receipt","sku":"B",` + ts + `,"location":"dc","qty":10}`)
	expect(
		Update{Channel: "dcx", SKU: "B", Available: 9, Version: 1, CauseEventID: "r1"},
		Update{Channel: "web", SKU: "B", Available: 10, Version: 1, CauseEventID: "r1"},
	)

	// A new channel publishes for every known SKU (previous null), and every
	// known SKU's version grows.
	apply(e("p-new", TypeChannelPolicy, `"channel":"ebay","locations":[],"buffer":0,"share_pct":50`))
	expect(
		Update{Channel: "ebay", SKU: "A", Available: 2, Version: 5, CauseEventID: "p-new"},
		Update{Channel: "ebay", SKU: "B", Available: 5, Version: 2, CauseEventID: "p-new"},
	)

	// A changed policy publishes only where ats changes; versions grow anyway.
	apply(e("p-web2", TypeChannelPolicy, `"channel":"web","locations":["dc"],"buffer":0,"share_pct":100`))
	expect(Update{Channel: "web", SKU: "A", Available: 0, Previous: i64(4), Version: 6, CauseEventID: "p-web2"})
	if version("A") != 6 || version("B") != 3 {
		t.Errorf("versions A %d B %d, want 6 3", version("A"), version("B"))
	}

	// A repeated channel_policy event id is skipped and counted once.
	apply(e("p-web2", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`))
	expect()
	if m.Duplicates() != 1 || version("A") != 6 || version("B") != 3 {
		t.Errorf("dups %d, versions A %d B %d", m.Duplicates(), version("A"), version("B"))
	}

	// A SKU that appears later is not reached by earlier policies.
	apply(`{"event_id":"sp","type":"sku_policy","sku":"C",` + ts + `,"safety_stock":{}}`)
	expect(
		Update{Channel: "dcx", SKU: "C", Available: 0, Version: 1, CauseEventID: "sp"},
		Update{Channel: "ebay", SKU: "C", Available: 0, Version: 1, CauseEventID: "sp"},
		Update{Channel: "web", SKU: "C", Available: 0, Version: 1, CauseEventID: "sp"},
	)
	if got := m.SKUs(); !reflect.DeepEqual(got, []string{"A", "B", "C"}) {
		t.Errorf("SKUs = %v", got)
	}
	want := map[string]int64{
		"dcx/A": 0, "ebay/A": 2, "web/A": 0,
		"dcx/B": 9, "ebay/B": 5, "web/B": 10,
		"dcx/C": 0, "ebay/C": 0, "web/C": 0,
	}
	if got := m.Final(); !reflect.DeepEqual(got, want) {
		t.Errorf("Final = %v, want %v", got, want)
	}
	checkFinalMatchesUpdates(t, m)
}

func fmtUpdates(us []Update) string {
	s := ""
	for _, u := range us {
		prev := "null"
		if u.Previous != nil {
			prev = itoa(*u.Previous)
		}
		key := u.Channel + "/" + u.SKU
		if u.ListingSKU != "" {
			key += "/" + u.ListingSKU
		}
		s += "{" + key + " " + itoa(u.Available) + " prev=" + prev + " v=" + itoa(u.Version) + " cause=" + u.CauseEventID + "} "
	}
	return s
}

func TestNeverPanics(t *testing.T) {
	lines := []string{
		"", "{", "}", "[]", "0", "-", "1e999999999999", `{"type":"receipt","qty":1e999999999}`,
		e("a", TypeReceipt, `"location":"dc","qty":1e999999999999999999`),
		e("a", TypeReceipt, `"location":"dc","qty":-1e-999999999999999999`),
		e("a", TypeReceipt, `"location":"dc","qty":-9223372036854775808`),
		e("a", TypeSKUPolicy, `"safety_stock":{"dc":1,"dc":2}`),
		e("a", TypeSKUPolicy, `"safety_stock":{"dc":{"x":1}}`),
		e("a", TypeChannelPolicy, `"channel":"c","locations":[[]],"buffer":0,"share_pct":100`),
		`{"event_id":"\ud83d\ude00","type":"receipt","sku":"\udc00\ud800",` + ts + `,"location":"dc","qty":1}`,
		"\xff\xfe",
	}
	m := New()
	for _, l := range lines {
		m.Apply([]byte(l))
	}
	if len(m.DeadLetters()) != len(lines)-1 { // the duplicate safety_stock key is accepted (last wins)
		t.Errorf("dead letters: %d of %d: %+v", len(m.DeadLetters()), len(lines), m.DeadLetters())
	}
}
