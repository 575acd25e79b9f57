package store

import (
	"encoding/binary"
	"fmt"

	"github.com/stockledger/stockledger/ledger"
)

// Key layout (all integers big-endian, so keys sort by partition):
//
//	'm' "meta"                  -> JSON: the topic and partition count the store was built from
//	'm' "probe"                 -> 1 (Probe's write)
//	'o' u32 partition           -> u64 next offset of the events topic to fold
//	'p' u32 partition           -> ledger.Partition encoding (channel policies, policy ids)
//	's' u32 partition sku-bytes -> ledger.SKU state: whole, or the core of a split one
//	'x' u32 partition u8 len(sku) sku-bytes u32 seq -> part seq of a split SKU (ledger/layout.go)
//	'u' u32 partition           -> u64 offset below which outputs are acknowledged
//	                               (stores written before the marks moved to their
//	                               own file, published.go; read, no longer written)
//
// This file is the only one that builds or takes apart a key: everything
// else asks it.

// The first byte of every key: what the key holds.
const (
	tagMeta           = 'm'
	tagOffset         = 'o'
	tagPartitionState = 'p'
	tagSKU            = 's'
	tagPart           = 'x'
	tagOldPublished   = 'u'
)

// partitionKeyLen is the length of a key of a tag and a partition.
const partitionKeyLen = 1 + 4

var (
	metaKey  = []byte{tagMeta, 'm', 'e', 't', 'a'}
	probeKey = []byte{tagMeta, 'p', 'r', 'o', 'b', 'e'}
)

// appendPartitionKey appends the key of tag and partition p to dst: the
// whole key of an offset or a partition state, the prefix of partition
// p's SKUs or parts.
func appendPartitionKey(dst []byte, tag byte, p int32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, tag), uint32(p))
}

// OffsetKey is the key of partition p's next offset (exported for
// diagnosis: tests that read Pebble directly).
func OffsetKey(p int32) []byte { return appendPartitionKey(nil, tagOffset, p) }

// parseOffsetKey returns the partition of an offset key; ok is false for
// any other key.
func parseOffsetKey(k []byte) (p int32, ok bool) {
	if len(k) != partitionKeyLen || k[0] != tagOffset {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(k[1:])), true
}

// offsetKeyBounds are the bounds of every partition's offset key.
func offsetKeyBounds() (lower, upper []byte) { return []byte{tagOffset}, []byte{tagOffset + 1} }

// appendOffsetValue appends the value of an offset key holding next.
func appendOffsetValue(dst []byte, next int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(next))
}

// parseOffsetValue reads the value of an offset key (or of an old
// published mark, which has the same form); ok is false when it has not
// the length of one.
func parseOffsetValue(v []byte) (next int64, ok bool) {
	if len(v) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v)), true
}

// PartitionStateKey is the key of partition p's ledger.Partition state
// (exported for diagnosis: tests that read Pebble directly).
func PartitionStateKey(p int32) []byte { return appendPartitionKey(nil, tagPartitionState, p) }

// oldPublishedKey is the key of partition p's published mark in a store
// written before the marks moved to their own file.
func oldPublishedKey(p int32) []byte { return appendPartitionKey(nil, tagOldPublished, p) }

// skuKeyBounds are the bounds of partition p's SKU keys.
func skuKeyBounds(p int32) (lower, upper []byte) {
	return appendPartitionKey(nil, tagSKU, p), appendPartitionKey(nil, tagSKU, p+1)
}

// AppendSKUKey appends the key of sku in partition p to dst.
func AppendSKUKey(dst []byte, p int32, sku string) []byte {
	return append(appendPartitionKey(dst, tagSKU, p), sku...)
}

// parseSKUKey returns the partition and SKU of a key made by
// AppendSKUKey; ok is false for any other key.
func parseSKUKey(k []byte) (p int32, sku string, ok bool) {
	if len(k) < partitionKeyLen || k[0] != tagSKU {
		return 0, "", false
	}
	return int32(binary.BigEndian.Uint32(k[1:])), string(k[partitionKeyLen:]), true
}

// partKeyBounds are the bounds of partition p's part keys.
func partKeyBounds(p int32) (lower, upper []byte) {
	return appendPartitionKey(nil, tagPart, p), appendPartitionKey(nil, tagPart, p+1)
}

// appendPartKey appends the key of part seq of sku in partition p to dst.
// SKU codes are at most ledger.MaxSKUBytes (128) long, so one length byte
// keeps one SKU's parts apart from another's.
func appendPartKey(dst []byte, p int32, sku string, seq uint32) []byte {
	dst = appendPartitionKey(dst, tagPart, p)
	dst = append(dst, byte(len(sku)))
	dst = append(dst, sku...)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// parsePartKey returns the partition, SKU and sequence number of a key
// made by appendPartKey; ok is false for any other key.
func parsePartKey(k []byte) (p int32, sku string, seq uint32, ok bool) {
	if len(k) < partitionKeyLen+1+4 || k[0] != tagPart {
		return 0, "", 0, false
	}
	n := int(k[partitionKeyLen])
	if len(k) != partitionKeyLen+1+n+4 {
		return 0, "", 0, false
	}
	name := k[partitionKeyLen+1 : partitionKeyLen+1+n]
	return int32(binary.BigEndian.Uint32(k[1:])), string(name), binary.BigEndian.Uint32(k[len(k)-4:]), true
}

// errBadKey is a key under a prefix that does not read as that prefix's
// key: the store is damaged.
func errBadKey(k []byte) error { return fmt.Errorf("key %q: %w", k, ledger.ErrCorrupt) }
