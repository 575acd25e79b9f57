package specmodel

// Holds and the partition clock, as DECISIONS.md part 2 settles what
// ledger-semantics-2.md leaves open.

import (
	"testing"
)

func TestOrderNamingAHold(t *testing.T) {
	m := setupModel2(t) // H-1: web, 1 unit, no location
	// a dead-lettered order leaves the hold open
	m.Apply([]byte(e("o-dup", TypeOrder, `"channel":"web","order_id":"O-1","qty":1,"hold_id":"H-1"`)))
	if v, _ := m.SKU("S"); v.OpenHolds != 1 || v.UnassignedBy["web"] != 1 {
		t.Fatalf("after a dead order: open holds %d, unassigned %v", v.OpenHolds, v.UnassignedBy)
	}
	// an order of another channel converts it: the hold's units leave
	// unassigned(web), the order's go to unassigned(amazon)
	m.Apply([]byte(e("o9", TypeOrder, `"channel":"amazon","order_id":"O-9","qty":2,"hold_id":"H-1"`)))
	v, _ := m.SKU("S")
	if v.OpenHolds != 0 || len(v.UnassignedBy) != 1 || v.UnassignedBy["amazon"] != 2 {
		t.Errorf("after the order: open holds %d, unassigned %v", v.OpenHolds, v.UnassignedBy)
	}
	hr := m.HoldResults()
	// web: dc has 14 on hand, 2 reserved by O-1: 12, less unassigned(amazon)
	// 2 (amazon has no policy: its empty list overlaps web's)
	if got := fmtHold(hr[len(hr)-1]); got != "S/H-1 web@- converted req=1 granted=0 avail=10 v="+itoa(v.Version)+" from=o9" {
		t.Errorf("hold result %s", got)
	}
	if last := hr[len(hr)-1]; last.Status != HoldConverted || last.Channel != "web" || last.Available != v.Channels["web"] || last.Version != v.Version {
		t.Errorf("converted result %+v, web ats %d version %d", last, v.Channels["web"], v.Version)
	}
	// an order naming a closed hold is a plain order
	m.Apply([]byte(e("o10", TypeOrder, `"channel":"web","order_id":"O-10","qty":1,"hold_id":"H-C"`)))
	if len(m.HoldResults()) != len(hr) || len(m.DeadLetters()) != 1 {
		t.Errorf("an order naming a closed hold published %v, dead %v", m.HoldResults()[len(hr):], m.DeadLetters())
	}
}

func TestHoldReleased(t *testing.T) {
	m := setupModel2(t)
	v0, _ := m.SKU("S")
	// of a closed hold: applied, releases nothing, no hold result
	m.Apply([]byte(e("x1", TypeHoldReleased, `"hold_id":"H-C"`)))
	v1, _ := m.SKU("S")
	if v1.Version != v0.Version+1 || len(m.HoldResults()) != 3 || v1.UnassignedBy["web"] != 1 {
		t.Errorf("release of a closed hold: version %d -> %d, results %d, unassigned %v", v0.Version, v1.Version, len(m.HoldResults()), v1.UnassignedBy)
	}
	// of an open one: released whole, one result
	m.Apply([]byte(e("x2", TypeHoldReleased, `"hold_id":"H-1"`)))
	v2, _ := m.SKU("S")
	hr := m.HoldResults()
	if len(hr) != 4 || fmtHold(hr[3]) != "S/H-1 web@- released req=1 granted=0 avail="+itoa(v2.Channels["web"])+" v="+itoa(v2.Version)+" from=x2" {
		t.Errorf("hold results %+v", hr)
	}
	if v2.Unassigned != 0 || v2.OpenHolds != 0 {
		t.Errorf("after release: %+v", v2)
	}
}

