package specmodel

// Part 2's dead letters and static checks (ledger-semantics-2.md;
// DECISIONS.md part 2, "Codes and limits of the new fields"), checked in the
// spec tables' field order after the common fields.

import (
	"strings"
	"testing"
)

// setup2 is setup plus an open hold H-1 (web, 1 unit, no location) and a
// closed one H-C.
var setup2 = append(append([]string(nil), setup...),
	e("s7", TypeHold, `"hold_id":"H-1","channel":"web","qty":1,"expires_at":"2026-11-27T10:15:00Z"`),
	e("s8", TypeHold, `"hold_id":"H-C","channel":"web","qty":1,"expires_at":"2026-11-27T10:15:00Z"`),
	e("s9", TypeHoldReleased, `"hold_id":"H-C"`),
)

func setupModel2(t *testing.T) *Model {
	t.Helper()
	m := New()
	for _, l := range setup2 {
		m.Apply([]byte(l))
	}
	if len(m.DeadLetters()) != 0 || len(m.Alerts()) != 0 || len(m.HoldResults()) != 3 {
		t.Fatalf("setup2: dead %+v alerts %+v holds %+v", m.DeadLetters(), m.Alerts(), m.HoldResults())
	}
	return m
}

const exp = `"expires_at":"2026-11-27T10:15:00Z"`

// noSKU builds a line without a sku (e always writes one).
func noSKU(id, typ, body string) string {
	return strings.Replace(e(id, typ, body), `,"sku":"S"`, "", 1)
}

