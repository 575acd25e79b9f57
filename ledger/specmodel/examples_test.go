package specmodel

// The worked examples of /work/shared/spec/worked-examples.md, with the
// expected results copied from that page.

import (
	"strings"
	"testing"
)

// run folds the given JSON lines (blank lines and surrounding space ignored).
func run(t *testing.T, lines string) *Model {
	t.Helper()
	m := New()
	for _, l := range strings.Split(lines, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		m.Apply([]byte(l))
	}
	return m
}

type wantSKU struct {
	version    int64
	unassigned int64
	locations  map[string]LocationView
	channels   map[string]int64
}

func checkSKU(t *testing.T, m *Model, sku string, w wantSKU) {
	t.Helper()
	v, ok := m.SKU(sku)
	if !ok {
		t.Fatalf("SKU %s unknown", sku)
	}
	if v.Version != w.version {
		t.Errorf("%s version = %d, want %d", sku, v.Version, w.version)
	}
	if v.Unassigned != w.unassigned {
		t.Errorf("%s unassigned = %d, want %d", sku, v.Unassigned, w.unassigned)
	}
	if w.locations != nil {
		if len(v.Locations) != len(w.locations) {
			t.Errorf("%s locations = %v, want %v", sku, v.Locations, w.locations)
		}
		for name, wl := range w.locations {
			if gl, ok := v.Locations[name]; !ok || gl != wl {
				t.Errorf("%s/%s = %+v, want %+v", sku, name, gl, wl)
			}
		}
	}
	if w.channels != nil {
		if len(v.Channels) != len(w.channels) {
			t.Errorf("%s channels = %v, want %v", sku, v.Channels, w.channels)
		}
		for ch, want := range w.channels {
			if got, ok := v.Channels[ch]; !ok || got != want {
				t.Errorf("%s ats(%s) = %d (known %v), want %d", sku, ch, got, ok, want)
			}
			if got, ok := m.Final()[ch+"/"+sku]; !ok || got != want {
				t.Errorf("Final[%s/%s] = %d (known %v), want %d", ch, sku, got, ok, want)
			}
		}
	}
}

// alertKey is kind@cause plus the alert's defining quantity.
type alertKey struct {
	kind, cause string
	qty         int64
}

func keyOf(a Alert) alertKey {
	k := alertKey{kind: a.Kind, cause: a.CauseEventID}
	switch {
	case a.Shortfall != nil:
		k.qty = *a.Shortfall
	case a.Units != nil:
		k.qty = *a.Units
	case a.OnHand != nil:
		k.qty = *a.OnHand
	case a.Total != nil:
		k.qty = *a.Total
	}
	return k
}

func checkAlerts(t *testing.T, m *Model, want ...alertKey) {
	t.Helper()
	got := m.Alerts()
	if len(got) != len(want) {
		t.Errorf("alerts = %+v, want %+v", got, want)
		return
	}
	for i := range want {
		if keyOf(got[i]) != want[i] {
			t.Errorf("alert %d = %+v, want %+v", i, keyOf(got[i]), want[i])
		}
	}
}

func checkDead(t *testing.T, m *Model, want ...[2]string) {
	t.Helper()
	got := m.DeadLetters()
	if len(got) != len(want) {
		t.Errorf("dead letters = %+v, want %v", got, want)
		return
	}
	for i := range want {
		if got[i].EventID != want[i][0] || got[i].Reason != want[i][1] {
			t.Errorf("dead letter %d = %s/%s, want %s/%s", i, got[i].EventID, got[i].Reason, want[i][0], want[i][1])
		}
	}
}

// checkFinalMatchesUpdates: the last update of every key is the final ats,
// every key has one, versions only grow per key, previous chains.
func checkFinalMatchesUpdates(t *testing.T, m *Model) {
	t.Helper()
	last := map[string]Update{}
	for _, u := range m.Updates() {
		k := u.Channel + "/" + u.SKU
		prev, seen := last[k]
		switch {
		case !seen && u.Previous != nil:
			t.Errorf("first update of %s has previous %d", k, *u.Previous)
		case seen && (u.Previous == nil || *u.Previous != prev.Available):
			t.Errorf("update of %s: previous %v, want %d", k, u.Previous, prev.Available)
		case seen && u.Version <= prev.Version:
			t.Errorf("update of %s: version %d after %d", k, u.Version, prev.Version)
		case seen && u.Available == prev.Available:
			t.Errorf("update of %s without a change", k)
		}
		last[k] = u
	}
	final := m.Final()
	if len(final) != len(last) {
		t.Errorf("Final has %d keys, updates cover %d", len(final), len(last))
	}
	for k, v := range final {
		if u, ok := last[k]; !ok || u.Available != v {
			t.Errorf("Final[%s] = %d, last update %+v", k, v, u)
		}
	}
}