func TestHoldResultExpiresAtIsUTC(t *testing.T) {
	m := New()
	m.Apply([]byte(e("r", TypeReceipt, `"location":"dc","qty":5`)))
	m.Apply([]byte(e("h", TypeHold, `"hold_id":"H","channel":"web","qty":1,"expires_at":"2026-11-27T11:15:00.5000009+01:00"`)))
	hr := m.HoldResults()
	if len(hr) != 1 || hr[0].ExpiresAt != "2026-11-27T10:15:00.5Z" || hr[0].Status != HoldGranted {
		t.Errorf("hold results %+v, want expires_at 2026-11-27T10:15:00.5Z (UTC, microseconds)", hr)
	}
}

func TestClockExpiresEachSKUOnce(t *testing.T) {
	hold := func(sku, id, until string) string {
		return `{"event_id":"` + sku + id + `","type":"hold","sku":"` + sku + `",` + ts +
			`,"hold_id":"` + id + `","channel":"web","qty":1,"expires_at":"2026-11-27T` + until + `Z"}`
	}
	m := run(t, e("p", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`)+`
{"event_id":"ra","type":"receipt","sku":"A",`+ts+`,"location":"dc","qty":5}
{"event_id":"rb","type":"receipt","sku":"B",`+ts+`,"location":"dc","qty":5}
`+hold("B", "H-1", "10:05:00")+"\n"+hold("A", "H-2", "10:06:00")+"\n"+hold("B", "H-3", "10:04:00")+"\n"+
		hold("A", "H-1", "10:05:00")+"\n"+hold("A", "H-9", "10:30:00")+`
{"event_id":"tick","type":"clock","occurred_at":"2026-11-27T10:10:00Z"}
`)
	// (expires_at, sku, hold_id): B/H-3, A/H-1, B/H-1, A/H-2: B first, then A;
	// within a SKU in (expires_at, hold_id) order; one version each; available
	// after all the SKU's releases
	checkHolds(t, m,
		"B/H-1 web@- granted req=1 granted=1 avail=4 v=2 from=BH-1",
		"A/H-2 web@- granted req=1 granted=1 avail=4 v=2 from=AH-2",
		"B/H-3 web@- granted req=1 granted=1 avail=3 v=3 from=BH-3",
		"A/H-1 web@- granted req=1 granted=1 avail=3 v=3 from=AH-1",
		"A/H-9 web@- granted req=1 granted=1 avail=2 v=4 from=AH-9",
		"B/H-3 web@- expired req=1 granted=0 avail=5 v=4 from=tick",
		"B/H-1 web@- expired req=1 granted=0 avail=5 v=4 from=tick",
		"A/H-1 web@- expired req=1 granted=0 avail=4 v=5 from=tick",
		"A/H-2 web@- expired req=1 granted=0 avail=4 v=5 from=tick",
	)
	var tail string
	for _, u := range m.Updates() {
		if u.CauseEventID == "tick" {
			tail += fmtUpdates([]Update{u})
		}
	}
	if want := "{web/B 5 prev=3 v=4 cause=tick} {web/A 4 prev=2 v=5 cause=tick} "; tail != want {
		t.Errorf("clock updates %s, want %s", tail, want)
	}
	checkUpdates2(t, m)
}

// Via ApplyRecord each partition has its own clock, and a clock expires
// only the holds of SKUs whose events sit in its partition.
func TestPartitionClocks(t *testing.T) {
	const n = 8 // TEE is in partition 7, MUG in 2 (worked example 16)
	m := New()
	rec := func(p int32, key, line string) {
		r := Record{Partition: p, Partitions: n, Value: []byte(line)}
		if key != "" {
			r.Key = []byte(key)
		}
		m.ApplyRecord(r)
	}
	ev := func(sku, id, typ, body string) string {
		return `{"event_id":"` + id + `","type":"` + typ + `","sku":"` + sku + `",` + ts + `,` + body + `}`
	}
	clock := func(at string) string {
		return `{"event_id":"clock","type":"clock","occurred_at":"2026-11-27T` + at + `Z"}`
	}
	hold := func(id, until string) string {
		return `"hold_id":"` + id + `","channel":"web","qty":1,"expires_at":"2026-11-27T` + until + `Z"`
	}
	rec(0, "", e("p", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`))
	rec(7, "TEE", ev("TEE", "r1", TypeReceipt, `"location":"dc","qty":5`))
	rec(2, "MUG", ev("MUG", "r2", TypeReceipt, `"location":"dc","qty":5`))
	rec(7, "TEE", ev("TEE", "h1", TypeHold, hold("H-1", "10:05:00")))
	rec(2, "MUG", ev("MUG", "h2", TypeHold, hold("H-1", "10:05:00")))
	rec(2, "", clock("10:10:00")) // MUG's partition only
	rec(7, "TEE", ev("TEE", "h3", TypeHold, hold("H-2", "10:07:00")))
	rec(5, "x", clock("10:20:00")) // a partition with no SKU
	rec(7, "", clock("10:06:00"))  // TEE's: H-1 expires, H-2 not yet
	rec(2, "MUG", ev("MUG", "h4", TypeHold, hold("H-2", "10:08:00")))
	checkHolds(t, m,
		"TEE/H-1 web@- granted req=1 granted=1 avail=4 v=2 from=h1",
		"MUG/H-1 web@- granted req=1 granted=1 avail=4 v=2 from=h2",
		"MUG/H-1 web@- expired req=1 granted=0 avail=5 v=3 from=clock",
		"TEE/H-2 web@- granted req=1 granted=1 avail=3 v=3 from=h3",
		"TEE/H-1 web@- expired req=1 granted=0 avail=4 v=4 from=clock",
		"MUG/H-2 web@- expired req=1 granted=0 avail=5 v=4 from=h4",
	)
	if len(m.DeadLetters()) != 0 || m.Duplicates() != 0 {
		t.Errorf("dead %+v, duplicates %d", m.DeadLetters(), m.Duplicates())
	}
}

