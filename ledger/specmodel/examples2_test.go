package specmodel

// The worked examples of /work/shared/spec/worked-examples-2.md (1 to 15;
// 16, placement, is TestExample16Placement), with the "After them" values,
// hold results, alerts and dead letters copied from that page.

import (
	"strings"
	"testing"
)

func dc(onHand int64) LocationView { return LocationView{OnHand: onHand, Available: onHand} }

func TestExample2_1HoldConverted(t *testing.T) {
	m := run(t, example2_1)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 3, unassigned: 3,
			locations: map[string]LocationView{"dc": dc(10)},
			channels:  map[string]int64{"amazon": 5, "pos": 0, "web": 7}},
		unassignedBy: map[string]int64{"web": 3},
	})
	checkHolds(t, m,
		"TEE/H-1 web@- granted req=3 granted=3 avail=7 v=2 from=h1",
		"TEE/H-1 web@- converted req=3 granted=0 avail=7 v=3 from=o1",
	)
	checkAlerts(t, m)
	checkDead(t, m)
	checkUpdates2(t, m)
}

func TestExample2_2LastUnitsRace(t *testing.T) {
	m := run(t, example2_2)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 4, unassigned: 5,
			locations: map[string]LocationView{"dc": dc(5)},
			channels:  map[string]int64{"amazon": 0, "pos": 0, "web": 0}},
		unassignedBy: map[string]int64{"web": 5},
		openHolds:    2,
	})
	checkHolds(t, m,
		"TEE/H-1 web@- granted req=4 granted=4 avail=1 v=2 from=h1",
		"TEE/H-2 web@- refused req=2 granted=0 avail=1 v=3 from=h2",
		"TEE/H-3 web@- partial req=2 granted=1 avail=0 v=4 from=h3",
	)
	checkAlerts(t, m)
	checkDead(t, m)
	checkUpdates2(t, m)
}

func TestExample2_3HoldsExpireOnClock(t *testing.T) {
	m := run(t, example2_3)
	checkSKU2(t, m, "MUG", want2{wantSKU: wantSKU{version: 1,
		locations: map[string]LocationView{"dc": dc(4)},
		channels:  map[string]int64{"amazon": 2, "pos": 0, "web": 4}}})
	checkSKU2(t, m, "TEE", want2{wantSKU: wantSKU{version: 5,
		locations: map[string]LocationView{"dc": dc(10)},
		channels:  map[string]int64{"amazon": 8, "pos": 0, "web": 10}}})
	checkHolds(t, m,
		"TEE/H-1 web@- granted req=2 granted=2 avail=8 v=2 from=h1",
		"TEE/H-2 amazon@dc granted req=3 granted=3 avail=3 v=3 from=h2",
		"TEE/H-1 web@- expired req=2 granted=0 avail=7 v=4 from=clock/0/1795773960000",
		"TEE/H-2 amazon@dc expired req=3 granted=0 avail=8 v=5 from=clock/0/1795774800000",
	)
	checkAlerts(t, m)
	checkDead(t, m)
	if m.Duplicates() != 0 {
		t.Errorf("duplicates = %d: clock events are not de-duplicated", m.Duplicates())
	}
	// the updates the expiries cause name the clock event
	var causes []string
	for _, u := range m.Updates() {
		if u.SKU == "TEE" && u.Version >= 4 {
			causes = append(causes, u.Channel+"@"+u.CauseEventID)
		}
	}
	want := "amazon@clock/0/1795773960000 web@clock/0/1795773960000 amazon@clock/0/1795774800000 web@clock/0/1795774800000"
	if got := strings.Join(causes, " "); got != want {
		t.Errorf("updates of the expiries: %s, want %s", got, want)
	}
	checkUpdates2(t, m)
}

func TestExample2_4HoldRefusedByClock(t *testing.T) {
	m := run(t, example2_4)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 3, unassigned: 1,
			locations: map[string]LocationView{"dc": dc(10)},
			channels:  map[string]int64{"web": 9}},
		unassignedBy: map[string]int64{"web": 1},
		openHolds:    1,
	})
	checkHolds(t, m,
		"TEE/H-1 web@- expired req=1 granted=0 avail=10 v=2 from=h1",
		"TEE/H-2 web@- granted req=1 granted=1 avail=9 v=3 from=h2",
	)
	checkDead(t, m, [2]string{"h3", ReasonInvalidField}) // invalid expires_at
	checkAlerts(t, m)
	checkUpdates2(t, m)
}