const fourPolicies = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-ebay","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"ebay","locations":["dc"],"buffer":0,"share_pct":40,"max_qty":10}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
`

func TestExample1BufferShareCap(t *testing.T) {
	m := run(t, fourPolicies+`
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"store","qty":3}
`)
	checkSKU(t, m, "TEE", wantSKU{
		version: 2,
		locations: map[string]LocationView{
			"dc":    {OnHand: 10, Available: 10},
			"store": {OnHand: 3, Available: 3},
		},
		channels: map[string]int64{"amazon": 8, "ebay": 4, "pos": 3, "web": 13},
	})
	checkAlerts(t, m)
	checkDead(t, m)
	if m.Duplicates() != 0 {
		t.Errorf("duplicates = %d", m.Duplicates())
	}
	if got := m.SKUs(); len(got) != 1 || got[0] != "TEE" {
		t.Errorf("SKUs = %v", got)
	}
	checkFinalMatchesUpdates(t, m)
}

func TestExample2SafetyStock(t *testing.T) {
	m := run(t, fourPolicies+`
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"sp","type":"sku_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","safety_stock":{"dc":4}}
`)
	checkSKU(t, m, "TEE", wantSKU{
		version:   2,
		locations: map[string]LocationView{"dc": {OnHand: 10, SafetyStock: 4, Available: 6}},
		channels:  map[string]int64{"amazon": 4, "ebay": 2, "pos": 0, "web": 6},
	})
	checkAlerts(t, m)
	checkDead(t, m)
	checkFinalMatchesUpdates(t, m)
}

func TestExample3UnassignedOrder(t *testing.T) {
	m := run(t, fourPolicies+`
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"o1","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","order_id":"W-1","qty":3}
{"event_id":"s1","type":"shipment","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","order_id":"W-1","location":"dc","qty":3}
`)
	checkSKU(t, m, "TEE", wantSKU{
		version:   3,
		locations: map[string]LocationView{"dc": {OnHand: 7, Available: 7}},
		channels:  map[string]int64{"amazon": 5, "ebay": 2, "pos": 0, "web": 7},
	})
	checkAlerts(t, m)
	checkDead(t, m)
	checkFinalMatchesUpdates(t, m)
}

func TestExample3IntermediateState(t *testing.T) {
	// After o1 only: unassigned 3 lowers every channel's pool.
	m := run(t, fourPolicies+`
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"o1","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","order_id":"W-1","qty":3}
`)
	// web: 10-3 = 7; amazon: 10-3-2 = 5; ebay: floor(7*40/100) = 2; pos: max(0, 0-3) = 0
	checkSKU(t, m, "TEE", wantSKU{
		version:    2,
		unassigned: 3,
		locations:  map[string]LocationView{"dc": {OnHand: 10, Available: 10}},
		channels:   map[string]int64{"amazon": 5, "ebay": 2, "pos": 0, "web": 7},
	})
}

func TestExample4StoreSaleOversold(t *testing.T) {
	m := run(t, fourPolicies+`
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","location":"store","qty":2}
{"event_id":"o1","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","channel":"web","order_id":"W-9","qty":2,"location":"store"}
{"event_id":"x1","type":"pos_sale","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","channel":"pos","location":"store","qty":1}
`)
	checkSKU(t, m, "MUG", wantSKU{
		version:   3,
		locations: map[string]LocationView{"store": {OnHand: 1, Reserved: 2, Available: -1}},
		channels:  map[string]int64{"amazon": 0, "ebay": 0, "pos": 0, "web": 0},
	})
	checkAlerts(t, m, alertKey{AlertOversold, "x1", 1})
	a := m.Alerts()[0]
	if a.SKU != "MUG" || a.Location != "store" || a.Channel != "pos" || a.OrderID != "" || a.Version != 3 {
		t.Errorf("oversold alert = %+v", a)
	}
	checkDead(t, m)
	checkFinalMatchesUpdates(t, m)
}

func TestExample5PurchaseOrder(t *testing.T) {
	m := run(t, `
{"event_id":"po","type":"purchase_order","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","po_id":"PO-1","location":"dc","qty":50}
{"event_id":"g1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","po_id":"PO-1","location":"dc","qty":30}
{"event_id":"pc","type":"purchase_order_closed","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","po_id":"PO-1"}
{"event_id":"g2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","po_id":"PO-1","location":"dc","qty":5}
`)
	checkSKU(t, m, "CAP", wantSKU{
		version:   4,
		locations: map[string]LocationView{"dc": {OnHand: 35, Available: 35}},
		channels:  map[string]int64{},
	})
	checkAlerts(t, m, alertKey{AlertPOShort, "pc", 20}, alertKey{AlertReceiptOver, "g2", 5})
	checkDead(t, m)
	if len(m.Updates()) != 0 || len(m.Final()) != 0 {
		t.Errorf("no channel has a policy, yet updates %v final %v", m.Updates(), m.Final())
	}
}

func TestExample5IntermediateIncoming(t *testing.T) {
	m := run(t, `
{"event_id":"po","type":"purchase_order","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","po_id":"PO-1","location":"dc","qty":50}
`)
	checkSKU(t, m, "CAP", wantSKU{version: 1, locations: map[string]LocationView{"dc": {Incoming: 50}}})
	m.Apply([]byte(`{"event_id":"g1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","po_id":"PO-1","location":"dc","qty":30}`))
	checkSKU(t, m, "CAP", wantSKU{version: 2, locations: map[string]LocationView{"dc": {OnHand: 30, Incoming: 20, Available: 30}}})
}

func TestExample6Transfer(t *testing.T) {
	m := run(t, `
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","location":"dc","qty":20}
{"event_id":"t1","type":"transfer_out","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1","location":"dc","to_location":"store","qty":8}
{"event_id":"t2","type":"transfer_in","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1","qty":7}
`)
	checkSKU(t, m, "BAG", wantSKU{
		version: 3,
		locations: map[string]LocationView{
			"dc":    {OnHand: 12, Available: 12},
			"store": {OnHand: 7, Incoming: 1, Available: 7},
		},
	})
	checkAlerts(t, m)
	checkDead(t, m)
}

func TestExample7RetriesRefusalsCount(t *testing.T) {
	m := run(t, `
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"HAT","location":"dc","qty":6}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"HAT","location":"dc","qty":6}
{"event_id":"c1","type":"order_cancelled","occurred_at":"2026-11-27T10:00:00Z","sku":"HAT","order_id":"NOPE"}
{"event_id":"k1","type":"stock_count","occurred_at":"2026-11-27T10:00:00Z","sku":"HAT","location":"dc","counted":4}
{"event_id":"rt","type":"return","occurred_at":"2026-11-27T10:00:00Z","sku":"HAT","location":"dc","qty":1,"resellable":false}
`)
	checkSKU(t, m, "HAT", wantSKU{
		version:   3,
		locations: map[string]LocationView{"dc": {OnHand: 5, Unavailable: 1, Available: 4}},
	})
	checkDead(t, m, [2]string{"c1", ReasonUnknownOrder})
	if m.Duplicates() != 1 {
		t.Errorf("duplicates = %d, want 1", m.Duplicates())
	}
	checkAlerts(t, m)
	dl := m.DeadLetters()[0]
	if string(dl.Line) != `{"event_id":"c1","type":"order_cancelled","occurred_at":"2026-11-27T10:00:00Z","sku":"HAT","order_id":"NOPE"}` {
		t.Errorf("dead letter line = %s", dl.Line)
	}
}

func TestExample8LowStockOnCrossing(t *testing.T) {
	m := run(t, `
{"event_id":"sp","type":"sku_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"SOCK","safety_stock":{},"reorder_point":5}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"SOCK","location":"store","qty":12}
{"event_id":"x1","type":"pos_sale","occurred_at":"2026-11-27T10:00:00Z","sku":"SOCK","channel":"pos","location":"store","qty":5}
{"event_id":"x2","type":"pos_sale","occurred_at":"2026-11-27T10:00:00Z","sku":"SOCK","channel":"pos","location":"store","qty":3}
{"event_id":"x3","type":"pos_sale","occurred_at":"2026-11-27T10:00:00Z","sku":"SOCK","channel":"pos","location":"store","qty":1}
`)
	checkSKU(t, m, "SOCK", wantSKU{
		version:   5,
		locations: map[string]LocationView{"store": {OnHand: 3, Available: 3}},
	})
	checkAlerts(t, m, alertKey{AlertLowStock, "x2", 4})
	a := m.Alerts()[0]
	if a.SKU != "SOCK" || a.ReorderPoint == nil || *a.ReorderPoint != 5 || a.Version != 4 || a.Location != "" || a.Channel != "" {
		t.Errorf("low_stock alert = %+v", a)
	}
	checkDead(t, m)
}
