package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stockledger/stockledger/ledger"
)

// Meta returns the stored metadata value, or nil.
func (s *Store) Meta() ([]byte, error) { return s.get(metaKey) }

func (s *Store) get(k []byte) ([]byte, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	v, closer, err := db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

// Offset returns the next offset to fold for partition p, and whether the
// store has one.
func (s *Store) Offset(p int32) (int64, bool, error) {
	v, err := s.get(OffsetKey(p))
	if err != nil {
		return 0, false, fmt.Errorf("reading offset of partition %d: %w", p, err)
	}
	if v == nil {
		return 0, false, nil
	}
	next, ok := parseOffsetValue(v)
	if !ok {
		return 0, false, fmt.Errorf("offset of partition %d: %w", p, ledger.ErrCorrupt)
	}
	return next, true, nil
}

// Partition loads partition p's state into dst (keeping dst.Config); an
// empty state if there is none.
func (s *Store) Partition(p int32, dst *ledger.Partition) error {
	v, err := s.get(PartitionStateKey(p))
	if err != nil {
		return fmt.Errorf("reading state of partition %d: %w", p, err)
	}
	if v == nil {
		*dst = ledger.Partition{Config: dst.Config}
		return nil
	}
	return ledger.DecodePartition(v, dst)
}

// SKU loads sku of partition p into dst; found is false (and dst a new SKU
// named sku) when the store does not have it.
func (s *Store) SKU(p int32, sku string, dst *ledger.SKU) (found bool, err error) {
	key := AppendSKUKey(nil, p, sku)
	db, err := s.db()
	if err != nil {
		return false, err
	}
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		*dst = ledger.SKU{Name: sku}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading SKU %q: %w", sku, err)
	}
	defer closer.Close()
	if !ledger.IsSplit(v) {
		return true, ledger.DecodeSKUParts(sku, v, nil, dst)
	}
	// A split SKU: read its core and parts from one snapshot, so a batch
	// that rebases it meanwhile is seen whole or not at all.
	snap := db.NewSnapshot()
	defer snap.Close()
	v2, closer2, err := snap.Get(key)
	if err != nil {
		return false, fmt.Errorf("reading SKU %q: %w", sku, err)
	}
	defer closer2.Close()
	parts, err := readParts(snap, p, sku, v2)
	if err != nil {
		return false, err
	}
	return true, ledger.DecodeSKUParts(sku, v2, parts, dst)
}

// readParts reads the parts of a split SKU whose state is v (nil for a
// whole one).
func readParts(r pebble.Reader, p int32, sku string, v []byte) ([][]byte, error) {
	first, next, split, err := ledger.PartRange(v)
	if err != nil {
		return nil, fmt.Errorf("SKU %q: %w", sku, err)
	}
	if !split {
		return nil, nil
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: appendPartKey(nil, p, sku, first), UpperBound: appendPartKey(nil, p, sku, next)})
	if err != nil {
		return nil, err
	}
	parts := make([][]byte, 0, next-first)
	for it.First(); it.Valid(); it.Next() {
		if _, _, seq, ok := parsePartKey(it.Key()); !ok || seq != first+uint32(len(parts)) {
			it.Close()
			return nil, fmt.Errorf("parts of SKU %q: %w", sku, errBadKey(it.Key()))
		}
		parts = append(parts, slices.Clone(it.Value()))
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, fmt.Errorf("reading parts of SKU %q: %w", sku, err)
	}
	return parts, it.Close()
}

// SKUs calls fn with the name and canonical encoding (ledger.SKU
// AppendBinary: a split SKU is assembled) of every SKU of partition p, in
// key order. The value is only valid during the call.
func (s *Store) SKUs(p int32, fn func(name string, val []byte) error) error {
	var buf []byte
	return s.scanSKUs(p, func(name string, v []byte, parts [][]byte) error {
		if parts != nil {
			var sku ledger.SKU
			if err := ledger.DecodeSKUParts(name, v, parts, &sku); err != nil {
				return err
			}
			buf = sku.AppendBinary(buf[:0])
			v = buf
		}
		return fn(name, v)
	})
}

// LoadSKUs calls fn with every SKU of partition p, decoded into a new
// SKU, in key order: a SKU loaded so can be folded and persisted again.
func (s *Store) LoadSKUs(p int32, fn func(*ledger.SKU) error) error {
	return s.scanSKUs(p, func(name string, v []byte, parts [][]byte) error {
		sku := new(ledger.SKU)
		if err := ledger.DecodeSKUParts(name, v, parts, sku); err != nil {
			return err
		}
		return fn(sku)
	})
}