func TestClockMovesOnlyForward(t *testing.T) {
	m := New()
	m.Apply([]byte(e("r", TypeReceipt, `"location":"dc","qty":5`)))
	m.Apply([]byte(e("h", TypeHold, `"hold_id":"H","channel":"web","qty":1,"expires_at":"2026-11-27T10:05:00Z"`)))
	for _, at := range []string{"10:04:59", "10:04:00", "10:04:59"} {
		m.Apply([]byte(`{"event_id":"c","type":"clock","occurred_at":"2026-11-27T` + at + `Z"}`))
	}
	if v, _ := m.SKU("S"); v.OpenHolds != 1 || v.Version != 2 {
		t.Fatalf("clocks before expiry: %+v", v)
	}
	// the same event id, a later time: not de-duplicated, expires at equality
	m.Apply([]byte(`{"event_id":"c","type":"clock","occurred_at":"2026-11-27T10:05:00Z"}`))
	if v, _ := m.SKU("S"); v.OpenHolds != 0 || v.Version != 3 || m.Duplicates() != 0 {
		t.Errorf("clock at expires_at: %+v, duplicates %d", v, m.Duplicates())
	}
	// a hold expiring at the clock is refused as expired
	m.Apply([]byte(e("h2", TypeHold, `"hold_id":"H2","channel":"web","qty":1,"expires_at":"2026-11-27T10:05:00Z"`)))
	if hr := m.HoldResults(); hr[len(hr)-1].Status != HoldExpired || hr[len(hr)-1].Granted != 0 {
		t.Errorf("hold at the clock: %+v", hr[len(hr)-1])
	}
}