func TestExample2_5HoldAtLocation(t *testing.T) {
	m := run(t, example2_5)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 4,
			locations: map[string]LocationView{"dc": dc(10), "store": {OnHand: 2, Reserved: 2}},
			channels:  map[string]int64{"amazon": 8, "pos": 0, "web": 10}},
		openHolds: 1,
	})
	checkHolds(t, m,
		"TEE/H-1 web@store refused req=3 granted=0 avail=12 v=3 from=h1",
		"TEE/H-2 web@store partial req=3 granted=2 avail=10 v=4 from=h2",
	)
	checkAlerts(t, m)
	checkDead(t, m)
	checkUpdates2(t, m)
}

func TestExample2_6HoldsRefusedAtLocation(t *testing.T) {
	m := run(t, example2_6)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 5, unassigned: 5,
			locations: map[string]LocationView{"dc": dc(10), "store": dc(2)},
			channels:  map[string]int64{"amazon": 3, "pos": 0, "web": 7}},
		unassignedBy: map[string]int64{"outlet": 5},
		openHolds:    1,
	})
	checkHolds(t, m,
		"TEE/H-1 amazon@store refused req=1 granted=0 avail=8 v=3 from=h1",
		"TEE/H-2 web@store-9 refused req=1 granted=0 avail=12 v=4 from=h2",
		"TEE/H-4 outlet@- granted req=5 granted=5 avail=7 v=5 from=h4",
	)
	checkDead(t, m, [2]string{"h3", ReasonHoldExists}, [2]string{"h5", ReasonInvalidField}) // invalid hold_id
	checkAlerts(t, m)
	for _, u := range m.Updates() {
		if u.Channel == "outlet" {
			t.Errorf("outlet is no channel of TEE, yet %+v", u)
		}
	}
	checkUpdates2(t, m)
}

func TestExample2_7UnassignedPerChannel(t *testing.T) {
	m := run(t, example2_7)
	checkSKU2(t, m, "TEE", want2{
		wantSKU: wantSKU{version: 5, unassigned: 2,
			locations: map[string]LocationView{"dc": dc(6), "store": dc(3)},
			channels:  map[string]int64{"amazon": 2, "pos": 1, "web": 7}},
		unassignedBy: map[string]int64{"web": 2},
	})
	checkAlerts(t, m)
	checkDead(t, m)
	checkUpdates2(t, m)
}

func TestExample2_7Intermediate(t *testing.T) {
	// after o1 (amazon 4) and after o2 (web 2), as the page explains them
	lines := splitLines(example2_7)
	m := run(t, joinLines(lines[:6]))
	checkSKU(t, m, "TEE", wantSKU{version: 3, unassigned: 4, channels: map[string]int64{"amazon": 4, "pos": 3, "web": 9}})
	m.Apply([]byte(lines[6]))
	checkSKU(t, m, "TEE", wantSKU{version: 4, unassigned: 6, channels: map[string]int64{"amazon": 2, "pos": 1, "web": 7}})
}

func TestExample2_8Threshold(t *testing.T) {
	m := run(t, example2_8)
	checkSKU2(t, m, "CAP", want2{wantSKU: wantSKU{version: 3,
		locations: map[string]LocationView{"dc": {OnHand: 5, Reserved: 2, Available: 3}},
		channels:  map[string]int64{"ebay": 0, "ebay-uk": 0, "web": 3}}})
	checkHolds(t, m, "CAP/H-1 ebay@- refused req=1 granted=0 avail=0 v=3 from=h1")
	checkAlerts(t, m)
	checkDead(t, m)
	checkUpdates2(t, m)
}

func TestExample2_9Overrides(t *testing.T) {
	m := run(t, example2_9)
	checkSKU2(t, m, "CAP", want2{wantSKU: wantSKU{version: 4,
		locations: map[string]LocationView{"dc": dc(10)},
		channels:  map[string]int64{"amazon": 8, "web": 3, "wholesale": 5}}})
	checkSKU2(t, m, "TEE", want2{wantSKU: wantSKU{version: 3,
		locations: map[string]LocationView{"dc": dc(10)},
		channels:  map[string]int64{"amazon": 8, "web": 7}}})
	checkAlerts(t, m)
	checkDead(t, m)
	checkUpdates2(t, m)
}
