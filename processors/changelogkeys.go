package processors

import "encoding/binary"

// The changelog's record keys and the offset marker's value. Changelog
// partition p holds partition p's state:
//
//	sku-bytes              -> the SKU's state key (ledger/layout.go: whole, or a split SKU's core)
//	0x01 u32 seq sku-bytes -> part seq of a split SKU
//	0x00 "partition"       -> the ledger.Partition encoding
//	0x00 "offset"          -> u64 next offset: the marker that ends a committed batch
//
// An empty value is a tombstone. SKU codes have no control bytes, so a
// SKU's key never starts like a part's or the partition's own. This file
// is the only one that builds or takes apart a changelog key.

// clPartTag starts the key of a split SKU's part.
const clPartTag = 1

// clPartKeyHead is the length of a part key before its SKU: the tag and
// the sequence number.
const clPartKeyHead = 1 + 4

var (
	changelogPartitionStateKey = []byte("\x00partition")
	changelogOffsetKey         = []byte("\x00offset")
)

// changelogStateKey is the key of sku's state.
func changelogStateKey(sku string) []byte { return appendChangelogStateKey(nil, sku) }

func appendChangelogStateKey(dst []byte, sku string) []byte { return append(dst, sku...) }

// changelogPartKey is the key of part seq of a split SKU.
func changelogPartKey(sku string, seq uint32) []byte { return appendChangelogPartKey(nil, sku, seq) }

func appendChangelogPartKey(dst []byte, sku string, seq uint32) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst, clPartTag), seq)
	return append(dst, sku...)
}

// changelogMarkerValue is the value of the offset marker of a batch after
// which partition's next offset is next.
func changelogMarkerValue(next int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(next))
}

// parseChangelogMarker reads an offset marker's value; ok is false when
// it has not the length of one (such a marker is passed over).
func parseChangelogMarker(v []byte) (next int64, ok bool) {
	if len(v) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v)), true
}

// changelogKeyKind is what a changelog record holds, by its key.
type changelogKeyKind uint8

const (
	clSKUState changelogKeyKind = iota
	clSKUPart
	clPartitionState
	clOffsetMarker
)

// changelogKey is a changelog record's key taken apart.
type changelogKey struct {
	kind changelogKeyKind
	sku  string // clSKUState, clSKUPart
	seq  uint32 // clSKUPart
}

// parseChangelogKey takes a record's key apart. Every key reads as some
// kind: one that is neither the partition's own nor a part's is a SKU's.
func parseChangelogKey(k []byte) changelogKey {
	switch {
	case string(k) == string(changelogOffsetKey):
		return changelogKey{kind: clOffsetMarker}
	case string(k) == string(changelogPartitionStateKey):
		return changelogKey{kind: clPartitionState}
	case len(k) > clPartKeyHead && k[0] == clPartTag:
		return changelogKey{kind: clSKUPart, sku: string(k[clPartKeyHead:]), seq: binary.BigEndian.Uint32(k[1:clPartKeyHead])}
	}
	return changelogKey{kind: clSKUState, sku: string(k)}
}

// isMarkerAt reports whether a record with key k and value v is the
// offset marker of next.
func isMarkerAt(k, v []byte, next int64) bool {
	got, ok := parseChangelogMarker(v)
	return ok && got == next && parseChangelogKey(k).kind == clOffsetMarker
}