// SKUsNamed loads the SKUs of partition p named in names (sorted,
// distinct) that the store holds, in one pass over one snapshot: each
// seek goes forward from the last, where a Get per name would start from
// the top of every level again. fn gets each SKU found, decoded; the SKU
// itself is reused for the next (its maps and slices are not).
func (s *Store) SKUsNamed(p int32, names []string, fn func(*ledger.SKU) error) error {
	if len(names) == 0 {
		return nil
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	lo, hi := skuKeyBounds(p)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	var key []byte
	var sku ledger.SKU
	for _, name := range names {
		key = AppendSKUKey(key[:0], p, name)
		// A seek that fails reads as not found, and the next seek forgets
		// the error: each is checked, or a read fault would pass for a
		// new SKU.
		found := it.SeekGE(key)
		if err := it.Error(); err != nil {
			it.Close()
			return fmt.Errorf("reading SKU %q: %w", name, err)
		}
		if !found || !bytes.Equal(it.Key(), key) {
			continue
		}
		v := it.Value()
		parts, err := readParts(snap, p, name, v)
		if err == nil {
			err = ledger.DecodeSKUParts(name, v, parts, &sku)
		}
		if err == nil {
			err = fn(&sku)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return fmt.Errorf("reading SKUs of partition %d: %w", p, err)
	}
	return it.Close()
}

// scanSKUs calls fn with each SKU's state value and, for a split one, its
// parts, from one snapshot.
func (s *Store) scanSKUs(p int32, fn func(name string, v []byte, parts [][]byte) error) error {
	lo, hi := skuKeyBounds(p)
	return s.scanSKURange(p, lo, hi, fn)
}

// SKUsFrom calls fn with the SKUs of partition p whose names start with
// prefix and come after after ("": from the first), in name order, until
// fn returns false or an error.
func (s *Store) SKUsFrom(p int32, prefix, after string, fn func(*ledger.SKU) (bool, error)) error {
	lo := AppendSKUKey(nil, p, prefix)
	if after != "" && after >= prefix {
		lo = append(AppendSKUKey(nil, p, after), 0)
	}
	_, hi := skuKeyBounds(p)
	if prefix != "" {
		hi = prefixEnd(AppendSKUKey(nil, p, prefix))
	}
	errStop := errors.New("stop")
	err := s.scanSKURange(p, lo, hi, func(name string, v []byte, parts [][]byte) error {
		sku := new(ledger.SKU)
		if err := ledger.DecodeSKUParts(name, v, parts, sku); err != nil {
			return err
		}
		more, err := fn(sku)
		if err == nil && !more {
			err = errStop
		}
		return err
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// prefixEnd is the least key above every key that starts with k.
func prefixEnd(k []byte) []byte {
	end := slices.Clone(k)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // every byte 0xff: no bound
}

// scanSKURange is scanSKUs over the SKU keys in [lo, hi).
func (s *Store) scanSKURange(p int32, lo, hi []byte, fn func(name string, v []byte, parts [][]byte) error) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		_, name, ok := parseSKUKey(it.Key())
		if !ok {
			it.Close()
			return fmt.Errorf("SKUs of partition %d: %w", p, errBadKey(it.Key()))
		}
		v := it.Value()
		parts, err := readParts(snap, p, name, v)
		if err == nil {
			err = fn(name, v, parts)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return fmt.Errorf("iterating SKUs of partition %d: %w", p, err)
	}
	return it.Close()
}

// Partitions lists the partitions that have an offset in the store.
func (s *Store) Partitions() ([]int32, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	lo, hi := offsetKeyBounds()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var ps []int32
	for it.First(); it.Valid(); it.Next() {
		if p, ok := parseOffsetKey(it.Key()); ok {
			ps = append(ps, p)
		}
	}
	return ps, it.Close()
}

// PersistedSKUs calls fn with every SKU of partition p in its persisted
// form (ledger/layout.go), in key order, from one snapshot: the value of
// its state key (whole, or a split SKU's core) and, for a split SKU, its
// parts [first, next) of ledger.PartRange in order (nil for a whole one).
// The changelog re-sends a partition in this form. state is only valid
// during the call; parts stay valid.
func (s *Store) PersistedSKUs(p int32, fn func(name string, state []byte, parts [][]byte) error) error {
	return s.scanSKUs(p, fn)
}
