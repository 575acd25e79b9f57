package store

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The open holds of each partition by expiry, so a fold that starts cold
// finds what its clock events expire without reading every state
// (ledger.HoldLoader). A key is written when a hold opens and deleted when
// it closes, in the batch that persists the SKU; a key left behind is only
// a hint, since the fold checks the SKU's state before expiring anything.
//
//	'h' u32 partition u64 expires_at (sign bit flipped) u8 len(sku) sku-bytes hold_id -> empty

const tagHold = 'h'

func holdKeyBounds(p int32) (lower, upper []byte) {
	return appendPartitionKey(nil, tagHold, p), appendPartitionKey(nil, tagHold, p+1)
}

func appendHoldKey(dst []byte, p int32, sku string, expiresAt int64, holdID string) []byte {
	dst = appendPartitionKey(dst, tagHold, p)
	dst = binary.BigEndian.AppendUint64(dst, uint64(expiresAt)^1<<63)
	dst = append(dst, byte(len(sku)))
	dst = append(dst, sku...)
	return append(dst, holdID...)
}

func parseHoldKey(k []byte) (sku string, expiresAt int64, holdID string, ok bool) {
	const head = partitionKeyLen + 8 + 1
	if len(k) < head || k[0] != tagHold {
		return "", 0, "", false
	}
	n := int(k[head-1])
	if len(k) < head+n {
		return "", 0, "", false
	}
	expiresAt = int64(binary.BigEndian.Uint64(k[partitionKeyLen:]) ^ 1<<63)
	return string(k[head : head+n]), expiresAt, string(k[head+n:]), true
}

// PutHoldIndex stages an open hold of sku in partition p (or, open false,
// the removal of its key).
func (b *Batch) PutHoldIndex(p int32, sku string, expiresAt int64, holdID string, open bool) error {
	k := appendHoldKey(b.keyBuf[:0], p, sku, expiresAt, holdID)
	b.keyBuf = k
	if open {
		return b.pb.Set(k, nil, nil)
	}
	return b.pb.Delete(k, nil)
}

// LoadHolds calls fn with every open hold the store indexes in partition
// p, by expiry.
func (s *Store) LoadHolds(p int32, fn func(sku, holdID string, expiresAt int64) error) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	lo, hi := holdKeyBounds(p)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("reading partition %d's holds: %w", p, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		sku, at, id, valid := parseHoldKey(it.Key())
		if !valid {
			_ = it.Close()
			return errBadKey(it.Key())
		}
		if err := fn(sku, id, at); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("reading partition %d's holds: %w", p, err)
	}
	return nil
}
