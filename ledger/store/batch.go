package store

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stockledger/stockledger/ledger"
)

// SetMeta stores the metadata value durably.
func (s *Store) SetMeta(v []byte) error {
	return s.write(func(db *pebble.DB) error { return db.Set(metaKey, v, pebble.Sync) })
}

// Probe writes and syncs a small key: it fails while the disk is full or
// failing.
func (s *Store) Probe() error {
	err := s.write(func(db *pebble.DB) error { return db.Set(probeKey, []byte{1}, pebble.Sync) })
	if err != nil {
		return fmt.Errorf("probing store: %w", err)
	}
	return nil
}

// DropPartition deletes everything the store holds of partition p (when p
// moves to another owner, so a later return starts from that owner's state).
func (s *Store) DropPartition(p int32) error {
	return s.write(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		if err := b.DeleteRange(skuPrefix(p), skuPrefix(p+1), nil); err != nil {
			return err
		}
		if err := b.DeleteRange(partPrefix(p), partPrefix(p+1), nil); err != nil {
			return err
		}
		_ = b.Delete(offsetKey(p), nil)
		_ = b.Delete(partitionKey(p), nil)
		_ = b.Delete(publishedKey(p), nil)
		if err := b.Commit(s.sync); err != nil {
			return err
		}
		return s.published.drop(p)
	})
}

// Batch is one atomic write: new states and next offsets.
type Batch struct {
	s   *Store
	b   *pebble.Batch
	buf []byte
	key []byte
	w   SKUWriter
}

// NewBatch starts a batch. Staging into it needs no database; Commit
// applies it to the current one.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, b: new(pebble.Batch)} }

// PutSKU stages what changed in sku since it was last persisted or loaded
// (ledger.SKU.Persist).
func (b *Batch) PutSKU(p int32, sku *ledger.SKU) error {
	w := b.SKUWriter(p, sku.Name)
	sku.Persist(w)
	return w.err
}

// SKUWriter returns a ledger.StateWriter that stages the writes of sku of
// partition p; check Err after use.
func (b *Batch) SKUWriter(p int32, sku string) *SKUWriter {
	b.w = SKUWriter{b: b, p: p, sku: sku}
	return &b.w
}

// SKUWriter stages one SKU's writes into a Batch.
type SKUWriter struct {
	b   *Batch
	p   int32
	sku string
	err error
}

// PutState stages the SKU's state key.
func (w *SKUWriter) PutState(v []byte) { w.set(AppendSKUKey(w.b.key[:0], w.p, w.sku), v) }

// PutPart stages part seq.
func (w *SKUWriter) PutPart(seq uint32, v []byte) {
	w.set(appendPartKey(w.b.key[:0], w.p, w.sku, seq), v)
}

// DeletePart stages the deletion of part seq.
func (w *SKUWriter) DeletePart(seq uint32) {
	if err := w.b.b.Delete(appendPartKey(w.b.key[:0], w.p, w.sku, seq), nil); err != nil && w.err == nil {
		w.err = err
	}
}

// set stages key = v.
func (w *SKUWriter) set(key, v []byte) {
	w.b.key = key
	if err := w.b.b.Set(key, v, nil); err != nil && w.err == nil {
		w.err = err
	}
}

// Err is the first error staging the writes.
func (w *SKUWriter) Err() error { return w.err }

// ValueBuffer lends the batch's value buffer to ledger.SKU.Persist: a
// pebble batch copies each value it stages, so one buffer serves every
// value of every SKU the batch writes.
func (w *SKUWriter) ValueBuffer() *[]byte { return &w.b.buf }

// PutPartition stages partition p's state.
func (b *Batch) PutPartition(p int32, st *ledger.Partition) error {
	b.buf = st.AppendBinary(b.buf[:0])
	return b.PutPartitionBytes(p, b.buf)
}

// PutPartitionBytes stages partition p's state, already encoded
// (ledger.Partition.AppendBinary).
func (b *Batch) PutPartitionBytes(p int32, v []byte) error {
	return b.b.Set(partitionKey(p), v, nil)
}

// SetOffset stages partition p's next offset.
func (b *Batch) SetOffset(p int32, next int64) error {
	return b.b.Set(offsetKey(p), binary.BigEndian.AppendUint64(nil, uint64(next)), nil)
}

// Len is the number of bytes staged.
func (b *Batch) Len() int { return b.b.Len() }

// Commit writes the batch atomically and releases it.
func (b *Batch) Commit() error {
	err := b.apply()
	b.b = nil
	return err
}

// apply writes the batch's contents atomically.
func (b *Batch) apply() error {
	if err := b.s.write(func(db *pebble.DB) error { return db.Apply(b.b, b.s.sync) }); err != nil {
		return fmt.Errorf("committing ledger batch: %w", err)
	}
	return nil
}

// CommitKeep writes the batch atomically and empties it for more writes,
// keeping its buffer when that is at most 1 MiB (Pebble's bound for a
// buffer it lets a batch keep): a writer of many states commits in pieces
// under that size and reuses one buffer instead of growing a new one for
// each piece.
func (b *Batch) CommitKeep() error {
	if err := b.apply(); err != nil {
		b.b = nil
		return err
	}
	b.b.Reset()
	return nil
}

// KeepLen is the size past which a batch emptied by CommitKeep starts
// again with a new buffer.
const KeepLen = 1 << 20

// Close releases an uncommitted batch.
func (b *Batch) Close() { b.b = nil }
