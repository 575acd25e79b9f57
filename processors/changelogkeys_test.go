package processors

import (
	"math"
	"strings"
	"testing"

	"github.com/stockledger/stockledger/ledger"
)

// clKeySKUs are SKU codes that look like the other keys without their
// control byte, are prefixes of one another, or reach ledger.MaxSKUBytes.
var clKeySKUs = []string{"A", "AB", "offset", "partition", "1", "SKU-00042", strings.Repeat("Z", ledger.MaxSKUBytes)}

// TestChangelogKeysRoundTrip: every changelog key reads back as the kind,
// SKU and part it was built from, and a marker's value as its offset.
func TestChangelogKeysRoundTrip(t *testing.T) {
	for _, sku := range clKeySKUs {
		if got := parseChangelogKey(changelogStateKey(sku)); got != (changelogKey{kind: clSKUState, sku: sku}) {
			t.Errorf("state key of %q reads back as %+v", sku, got)
		}
		for _, seq := range []uint32{0, 1, 255, 1 << 24, math.MaxUint32} {
			want := changelogKey{kind: clSKUPart, sku: sku, seq: seq}
			if got := parseChangelogKey(changelogPartKey(sku, seq)); got != want {
				t.Errorf("part key of %q %d reads back as %+v", sku, seq, got)
			}
		}
	}
	if got := parseChangelogKey(changelogPartitionStateKey); got != (changelogKey{kind: clPartitionState}) {
		t.Errorf("partition state key reads back as %+v", got)
	}
	if got := parseChangelogKey(changelogOffsetKey); got != (changelogKey{kind: clOffsetMarker}) {
		t.Errorf("offset key reads back as %+v", got)
	}
	for _, next := range []int64{0, 1, 1 << 40, math.MaxInt64} {
		if got, ok := parseChangelogMarker(changelogMarkerValue(next)); !ok || got != next {
			t.Errorf("marker of %d reads back as %d, %v", next, got, ok)
		}
		if !isMarkerAt(changelogOffsetKey, changelogMarkerValue(next), next) {
			t.Errorf("the marker of %d is not a marker at %d", next, next)
		}
		if isMarkerAt(changelogOffsetKey, changelogMarkerValue(next), next+1) {
			t.Errorf("the marker of %d is a marker at %d", next, next+1)
		}
		if isMarkerAt(changelogStateKey("offset"), changelogMarkerValue(next), next) {
			t.Errorf("SKU \"offset\" with a marker's value is a marker")
		}
	}
	if _, ok := parseChangelogMarker([]byte{0, 0, 0, 7}); ok {
		t.Error("a 4-byte value reads as a marker")
	}
}

// TestChangelogViewReadsRecords: a view keeps each key's last value, a
// tombstone removes a SKU or a part, and a marker that does not read
// leaves the last one standing.
func TestChangelogViewReadsRecords(t *testing.T) {
	v := newChangelogView(0)
	v.add(changelogStateKey("A"), []byte("a1"))
	v.add(changelogStateKey("B"), []byte("b1"))
	v.add(changelogPartKey("A", 3), []byte("a.3"))
	v.add(changelogPartKey("A", 4), []byte("a.4"))
	v.add(changelogPartitionStateKey, []byte("p1"))
	v.add(changelogOffsetKey, changelogMarkerValue(10))
	v.add(changelogStateKey("A"), []byte("a2"))
	v.add(changelogStateKey("B"), nil)
	v.add(changelogPartKey("A", 3), nil)
	v.add(changelogPartKey("C", 0), nil) // a tombstone of a part never seen
	v.add(changelogOffsetKey, []byte{1})

	if len(v.states) != 1 || string(v.states["A"]) != "a2" {
		t.Errorf("states %q, want only A = a2", v.states)
	}
	if len(v.parts) != 1 || len(v.parts["A"]) != 1 || string(v.parts["A"][4]) != "a.4" {
		t.Errorf("parts %v, want only A's part 4", v.parts)
	}
	if string(v.partState) != "p1" || v.clNext != 10 {
		t.Errorf("partition state %q, marker %d; want p1, 10", v.partState, v.clNext)
	}
}
