package specmodel

// Overrides, listings, overlaps, transfers closed and reorder_due, as
// DECISIONS.md part 2 settles what ledger-semantics-2.md leaves open.

import "testing"

// updatesFrom returns the updates published since the n-th, rendered.
func updatesFrom(m *Model, n int) string { return fmtUpdates(m.Updates()[n:]) }

func TestOverrideOnAChannelWithoutPolicy(t *testing.T) {
	m := New()
	m.Apply([]byte(e("r", TypeReceipt, `"location":"dc","qty":10`)))
	n := len(m.Updates())
	m.Apply([]byte(e("x1", TypeSKUChannelPolicy, `"channel":"b2b","share_pct":50`)))
	m.Apply([]byte(e("x2", TypeSKUChannelPolicy, `"channel":"b2b"`))) // removed: 0 once, then gone
	m.Apply([]byte(e("r2", TypeReceipt, `"location":"dc","qty":2`)))
	m.Apply([]byte(e("x3", TypeSKUChannelPolicy, `"channel":"b2b","exclude":false`))) // back: first known again
	want := "{b2b/S 5 prev=null v=2 cause=x1} {b2b/S 0 prev=5 v=3 cause=x2} {b2b/S 12 prev=null v=5 cause=x3} "
	if got := updatesFrom(m, n); got != want {
		t.Errorf("updates %s, want %s", got, want)
	}
	if v, _ := m.SKU("S"); len(v.Channels) != 1 || v.Channels["b2b"] != 12 {
		t.Errorf("channels %v", v.Channels)
	}
	m.Apply([]byte(e("x4", TypeSKUChannelPolicy, `"channel":"b2b","exclude":true`)))
	if v, _ := m.SKU("S"); v.Channels["b2b"] != 0 {
		t.Errorf("excluded channel shows %d", v.Channels["b2b"])
	}
	checkUpdates2(t, m)
}

func TestOverrideReplacesFieldsOverEndAt(t *testing.T) {
	m := run(t, e("p", TypeChannelPolicy, `"channel":"web","locations":["dc"],"buffer":0,"share_pct":100,"max_qty":8,"end_at":4`)+"\n"+
		e("r", TypeReceipt, `"location":"dc","qty":10`)+"\n"+
		e("r2", TypeReceipt, `"location":"store","qty":10`))
	checkSKU(t, m, "S", wantSKU{version: 2, channels: map[string]int64{"web": 8}})
	// max_qty 3 is under end_at 4: ended
	m.Apply([]byte(e("x1", TypeSKUChannelPolicy, `"channel":"web","max_qty":3`)))
	checkSKU(t, m, "S", wantSKU{version: 3, channels: map[string]int64{"web": 0}})
	// end_at 0 and locations: both locations, still capped at the policy's 8
	m.Apply([]byte(e("x2", TypeSKUChannelPolicy, `"channel":"web","end_at":0,"locations":["store","dc"]`)))
	checkSKU(t, m, "S", wantSKU{version: 4, channels: map[string]int64{"web": 8}})
	checkUpdates2(t, m)
}

