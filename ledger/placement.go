package ledger

import (
	"encoding/binary"
	"strconv"
)

// PartitionFor is the partition of the events topic that a record keyed
// key belongs to, of partitions: Kafka's default (Java) partitioner,
// toPositive(murmur2(key)) mod partitions. librdkafka's default differs,
// which is why the fold checks where each SKU event sits (Placement).
func PartitionFor(key []byte, partitions int32) int32 {
	if partitions < 1 {
		panic("ledger: PartitionFor of fewer than one partition")
	}
	// toPositive masks the sign bit; it is not abs.
	return int32(murmur2(key)&0x7fffffff) % partitions
}

// murmur2 is the 32-bit MurmurHash2 that Kafka's partitioner uses: seed
// 0x9747b28c, the key's length mixed in first, little-endian words.
func murmur2(key []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(key))
	body := len(key) &^ 3
	for i := 0; i < body; i += 4 {
		k := binary.LittleEndian.Uint32(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h = h*m ^ k
	}
	switch tail := key[body:]; len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Placement is where a record of the events topic sits: its partition,
// the topic's partition count and the record's key (nil: no key).
type Placement struct {
	Partition  int32
	Partitions int32
	Key        []byte
}

// Check returns ReasonWrongPartition when ev, an event of a SKU's type with
// a sku, sits where that SKU does not belong: keyed by something other
// than its sku, or in a partition other than the sku's. Folding it would
// start a second, wrong state for the SKU. channel_policy events belong to
// every partition, and so do clock events; an event of an unknown type or without a sku cannot be
// placed and is left to Validate. The spec checks placement after the
// decode and before de-duplication and every other check.
func (pl *Placement) Check(ev *Event) (Reason, string) {
	if ev.Type == TypeUnknown || ev.Type.Broadcast() || ev.Has&FieldSKU == 0 {
		return ReasonNone, ""
	}
	want := PartitionFor([]byte(ev.SKU), pl.Partitions)
	keyed := pl.Key != nil && string(pl.Key) == ev.SKU
	if keyed && want == pl.Partition {
		return ReasonNone, ""
	}
	detail := "belongs to partition " + strconv.Itoa(int(want))
	switch {
	case pl.Key == nil:
		detail += "; the record has no key (key it by the sku)"
	case !keyed:
		detail += "; record key " + strconv.QuoteToASCII(string(pl.Key)) + " is not the sku"
	}
	return ReasonWrongPartition, detail
}
