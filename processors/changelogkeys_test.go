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
