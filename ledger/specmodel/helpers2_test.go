package specmodel

// Checks for part 2's outputs: hold results, listings, unassigned per
// channel, the sales window, and updates with listings and removals.

import (
	"reflect"
	"strings"
	"testing"
)

// want2 is what worked-examples-2.md lists after a stream, beyond part 1's.
type want2 struct {
	wantSKU
	unassignedBy map[string]int64 // nil: none
	listings     map[string]int64 // active listings; nil: none
	sold28       *int64           // nil: not checked
	projected    *int64
	openHolds    int
}

func checkSKU2(t *testing.T, m *Model, sku string, w want2) {
	t.Helper()
	checkSKU(t, m, sku, w.wantSKU)
	v, _ := m.SKU(sku)
	nz := func(x map[string]int64) map[string]int64 {
		if x == nil {
			return map[string]int64{}
		}
		return x
	}
	if !reflect.DeepEqual(v.UnassignedBy, nz(w.unassignedBy)) {
		t.Errorf("%s unassigned per channel = %v, want %v", sku, v.UnassignedBy, w.unassignedBy)
	}
	if !reflect.DeepEqual(v.Listings, nz(w.listings)) {
		t.Errorf("%s listings = %v, want %v", sku, v.Listings, w.listings)
	}
	if w.sold28 != nil && v.Sold28 != *w.sold28 {
		t.Errorf("%s sold28 = %d, want %d", sku, v.Sold28, *w.sold28)
	}
	if w.projected != nil && v.Projected != *w.projected {
		t.Errorf("%s projected = %d, want %d", sku, v.Projected, *w.projected)
	}
	if v.OpenHolds != w.openHolds {
		t.Errorf("%s open holds = %d, want %d", sku, v.OpenHolds, w.openHolds)
	}
}

// fmtHold renders a hold result as the worked examples list them:
// "sku/hold_id channel@location status requested granted available version cause".
func fmtHold(h HoldResult) string {
	loc := "-"
	if h.HasLocation {
		loc = h.Location
	}
	return h.SKU + "/" + h.HoldID + " " + h.Channel + "@" + loc + " " + h.Status +
		" req=" + itoa(h.Requested) + " granted=" + itoa(h.Granted) + " avail=" + itoa(h.Available) +
		" v=" + itoa(h.Version) + " from=" + h.CauseEventID
}

func checkHolds(t *testing.T, m *Model, want ...string) {
	t.Helper()
	var got []string
	for _, h := range m.HoldResults() {
		got = append(got, fmtHold(h))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hold results:\n got\n  %s\n want\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func checkAlertsExactly(t *testing.T, m *Model, want ...Alert) {
	t.Helper()
	if got := m.Alerts(); fmtAlerts(got) != fmtAlerts(want) {
		t.Errorf("alerts:\n got  %s\n want %s", fmtAlerts(got), fmtAlerts(want))
	}
}

// checkUpdates2: for each key (channel/sku, or channel/sku/listing_sku)
// versions only grow and previous chains, each update changes the value
// except a removal's 0 (after which the key is first known again); the
// last update of each key is the final value (a removed key's is 0).
func checkUpdates2(t *testing.T, m *Model) {
	t.Helper()
	last := map[string]Update{}
	for _, u := range m.Updates() {
		k := u.Channel + "/" + u.SKU
		if u.ListingSKU != "" {
			k += "/" + u.ListingSKU
		}
		prev, seen := last[k]
		switch {
		case !seen && u.Previous != nil:
			t.Errorf("first update of %s has previous %d", k, *u.Previous)
		case seen && u.Version <= prev.Version:
			t.Errorf("update of %s: version %d after %d", k, u.Version, prev.Version)
		case seen && prev.Previous != nil && prev.Available == 0 && u.Previous == nil:
			// first known again after a removal
		case seen && (u.Previous == nil || *u.Previous != prev.Available):
			t.Errorf("update of %s: previous %v, want %d", k, u.Previous, prev.Available)
		}
		last[k] = u
	}
	want := m.Final()
	for _, sku := range m.SKUs() {
		v, _ := m.SKU(sku)
		for cl, n := range v.Listings {
			ch, l, _ := strings.Cut(cl, "/")
			want[ch+"/"+sku+"/"+l] = n
		}
	}
	for k, u := range last {
		if _, ok := want[k]; !ok && u.Available != 0 {
			t.Errorf("%s: last update %d, but the key is gone", k, u.Available)
		}
	}
	for k, v := range want {
		if u, ok := last[k]; !ok || u.Available != v {
			t.Errorf("final %s = %d, last update %+v", k, v, u)
		}
	}
}

// splitLines returns the non-blank lines of a stream; joinLines puts some
// back together for run.
func splitLines(stream string) []string {
	var out []string
	for _, l := range strings.Split(stream, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }
