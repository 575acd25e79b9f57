package ledger

import (
	"fmt"
	"go/build"
	"strings"
	"testing"
	"time"
)

func micros(t string) int64 {
	ts, err := time.Parse(time.RFC3339, t)
	if err != nil {
		panic(err)
	}
	return ts.UnixMicro()
}

func receipt(id, loc string, q Qty, at string) *Event {
	return &Event{ID: id, Type: TypeReceipt, SKU: "S", OccurredAt: micros(at), Location: loc, Qty: q,
		Has: FieldEventID | FieldType | FieldSKU | FieldOccurredAt | FieldLocation | FieldQty}
}

// A quantity is never allowed to wrap: an event that would take on_hand
// past MaxKeptQty is refused and changes nothing.
func TestOverflowRefused(t *testing.T) {
	p := NewPartition(DefaultConfig())
	s := &SKU{Name: "S"}
	var fx Effects
	n := int(MaxKeptQty / MaxEventQty)
	for i := range n {
		if r := p.Apply(s, receipt(fmt.Sprint("r", i), "dc", MaxEventQty, "2026-11-27T10:00:00Z"), &fx); r.Outcome != Applied {
			t.Fatalf("receipt %d: %v %v", i, r.Reason, r.Detail)
		}
	}
	if got := s.Location("dc").OnHand; got != MaxKeptQty {
		t.Fatalf("on_hand %d, want %d", got, MaxKeptQty)
	}
	v := s.Version
	r := p.Apply(s, receipt("over", "dc", 1, "2026-11-27T10:00:00Z"), &fx)
	if r.Outcome != Refused || r.Reason != ReasonQuantityOverflow {
		t.Fatalf("got %v %v, want refused quantity_overflow", r.Outcome, r.Reason)
	}
	if s.Version != v || s.Location("dc").OnHand != MaxKeptQty {
		t.Fatalf("refused event changed the SKU")
	}
}

func TestTooManyLocations(t *testing.T) {
	p := NewPartition(DefaultConfig())
	s := &SKU{Name: "S"}
	var fx Effects
	for i := range MaxLocationsPerSKU {
		if r := p.Apply(s, receipt(fmt.Sprint("r", i), fmt.Sprint("loc-", i), 1, "2026-11-27T10:00:00Z"), &fx); r.Outcome != Applied {
			t.Fatalf("receipt %d: %v", i, r.Reason)
		}
	}
	r := p.Apply(s, receipt("one-more", "loc-new", 1, "2026-11-27T10:00:00Z"), &fx)
	if r.Outcome != Refused || r.Reason != ReasonTooManyLocations {
		t.Fatalf("got %v %v", r.Outcome, r.Reason)
	}
	// An existing location still takes events.
	if r := p.Apply(s, receipt("again", "loc-7", 1, "2026-11-27T10:00:00Z"), &fx); r.Outcome != Applied {
		t.Fatalf("existing location refused: %v", r.Reason)
	}
}

// Ids are remembered for the retention (event time) and up to the count
// bound; past either, a retry applies again.
func TestIDWindowBounds(t *testing.T) {
	cfg := Config{IDRetention: 24 * time.Hour, MaxIDsPerSKU: 3}
	p := NewPartition(cfg)
	s := &SKU{Name: "S"}
	var fx Effects
	apply := func(id, at string) Outcome { return p.Apply(s, receipt(id, "dc", 1, at), &fx).Outcome }
	if apply("a", "2026-11-27T10:00:00Z") != Applied || apply("a", "2026-11-27T11:00:00Z") != Duplicate {
		t.Fatal("retry within the window must be a duplicate")
	}
	// A day and more later, "a" is forgotten.
	if apply("b", "2026-11-28T10:00:01Z") != Applied {
		t.Fatal("b")
	}
	if apply("a", "2026-11-28T10:00:02Z") != Applied {
		t.Fatal("a past the retention must apply again")
	}
	// Count bound: b, a, c, d -> b forgotten.
	apply("c", "2026-11-28T10:00:03Z")
	apply("d", "2026-11-28T10:00:04Z")
	if s.Seen.Len() != 3 || s.Seen.Contains("b") || !s.Seen.Contains("d") {
		t.Fatalf("window holds %v", s.Seen.IDs())
	}
	// Large windows use the index and agree with the scan.
	var w IDWindow
	for i := range 100 {
		w.Add(fmt.Sprint("id", i), int64(i), 50, 0)
	}
	for i := range 100 {
		if got, want := w.Contains(fmt.Sprint("id", i)), i >= 50; got != want {
			t.Fatalf("id%d: contains %v, want %v", i, got, want)
		}
	}
}