func TestDeadLetterReasons2(t *testing.T) {
	long := func(n int) string { return strings.Repeat("h", n) }
	cases := []struct{ name, line, reason string }{
		// hold: hold_id, channel, qty, expires_at, location, allow_partial
		{"hold: no hold_id", e("a", TypeHold, `"channel":"web","qty":1,`+exp), ReasonMissingField},
		{"hold: hold_id with /", e("a", TypeHold, `"hold_id":"H/1","channel":"web","qty":1,`+exp), ReasonInvalidField},
		{"hold: hold_id empty", e("a", TypeHold, `"hold_id":"","channel":"web","qty":1,`+exp), ReasonInvalidField},
		{"hold: hold_id 129 bytes", e("a", TypeHold, `"hold_id":"`+long(129)+`","channel":"web","qty":1,`+exp), ReasonInvalidField},
		{"hold: hold_id not ASCII", e("a", TypeHold, `"hold_id":"H-é","channel":"web","qty":1,`+exp), ReasonInvalidField},
		{"hold: hold_id with a tab", e("a", TypeHold, `"hold_id":"H\t1","channel":"web","qty":1,`+exp), ReasonInvalidField},
		{"hold: hold_id a number", e("a", TypeHold, `"hold_id":1,"channel":"web","qty":1,`+exp), ReasonInvalidField},
		{"hold: no channel", e("a", TypeHold, `"hold_id":"H-2","qty":1,`+exp), ReasonMissingField},
		{"hold: qty 0", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":0,`+exp), ReasonQuantityOutOfRange},
		{"hold: no expires_at", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1`), ReasonMissingField},
		{"hold: expires_at not RFC 3339", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-11-27 10:15"`), ReasonInvalidField},
		{"hold: expires_at = occurred_at", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-11-27T10:00:00Z"`), ReasonInvalidField},
		{"hold: expires_at before", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-11-27T09:59:59Z"`), ReasonInvalidField},
		{"hold: expires_at 7 days + 1µs", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-12-04T10:00:00.000001Z"`), ReasonInvalidField},
		{"hold: bad location", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,`+exp+`,"location":" dc"`), ReasonInvalidField},
		{"hold: allow_partial a string", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,`+exp+`,"allow_partial":"yes"`), ReasonInvalidField},
		{"hold: qty before expires_at", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":0,"expires_at":"x"`), ReasonQuantityOutOfRange},
		{"hold: hold_id known, open", e("a", TypeHold, `"hold_id":"H-1","channel":"web","qty":1,`+exp), ReasonHoldExists},
		{"hold: hold_id known, closed", e("a", TypeHold, `"hold_id":"H-C","channel":"web","qty":1,`+exp), ReasonHoldExists},
		{"hold: static before hold_exists", e("a", TypeHold, `"hold_id":"H-1","channel":"web","qty":1,"expires_at":"2026-12-27T10:00:00Z"`), ReasonInvalidField},
		// hold_released
		{"hold_released: no hold_id", e("a", TypeHoldReleased, ``), ReasonMissingField},
		{"hold_released: unknown", e("a", TypeHoldReleased, `"hold_id":"NOPE"`), ReasonUnknownHold},
		// order's new field, after part 1's
		{"order: bad hold_id", e("a", TypeOrder, `"channel":"web","order_id":"O-9","qty":1,"hold_id":"a/b"`), ReasonInvalidField},
		{"order: qty before hold_id", e("a", TypeOrder, `"channel":"web","order_id":"O-9","qty":0,"hold_id":"a/b"`), ReasonQuantityOutOfRange},
		{"order: order_exists keeps the hold", e("a", TypeOrder, `"channel":"web","order_id":"O-1","qty":1,"hold_id":"H-1"`), ReasonOrderExists},
		// listing_sku on the six types; unresolved where a missing sku would be
		{"order: listing_sku, no sku", noSKU("a", TypeOrder, `"channel":"web","order_id":"O-9","qty":1,"listing_sku":"L"`), ReasonUnresolvedListing},
		{"order_cancelled: listing_sku, no sku", noSKU("a", TypeOrderCancelled, `"order_id":"O-1","listing_sku":"L"`), ReasonUnresolvedListing},
		{"hold: listing_sku, no sku", noSKU("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,`+exp+`,"listing_sku":"L"`), ReasonUnresolvedListing},
		{"hold_released: listing_sku, no sku", noSKU("a", TypeHoldReleased, `"hold_id":"H-1","listing_sku":"L"`), ReasonUnresolvedListing},
		{"pos_sale: listing_sku, no sku", noSKU("a", TypePOSSale, `"channel":"pos","location":"dc","qty":1,"listing_sku":"L"`), ReasonUnresolvedListing},
		{"return: listing_sku, no sku", noSKU("a", TypeReturn, `"location":"dc","qty":1,"listing_sku":"L"`), ReasonUnresolvedListing},
		{"unresolved, even an invalid listing_sku", noSKU("a", TypeReturn, `"location":"dc","qty":1,"listing_sku":7`), ReasonUnresolvedListing},
		{"unresolved before occurred_at", strings.Replace(noSKU("a", TypeReturn, `"location":"dc","qty":1,"listing_sku":"L"`), "2026-11-27T10:00:00Z", "yesterday", 1), ReasonUnresolvedListing},
		{"event_id before unresolved", strings.Replace(noSKU("a", TypeReturn, `"location":"dc","qty":1,"listing_sku":"L"`), `"event_id":"a"`, `"event_id":""`, 1), ReasonInvalidField},
		{"listing_sku null is absent", noSKU("a", TypeReturn, `"location":"dc","qty":1,"listing_sku":null`), ReasonMissingField},
		{"receipt: listing_sku is no field of it", noSKU("a", TypeReceipt, `"location":"dc","qty":1,"listing_sku":"L"`), ReasonMissingField},
		{"order: listing_sku with /", e("a", TypeOrder, `"channel":"web","order_id":"O-9","qty":1,"listing_sku":"L/1"`), ReasonInvalidField},
		{"order: listing_sku last", e("a", TypeOrder, `"channel":"web","order_id":"O-9","qty":1,"location":" x","listing_sku":"L/1"`), ReasonInvalidField},
		// listing: channel, listing_sku, units, active
		{"listing: no channel", e("a", TypeListing, `"listing_sku":"L"`), ReasonMissingField},
		{"listing: channel with /", e("a", TypeListing, `"channel":"w/b","listing_sku":"L"`), ReasonInvalidField},
		{"listing: no listing_sku", e("a", TypeListing, `"channel":"web"`), ReasonMissingField},
		{"listing: listing_sku with /", e("a", TypeListing, `"channel":"web","listing_sku":"A/B"`), ReasonInvalidField},
		{"listing: listing_sku 129 bytes", e("a", TypeListing, `"channel":"web","listing_sku":"`+long(129)+`"`), ReasonInvalidField},
		{"listing: units 0", e("a", TypeListing, `"channel":"web","listing_sku":"L","units":0`), ReasonQuantityOutOfRange},
		{"listing: units 1e9+1", e("a", TypeListing, `"channel":"web","listing_sku":"L","units":1000000001`), ReasonQuantityOutOfRange},
		{"listing: units 2.0", e("a", TypeListing, `"channel":"web","listing_sku":"L","units":2.0`), ReasonInvalidField},
		{"listing: active a number", e("a", TypeListing, `"channel":"web","listing_sku":"L","active":0`), ReasonInvalidField},
		// policies
		{"channel_policy: end_at -1", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100,"end_at":-1`), ReasonQuantityOutOfRange},
		{"channel_policy: max_qty before end_at", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100,"max_qty":-1,"end_at":"x"`), ReasonQuantityOutOfRange},
		{"sku_policy: lead_time_days 0", e("a", TypeSKUPolicy, `"safety_stock":{},"lead_time_days":0`), ReasonInvalidField},
		{"sku_policy: lead_time_days 366", e("a", TypeSKUPolicy, `"safety_stock":{},"lead_time_days":366`), ReasonInvalidField},
		{"sku_policy: reorder_point before lead_time_days", e("a", TypeSKUPolicy, `"safety_stock":{},"reorder_point":-1,"lead_time_days":0`), ReasonQuantityOutOfRange},
		{"sku_channel_policy: no channel", e("a", TypeSKUChannelPolicy, `"exclude":true`), ReasonMissingField},
		{"sku_channel_policy: exclude a string", e("a", TypeSKUChannelPolicy, `"channel":"web","exclude":"true"`), ReasonInvalidField},
		{"sku_channel_policy: repeated location", e("a", TypeSKUChannelPolicy, `"channel":"web","locations":["dc","dc"]`), ReasonInvalidField},
		{"sku_channel_policy: buffer -1", e("a", TypeSKUChannelPolicy, `"channel":"web","buffer":-1`), ReasonQuantityOutOfRange},
		{"sku_channel_policy: share_pct 0", e("a", TypeSKUChannelPolicy, `"channel":"web","share_pct":0`), ReasonInvalidField},
		{"sku_channel_policy: share_pct 101", e("a", TypeSKUChannelPolicy, `"channel":"web","share_pct":101`), ReasonInvalidField},
		{"sku_channel_policy: max_qty -1", e("a", TypeSKUChannelPolicy, `"channel":"web","max_qty":-1`), ReasonQuantityOutOfRange},
		{"sku_channel_policy: end_at 1e9+1", e("a", TypeSKUChannelPolicy, `"channel":"web","end_at":1000000001`), ReasonQuantityOutOfRange},
		{"sku_channel_policy: locations before share_pct", e("a", TypeSKUChannelPolicy, `"channel":"web","share_pct":0,"locations":[""]`), ReasonInvalidField},
		{"sku_channel_policy: buffer before share_pct", e("a", TypeSKUChannelPolicy, `"channel":"web","share_pct":0,"buffer":-1`), ReasonQuantityOutOfRange},
		// transfer_closed
		{"transfer_closed: no transfer_id", e("a", TypeTransferClosed, ``), ReasonMissingField},
		{"transfer_closed: unknown", e("a", TypeTransferClosed, `"transfer_id":"NOPE"`), ReasonUnknownTransfer},
		// clock: event_id, type, occurred_at (and source) only
		{"clock: no occurred_at", `{"event_id":"c","type":"clock"}`, ReasonMissingField},
		{"clock: bad occurred_at", `{"event_id":"c","type":"clock","occurred_at":"now"}`, ReasonInvalidField},
		{"clock: no event_id", `{"type":"clock","occurred_at":"2026-11-27T11:00:00Z"}`, ReasonMissingField},
		{"clock: bad source", `{"event_id":"c","type":"clock","occurred_at":"2026-11-27T11:00:00Z","source":"` + long(129) + `"}`, ReasonInvalidField},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := setupModel2(t)
			before, _ := m.SKU("S")
			nUpdates, nHolds := len(m.Updates()), len(m.HoldResults())
			m.Apply([]byte(c.line))
			dead := m.DeadLetters()
			if len(dead) != 1 || dead[0].Reason != c.reason {
				t.Fatalf("dead letters = %+v, want one %s", dead, c.reason)
			}
			after, _ := m.SKU("S")
			if after.Version != before.Version || after.OpenHolds != before.OpenHolds || after.Unassigned != before.Unassigned {
				t.Errorf("state changed: %+v -> %+v", before, after)
			}
			if len(m.Updates()) != nUpdates || len(m.HoldResults()) != nHolds || len(m.Alerts()) != 0 {
				t.Errorf("a dead letter published something")
			}
		})
	}
}

func TestAcceptedAtTheLimits2(t *testing.T) {
	cases := []struct{ name, line string }{
		{"hold: expires_at exactly 7 days on", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-12-04T10:00:00Z"`)},
		{"hold: expires_at 1µs on, in another zone", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-11-27T11:00:00.000001+01:00"`)},
		{"hold: hold_id 128 printable bytes, spaces too", e("a", TypeHold, `"hold_id":" `+strings.Repeat("~", 127)+`","channel":"web","qty":1,`+exp)},
		{"hold: allow_partial null", e("a", TypeHold, `"hold_id":"H-2","channel":"web","qty":1,`+exp+`,"allow_partial":null`)},
		{"hold_released of a closed hold", e("a", TypeHoldReleased, `"hold_id":"H-C"`)},
		{"order naming no hold", e("a", TypeOrder, `"channel":"web","order_id":"O-9","qty":1,"hold_id":"NOPE"`)},
		{"listing: units 1e9", e("a", TypeListing, `"channel":"web","listing_sku":"L","units":1000000000`)},
		{"listing removing one it does not have", e("a", TypeListing, `"channel":"web","listing_sku":"L","active":false`)},
		{"sku_policy: lead_time_days 365", e("a", TypeSKUPolicy, `"safety_stock":{},"lead_time_days":365`)},
		{"sku_channel_policy: only channel, none to remove", e("a", TypeSKUChannelPolicy, `"channel":"web"`)},
		{"sku_channel_policy: end_at 0, empty locations", e("a", TypeSKUChannelPolicy, `"channel":"web","end_at":0,"locations":[]`)},
		{"transfer_closed", e("a", TypeTransferClosed, `"transfer_id":"T-1"`)},
		{"return with listing_sku", e("a", TypeReturn, `"location":"dc","qty":1,"listing_sku":"L"`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := setupModel2(t)
			before, _ := m.SKU("S")
			m.Apply([]byte(c.line))
			if len(m.DeadLetters()) != 0 {
				t.Fatalf("dead letters = %+v", m.DeadLetters())
			}
			if after, _ := m.SKU("S"); after.Version != before.Version+1 {
				t.Errorf("version %d -> %d, want applied", before.Version, after.Version)
			}
		})
	}
}

func TestClockIgnoresSKUAndIsNoSKUEvent(t *testing.T) {
	m := setupModel2(t)
	before, _ := m.SKU("S")
	// a sku on a clock is ignored, even an invalid one; it touches no SKU
	// that has no hold expiring
	m.Apply([]byte(`{"event_id":"c","type":"clock","occurred_at":"2026-11-27T10:01:00Z","sku":" bad "}`))
	if len(m.DeadLetters()) != 0 {
		t.Fatalf("dead letters = %+v", m.DeadLetters())
	}
	if after, _ := m.SKU("S"); after.Version != before.Version || len(m.SKUs()) != 1 {
		t.Errorf("a clock with no expiry touched a SKU: version %d -> %d, SKUs %v", before.Version, after.Version, m.SKUs())
	}
}
