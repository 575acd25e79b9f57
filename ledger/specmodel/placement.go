package specmodel

// Placement, written from ledger-semantics-2.md ("Placement", which changes
// part 1) and worked-examples-2.md (example 16).
//
// A SKU's events are keyed by the SKU and belong to partition
// toPositive(murmur2(key)) mod partitions: Kafka's default Java partitioner,
// not librdkafka's (crc32). A SKU's event that sits elsewhere, or whose key is
// not its sku, would start a second, wrong state for the SKU in the partition
// it sits in; so it is not folded but dead-lettered as wrong_partition.

import (
	"bytes"
	"fmt"
)

// Record is one record of the events topic, as the model needs it.
type Record struct {
	Partition  int32 // the partition the record sits in, 0 <= Partition < Partitions
	Partitions int32 // the topic's partition count
	Key        []byte
	Value      []byte // the event's JSON line
}

// murmur2 is Kafka's 32-bit MurmurHash2 (seed 0x9747b28c), written from the
// algorithm: the key is read as little-endian 4-byte words, each mixed into
// the hash; the 1 to 3 bytes left over are folded in last; then a final mix.
// Go's uint32 arithmetic wraps as Java's int does, and its >> on a uint32 is
// Java's >>> (unsigned shift), so the bits are Java's; the result is returned
// as Java's signed int.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)

	// the body: every whole 4-byte word, low byte first. Java masks each
	// (signed) byte with 0xff; a Go byte is already unsigned.
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}

	// the tail: the last n mod 4 bytes, in the same byte positions, with one
	// multiplication if there are any.
	tail := data[n-n%4:]
	switch len(tail) {
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
	return int32(h)
}

// PartitionFor is the partition a key belongs to under Kafka's default Java
// partitioner: toPositive(murmur2(key)) % partitions, where toPositive masks
// the sign bit (it is not abs: abs of MUG's hash gives another partition).
// It panics if partitions < 1.
func PartitionFor(key []byte, partitions int32) int32 {
	if partitions < 1 {
		panic(fmt.Sprintf("specmodel: %d partitions", partitions))
	}
	positive := murmur2(key) & 0x7fffffff
	return positive % partitions
}

// placementSKU returns the sku a record's placement is checked against, and
// the event's event_id if it is a string (for the dead letter). ok is false
// when the event cannot be placed: the line is not one JSON object, its type
// is missing, not a string or unknown, its type carries no sku
// (channel_policy and clock reach every partition), or its sku is absent,
// null or not a JSON string. Apply then gives the reason part 1 gives, in
// part 1's order (unresolved_listing for a listing_sku with no sku), or
// applies the channel_policy or clock.
//
// The sku is the decoded string, whether or not it is a valid SKU code: a
// misplaced event with an invalid sku is wrong_partition, since placement
// comes before part 1's field checks. A line that is not Unicode text (bad
// UTF-8 bytes or an escaped lone surrogate anywhere, DECISIONS.md) does not
// decode: it is undecodable wherever it sits, never wrong_partition.
func placementSKU(line []byte) (sku, eventID string, ok bool) {
	obj, decoded := decodeObject(line)
	if !decoded {
		return "", "", false
	}
	p := &parser{obj: obj}
	typ, reason := p.knownType()
	if reason != "" || !hasSKU(typ) {
		return "", "", false
	}
	raw := p.lookup("sku")
	if raw == nil {
		return "", "", false
	}
	s, _, isString := decodeString(raw)
	if !isString {
		return "", "", false
	}
	return s, stringEventID(obj), true
}

// ApplyRecord folds one record of the events topic, checking its placement
// first (part 2, "Placement"): a SKU's event whose key is not its sku, or that
// sits in a partition other than PartitionFor(sku), is not folded but becomes
// a wrong_partition dead letter naming the partition it belongs to. This comes
// after the event decodes, names a known type and has a string sku, and before
// de-duplication and part 1's other checks: a misplaced retry of an applied
// event_id is wrong_partition, not a duplicate, and so is a misplaced event
// with no event_id. A well-placed record is folded as Apply folds it.
//
// channel_policy records belong to every partition (the producer writes one
// to each), so they are not checked, whatever their partition or key. The
// model folds one global sequence, not one per partition: its callers pass
// each channel_policy once (passing every partition's copy would count the
// copies after the first as duplicates).
//
// clock records belong to every partition too, with any key, and each is
// that partition's: it moves the clock of r.Partition and expires holds of
// the SKUs whose events sit there (a SKU belongs to the partition of the
// record that created it). Unlike channel_policy, callers pass every
// partition's clock records, and clock events are never de-duplicated.
//
// It panics if the record's partition is not one of Partitions.
func (m *Model) ApplyRecord(r Record) {
	if r.Partitions < 1 || r.Partition < 0 || r.Partition >= r.Partitions {
		panic(fmt.Sprintf("specmodel: record in partition %d of %d", r.Partition, r.Partitions))
	}
	sku, eventID, ok := placementSKU(r.Value)
	if ok {
		belongs := PartitionFor([]byte(sku), r.Partitions)
		// no key (nil) is not the sku, even an empty one
		keyIsSKU := r.Key != nil && bytes.Equal(r.Key, []byte(sku))
		if !keyIsSKU || r.Partition != belongs {
			m.dead = append(m.dead, DeadLetter{
				EventID:   eventID,
				Reason:    ReasonWrongPartition,
				Line:      append([]byte(nil), r.Value...),
				BelongsTo: belongs,
				KeyNotSKU: !keyIsSKU,
			})
			return
		}
	}
	m.apply(r.Partition, r.Value)
}
