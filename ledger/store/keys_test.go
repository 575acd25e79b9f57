package store

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stockledger/stockledger/ledger"
)

// keyPartitions are partitions at the edges of the big-endian encoding.
var keyPartitions = []int32{0, 1, 255, 256, 1 << 24, math.MaxInt32 - 1}

// keySKUs are SKU names that are prefixes of one another, hold bytes a
// key uses as tags, and reach ledger.MaxSKUBytes.
var keySKUs = []string{"", "A", "AB", "ABC", "s\x00\x00\x00\x01", "x", strings.Repeat("Z", ledger.MaxSKUBytes)}

// TestKeysRoundTrip: every key this package builds reads back as what it
// was built from, and no parser takes another kind's key.
func TestKeysRoundTrip(t *testing.T) {
	for _, p := range keyPartitions {
		if got, ok := parseOffsetKey(OffsetKey(p)); !ok || got != p {
			t.Errorf("offset key of %d reads back as %d, %v", p, got, ok)
		}
		for _, sku := range keySKUs {
			k := AppendSKUKey([]byte("junk"), p, sku)[len("junk"):]
			if gp, gs, ok := parseSKUKey(k); !ok || gp != p || gs != sku {
				t.Errorf("SKU key of %d %q reads back as %d %q, %v", p, sku, gp, gs, ok)
			}
			for _, seq := range []uint32{0, 1, math.MaxUint32} {
				k := appendPartKey(nil, p, sku, seq)
				if gp, gs, gq, ok := parsePartKey(k); !ok || gp != p || gs != sku || gq != seq {
					t.Errorf("part key of %d %q %d reads back as %d %q %d, %v", p, sku, seq, gp, gs, gq, ok)
				}
				if _, _, ok := parseSKUKey(k); ok {
					t.Errorf("part key %q reads as a SKU key", k)
				}
				if _, ok := parseOffsetKey(k); ok {
					t.Errorf("part key %q reads as an offset key", k)
				}
			}
			if _, _, _, ok := parsePartKey(k); ok {
				t.Errorf("SKU key %q reads as a part key", k)
			}
		}
		for _, k := range [][]byte{PartitionStateKey(p), oldPublishedKey(p), AppendSKUKey(nil, p, "")} {
			if _, ok := parseOffsetKey(k); ok {
				t.Errorf("key %q reads as an offset key", k)
			}
		}
	}
	for _, next := range []int64{0, 1, 1 << 40, math.MaxInt64} {
		if got, ok := parseOffsetValue(appendOffsetValue(nil, next)); !ok || got != next {
			t.Errorf("offset %d reads back as %d, %v", next, got, ok)
		}
	}
	if _, ok := parseOffsetValue([]byte{1, 2, 3}); ok {
		t.Error("a 3-byte value reads as an offset")
	}
}

// TestKeysStayInTheirBounds: every key of partition p lies within the
// bounds iteration and DropPartition use for p, and outside those of the
// partitions beside it; one SKU's parts sort by sequence number and stay
// apart from those of a SKU whose name extends it.
func TestKeysStayInTheirBounds(t *testing.T) {
	in := func(k, lo, hi []byte) bool { return bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 }
	for _, p := range keyPartitions {
		offLo, offHi := offsetKeyBounds()
		if !in(OffsetKey(p), offLo, offHi) {
			t.Errorf("offset key of %d outside the offset bounds", p)
		}
		for _, q := range []int32{p - 1, p, p + 1} {
			if q < 0 {
				continue
			}
			skuLo, skuHi := skuKeyBounds(q)
			partLo, partHi := partKeyBounds(q)
			for _, sku := range keySKUs {
				if got := in(AppendSKUKey(nil, p, sku), skuLo, skuHi); got != (p == q) {
					t.Errorf("SKU key of %d %q within the SKU bounds of %d: %v", p, sku, q, got)
				}
				if got := in(appendPartKey(nil, p, sku, 7), partLo, partHi); got != (p == q) {
					t.Errorf("part key of %d %q within the part bounds of %d: %v", p, sku, q, got)
				}
			}
		}
		for i, sku := range keySKUs {
			lo, hi := appendPartKey(nil, p, sku, 0), appendPartKey(nil, p, sku, math.MaxUint32)
			if bytes.Compare(appendPartKey(nil, p, sku, 1), appendPartKey(nil, p, sku, 256)) >= 0 {
				t.Errorf("parts of %q do not sort by sequence number", sku)
			}
			for j, other := range keySKUs {
				if k := appendPartKey(nil, p, other, 5); i != j && in(k, lo, hi) {
					t.Errorf("part key of %q falls among the parts of %q", other, sku)
				}
			}
		}
	}
}