func TestHoldsRaiseNoStockAlerts(t *testing.T) {
	m := run(t, e("p", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`)+"\n"+
		e("sp", TypeSKUPolicy, `"safety_stock":{},"reorder_point":5,"lead_time_days":30`)+"\n"+
		e("r", TypeReceipt, `"location":"dc","qty":6`)+"\n"+
		e("o", TypeOrder, `"channel":"web","order_id":"O","qty":1,"location":"dc"`)+"\n"+
		e("h", TypeHold, `"hold_id":"H","channel":"web","qty":5,"location":"dc","expires_at":"2026-11-27T10:05:00Z"`)+"\n"+
		e("x", TypeHoldReleased, `"hold_id":"H"`)+"\n"+
		e("h2", TypeHold, `"hold_id":"H2","channel":"web","qty":5,"expires_at":"2026-11-27T10:05:00Z"`)+"\n"+
		`{"event_id":"c","type":"clock","occurred_at":"2026-11-27T10:06:00Z"}`)
	// the order: total 6 -> 5 (low_stock); sold28 1, projected 5: 140 < 30,
	// no reorder; holds come and go with nothing raised
	checkAlertsExactly(t, m, Alert{Kind: AlertLowStock, SKU: "S", Total: i64(5), ReorderPoint: i64(5), Version: 3, CauseEventID: "o"})
	if v, _ := m.SKU("S"); v.Version != 7 || v.OpenHolds != 0 {
		t.Errorf("S = %+v", v)
	}
}

func TestPlacementOfPart2Events(t *testing.T) {
	m := New()
	// TEE belongs to partition 7 of 8
	for _, r := range []Record{
		{Partition: 1, Partitions: 8, Key: []byte("TEE"), Value: []byte(`{"event_id":"h","type":"hold","sku":"TEE",` + ts + `,"hold_id":"H","channel":"web","qty":1,` + exp + `}`)},
		{Partition: 1, Partitions: 8, Key: []byte("TEE"), Value: []byte(`{"event_id":"l","type":"listing","sku":"TEE",` + ts + `,"channel":"web","listing_sku":"L"}`)},
		// no sku: cannot be placed, so unresolved where it sits
		{Partition: 1, Partitions: 8, Key: []byte("TEE"), Value: []byte(`{"event_id":"o","type":"order",` + ts + `,"channel":"web","order_id":"O","qty":1,"listing_sku":"L"}`)},
		// a clock with a sku and a key is still every partition's
		{Partition: 1, Partitions: 8, Key: []byte("TEE"), Value: []byte(`{"event_id":"c","type":"clock","sku":"TEE","occurred_at":"2026-11-27T10:00:00Z"}`)},
	} {
		m.ApplyRecord(r)
	}
	checkDeadPlaced(t, m,
		wantDead{"h", ReasonWrongPartition, 7, false},
		wantDead{"l", ReasonWrongPartition, 7, false},
		wantDead{"o", ReasonUnresolvedListing, -1, false},
	)
}

func TestNeverPanics2(t *testing.T) {
	lines := []string{
		e("a", TypeHold, `"hold_id":"H","channel":"web","qty":1,"expires_at":"9999-12-31T23:59:59Z"`),
		e("b", TypeHold, `"hold_id":"H","channel":"web","qty":1,"expires_at":"0000-01-01T00:00:00Z"`),
		`{"event_id":"c","type":"clock","occurred_at":"0001-01-01T00:00:00Z"}`,
		`{"event_id":"c","type":"clock","occurred_at":"9999-12-31T23:59:59.999999999Z"}`,
		e("d", TypeSKUChannelPolicy, `"channel":"web","locations":null,"buffer":null`),
		e("f", TypeListing, `"channel":"web","listing_sku":"L","units":null,"active":null`),
		e("g", TypeTransferClosed, `"transfer_id":"T"`),
		e("h", TypeHoldReleased, `"hold_id":"H"`),
		e("i", TypePOSSale, `"channel":"pos","location":"dc","qty":1000000000`),
		e("j", TypeSKUPolicy, `"safety_stock":{},"lead_time_days":365`),
		e("k", TypeOrder, `"channel":"web","order_id":"O","qty":1000000000,"hold_id":"H"`),
	}
	m := New()
	for _, l := range lines {
		m.Apply([]byte(l))
		m.SKU("S")
	}
	if len(m.DeadLetters()) != 4 { // a, b (expires_at), g (unknown transfer), h (unknown hold)
		t.Errorf("dead letters %+v", m.DeadLetters())
	}
}