// ats rounds down and never overflows, even for pools near the limits.
func TestATSArithmetic(t *testing.T) {
	s := &SKU{Name: "S", Locations: []Location{{Code: "a", OnHand: MaxKeptQty, Named: true}, {Code: "b", OnHand: MaxKeptQty, Named: true}}}
	c := &ChannelPolicy{Channel: "web", SharePct: 99}
	var p Partition
	want := (2 * MaxKeptQty) / 100 * 99 // exact: 2e15 is a multiple of 100
	if got := p.atsOf(s, c); got != want {
		t.Fatalf("ats %d, want %d", got, want)
	}
	s.Locations[1].OnHand = 0
	s.Locations[0].OnHand = 7
	c.SharePct = 40
	if got := p.atsOf(s, c); got != 2 { // floor(7*0.4)
		t.Fatalf("ats %d, want 2", got)
	}
}

// Package ledger imports only the standard library.
func TestStdlibOnly(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(strings.Split(imp, "/")[0], ".") {
			t.Errorf("ledger imports %s; it must use the standard library only", imp)
		}
	}
}

// Closed orders are forgotten once older than the retention (at the next
// sweep, every 64 versions); open ones are kept however old.
func TestClosedRecordsForgotten(t *testing.T) {
	p := NewPartition(Config{IDRetention: 24 * time.Hour, MaxIDsPerSKU: 1000})
	s := &SKU{Name: "S"}
	var fx Effects
	day := func(d int, sec int) string {
		return time.Date(2026, 11, 1+d, 0, 0, sec, 0, time.UTC).Format(time.RFC3339)
	}
	ev := func(id string, typ EventType, at string, f func(*Event)) Result {
		e := &Event{ID: id, Type: typ, SKU: "S", OccurredAt: micros(at), Has: FieldEventID | FieldType | FieldSKU | FieldOccurredAt}
		f(e)
		return p.Apply(s, e, &fx)
	}
	order := func(id, oid, at string) {
		if r := ev(id, TypeOrder, at, func(e *Event) {
			e.Channel, e.OrderID, e.Qty = "web", oid, 1
			e.Has |= FieldChannel | FieldOrderID | FieldQty
		}); r.Outcome != Applied {
			t.Fatalf("order %s: %v", oid, r.Reason)
		}
	}
	cancel := func(id, oid, at string) Result {
		return ev(id, TypeOrderCancelled, at, func(e *Event) { e.OrderID, e.Has = oid, e.Has|FieldOrderID })
	}
	order("o1", "CLOSED", day(0, 0))
	order("o2", "OPEN", day(0, 1))
	if r := cancel("c1", "CLOSED", day(0, 2)); r.Outcome != Applied {
		t.Fatal(r.Reason)
	}
	// Two days later, enough events for a sweep.
	for i := range 70 {
		order(fmt.Sprint("x", i), fmt.Sprint("X", i), day(2, i))
	}
	if _, ok := s.Orders["CLOSED"]; ok {
		t.Error("closed order older than the retention still remembered")
	}
	if _, ok := s.Orders["OPEN"]; !ok {
		t.Error("open order forgotten")
	}
	if r := cancel("c2", "CLOSED", day(2, 100)); r.Outcome != Refused || r.Reason != ReasonUnknownOrder {
		t.Errorf("cancel of a forgotten order: %v %v, want refused unknown_order", r.Outcome, r.Reason)
	}
}