func TestListingUpdates(t *testing.T) {
	m := New()
	m.Apply([]byte(e("r", TypeReceipt, `"location":"dc","qty":14`)))
	n := len(m.Updates())
	// no policy, no override: part 1's defaults; no channel update for it
	m.Apply([]byte(e("l1", TypeListing, `"channel":"shop","listing_sku":"P6","units":6`)))
	m.Apply([]byte(e("l2", TypeListing, `"channel":"shop","listing_sku":"P6","units":7`))) // 14/7 = 2: unchanged
	m.Apply([]byte(e("l3", TypeListing, `"channel":"shop","listing_sku":"P6","units":5`))) // 2 -> 2: unchanged
	m.Apply([]byte(e("l4", TypeListing, `"channel":"shop","listing_sku":"P6","units":4`))) // 3
	m.Apply([]byte(e("l5", TypeListing, `"channel":"shop","listing_sku":"P6","active":false`)))
	m.Apply([]byte(e("l6", TypeListing, `"channel":"shop","listing_sku":"P6","active":false`))) // nothing to remove
	m.Apply([]byte(e("l7", TypeListing, `"channel":"shop","listing_sku":"P6","units":4`)))      // new again
	m.Apply([]byte(e("l8", TypeListing, `"channel":"a","listing_sku":"Z"`)))
	want := "{shop/S/P6 2 prev=null v=2 cause=l1} {shop/S/P6 3 prev=2 v=5 cause=l4} {shop/S/P6 0 prev=3 v=6 cause=l5} " +
		"{shop/S/P6 3 prev=null v=8 cause=l7} {a/S/Z 14 prev=null v=9 cause=l8} "
	if got := updatesFrom(m, n); got != want {
		t.Errorf("updates\n %s\nwant\n %s", got, want)
	}
	// one event: channel updates in channel order, then listings in
	// (channel, listing_sku) order
	m.Apply([]byte(e("p", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`)))
	n = len(m.Updates())
	m.Apply([]byte(e("o", TypeOrder, `"channel":"web","order_id":"O","qty":2`)))
	// (shop/P6: floor(12 / 4) = 3, unchanged)
	want = "{web/S 12 prev=14 v=11 cause=o} {a/S/Z 12 prev=14 v=11 cause=o} "
	if got := updatesFrom(m, n); got != want {
		t.Errorf("updates of one event %s, want %s", got, want)
	}
	if v, _ := m.SKU("S"); len(v.Channels) != 1 || v.Listings["shop/P6"] != 3 || v.Listings["a/Z"] != 12 {
		t.Errorf("S = %+v", v)
	}
	checkUpdates2(t, m)
}

// A channel policy changes which channels overlap, so it can move the ats of
// channels other than its own.
func TestChannelPolicyMovesOverlappingChannels(t *testing.T) {
	m := run(t, e("p-amz", TypeChannelPolicy, `"channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100`)+"\n"+
		e("p-pos", TypeChannelPolicy, `"channel":"pos","locations":["store"],"buffer":0,"share_pct":100`)+"\n"+
		e("r1", TypeReceipt, `"location":"dc","qty":10`)+"\n"+
		e("r2", TypeReceipt, `"location":"store","qty":5`)+"\n"+
		e("o", TypeOrder, `"channel":"pos","order_id":"P-1","qty":3`))
	checkSKU(t, m, "S", wantSKU{version: 3, unassigned: 3, channels: map[string]int64{"amazon": 8, "pos": 2}})
	n := len(m.Updates())
	m.Apply([]byte(e("p-pos2", TypeChannelPolicy, `"channel":"pos","locations":["store","dc"],"buffer":0,"share_pct":100`)))
	if got, want := updatesFrom(m, n), "{amazon/S 5 prev=8 v=4 cause=p-pos2} {pos/S 12 prev=2 v=4 cause=p-pos2} "; got != want {
		t.Errorf("updates %s, want %s", got, want)
	}
	// the oversold check of an unlocated order subtracts the overlapping
	// channels' unassigned: amazon sells 10 at dc, pos holds 3 of them
	m.Apply([]byte(e("o2", TypeOrder, `"channel":"amazon","order_id":"A-1","qty":8`)))
	checkAlertsExactly(t, m, Alert{Kind: AlertOversold, SKU: "S", Channel: "amazon", OrderID: "A-1", Shortfall: i64(1), Version: 5, CauseEventID: "o2"})
}

func TestTransferClosed(t *testing.T) {
	m := run(t, e("r", TypeReceipt, `"location":"dc","qty":10`)+"\n"+
		e("t1", TypeTransferOut, `"transfer_id":"T","location":"dc","to_location":"store","qty":4`)+"\n"+
		e("t2", TypeTransferIn, `"transfer_id":"T","qty":5`)+"\n"+ // all arrived, one more
		e("tc", TypeTransferClosed, `"transfer_id":"T"`)+"\n"+ // applied, nothing short
		e("tc2", TypeTransferClosed, `"transfer_id":"T"`)+"\n"+
		e("t3", TypeTransferIn, `"transfer_id":"T","qty":1`))
	checkAlerts(t, m)
	checkDead(t, m, [2]string{"tc2", ReasonUnknownTransfer})
	checkSKU(t, m, "S", wantSKU{version: 5, locations: map[string]LocationView{
		"dc": {OnHand: 6, Available: 6}, "store": {OnHand: 6, Available: 6}}})
}

func TestReorderDue(t *testing.T) {
	// a lead time set on a SKU already short of cover raises reorder_due
	// (due is false before the policy, having no lead time)
	m := run(t, e("r", TypeReceipt, `"location":"dc","qty":10`)+"\n"+
		e("s", TypePOSSale, `"channel":"pos","location":"dc","qty":8`)+"\n"+
		e("sp", TypeSKUPolicy, `"safety_stock":{},"lead_time_days":10`))
	checkAlertsExactly(t, m, Alert{Kind: AlertReorderDue, SKU: "S", Projected: i64(2), Sold28: i64(8),
		DaysOfCover: i64(7), LeadTimeDays: i64(10), Version: 3, CauseEventID: "sp"})

	// projected below zero: days_of_cover rounds towards minus infinity;
	// cancelling and returning do not lower sold28
	m = run(t, e("sp", TypeSKUPolicy, `"safety_stock":{},"lead_time_days":3`)+"\n"+
		e("r", TypeReceipt, `"location":"dc","qty":1`)+"\n"+
		e("o", TypeOrder, `"channel":"web","order_id":"O","qty":5`)+"\n"+
		e("c", TypeOrderCancelled, `"order_id":"O","qty":1`)+"\n"+
		e("rt", TypeReturn, `"location":"dc","qty":1`))
	// after o: projected 1 - 5 = -4, sold28 5: floor(-112 / 5) = -23
	want := Alert{Kind: AlertReorderDue, SKU: "S", Projected: i64(-4), Sold28: i64(5), DaysOfCover: i64(-23), LeadTimeDays: i64(3), Version: 3, CauseEventID: "o"}
	got := m.Alerts()
	if len(got) != 2 || fmtAlerts(got[1:]) != fmtAlerts([]Alert{want}) {
		t.Errorf("alerts %s", fmtAlerts(got))
	}
	if v, _ := m.SKU("S"); v.Sold28 != 5 || v.Projected != -2 {
		t.Errorf("sold28 %d projected %d, want 5 and -2", v.Sold28, v.Projected)
	}
}
