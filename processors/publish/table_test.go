package publish

import (
	"testing"
	"time"
)

func val(available int64, version uint64, offset int64) value {
	return value{sku: "S", available: available, version: version, offset: offset, appended: time.Unix(0, 0)}
}

func names(sent []sentValue) []string {
	out := []string{}
	for _, s := range sent {
		out = append(out, s.key.name)
	}
	return out
}

func TestTableSendsZeroOutsFirstThenInOrder(t *testing.T) {
	tb := newTable()
	tb.observe("a", 0, val(5, 1, 0))
	tb.observe("b", 0, val(0, 1, 1))
	tb.observe("c", 0, val(3, 1, 2))
	tb.observe("a", 0, val(0, 2, 3)) // a sells out while queued
	got := names(tb.take(10))
	want := []string{"b", "a", "c"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("take = %v, want %v", got, want)
	}
	if tb.ready() {
		t.Fatal("keys in flight are offered again")
	}
}

func TestTableSkipsTheValueTheChannelHolds(t *testing.T) {
	tb := newTable()
	tb.observe("a", 0, val(5, 1, 0))
	tb.settle(tb.take(1), true)
	if got := tb.observe("a", 0, val(5, 2, 1)); got != ObservedSkipped {
		t.Fatalf("equal value at a new version: %v, want skipped", got)
	}
	if tb.pending != 0 || tb.ready() {
		t.Fatalf("pending %d after a skip", tb.pending)
	}
	if got := tb.observe("a", 0, val(5, 2, 2)); got != ObservedOld {
		t.Fatalf("a repeat of version 2: %v, want old", got)
	}
	if got := tb.observe("a", 0, val(4, 3, 3)); got != ObservedNewer || tb.pending != 1 {
		t.Fatalf("a new value: %v (pending %d), want newer, 1 pending", got, tb.pending)
	}
}

func TestTableResendsAfterAFailureAndANewerValue(t *testing.T) {
	tb := newTable()
	tb.observe("a", 0, val(5, 1, 0))
	sent := tb.take(1)
	tb.observe("a", 0, val(6, 2, 1)) // arrives while version 1 is in flight
	tb.settle(sent, true)
	if tb.pending != 1 {
		t.Fatalf("pending %d after an ack of an older version, want 1", tb.pending)
	}
	again := tb.take(1)
	if len(again) != 1 || again[0].v.version != 2 {
		t.Fatalf("take after ack = %v, want a at version 2", names(again))
	}
	tb.settle(again, false)
	if !tb.ready() {
		t.Fatal("a failed key is not offered again")
	}
}

func TestTableCommitsBelowTheOldestUnacknowledgedKey(t *testing.T) {
	tb := newTable()
	tb.observe("a", 0, val(5, 1, 10))
	tb.observe("b", 0, val(5, 1, 11))
	tb.observe("c", 1, val(5, 1, 4))
	tb.read(0, 12)
	tb.read(1, 5)
	if got := tb.commitOffsets(); got[0] != 10 || got[1] != 4 {
		t.Fatalf("commit offsets %v, want 0:10 1:4", got)
	}
	// a acknowledged: partition 0 may resume at b.
	for _, s := range tb.take(3) {
		tb.settle([]sentValue{s}, s.key.name != "b")
	}
	if got := tb.commitOffsets(); got[0] != 11 || got[1] != 5 {
		t.Fatalf("commit offsets %v, want 0:11 1:5", got)
	}
	// b gets a newer value further on: its old offset no longer holds
	// the partition back.
	tb.observe("b", 0, val(7, 2, 20))
	tb.read(0, 21)
	if got := tb.commitOffsets(); got[0] != 20 {
		t.Fatalf("commit offset of 0 = %d, want 20", got[0])
	}
	tb.drop(0)
	if got := tb.commitOffsets(); len(got) != 1 || tb.pending != 0 {
		t.Fatalf("after dropping partition 0: offsets %v, pending %d", got, tb.pending)
	}
}

func TestTableSkipsAValueEqualToTheOneInFlight(t *testing.T) {
	tb := newTable()
	tb.observe("a", 0, val(5, 1, 0))
	tb.settle(tb.take(1), true)
	tb.observe("a", 0, val(3, 2, 1))
	sent := tb.take(1)
	if got := tb.observe("a", 0, val(3, 3, 2)); got != ObservedNewer {
		t.Fatalf("a value read while an older one is in flight: %v, want newer (the one in flight may fail)", got)
	}
	tb.settle(sent, true)
	if tb.pending != 0 || tb.ready() {
		t.Fatalf("after the ack of an equal value: pending %d, ready %t; want nothing to send", tb.pending, tb.ready())
	}
	if k := tb.keys["a"]; k.acked.version != 3 {
		t.Fatalf("acknowledged version %d, want 3", k.acked.version)
	}
}

func TestTableSkipsNothingAfterAFailure(t *testing.T) {
	tb := newTable()
	tb.observe("a", 0, val(8, 1, 0))
	tb.settle(tb.take(1), true)
	tb.observe("a", 0, val(0, 2, 1))
	tb.settle(tb.take(1), false) // perhaps applied: the channel may hold 0
	if got := tb.observe("a", 0, val(8, 3, 2)); got != ObservedNewer {
		t.Fatalf("8 again after a failed request of 0: %v, want newer (to send)", got)
	}
	if ks := tb.take(1); len(ks) != 1 || ks[0].v.version != 3 {
		t.Fatalf("take = %v, want a at version 3", names(ks))
	}
}
