package store

import (
	"errors"
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
		skuLo, skuHi := skuKeyBounds(p)
		partLo, partHi := partKeyBounds(p)
		holdLo, holdHi := holdKeyBounds(p)
		err := errors.Join(
			b.DeleteRange(skuLo, skuHi, nil),
			b.DeleteRange(partLo, partHi, nil),
			b.DeleteRange(holdLo, holdHi, nil),
			b.Delete(OffsetKey(p), nil),
			b.Delete(PartitionStateKey(p), nil),
			b.Delete(oldPublishedKey(p), nil))
		if err != nil {
			return fmt.Errorf("dropping partition %d: %w", p, err)
		}
		if err := b.Commit(s.commitOpts); err != nil {
			return err
		}
		return errors.Join(s.published.drop(p), s.produced.drop(p))
	})
}

// Batch is one atomic write: new states and next offsets.
type Batch struct {
	s  *Store
	pb *pebble.Batch
	// valueBuf and keyBuf are reused for every value and key staged: a
	// pebble batch copies what it is given.
	valueBuf []byte
	keyBuf   []byte
	w        skuWriter
}

// NewBatch starts a batch. Staging into it needs no database; Commit
// applies it to the current one.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, pb: new(pebble.Batch)} }

// PutSKU stages what changed in sku since it was last persisted or loaded
// (ledger.SKU.Persist).
func (b *Batch) PutSKU(p int32, sku *ledger.SKU) error {
	b.w = skuWriter{b: b, p: p, sku: sku.Name}
	sku.Persist(&b.w)
	return b.w.err
}

// PutState stages sku's state key (a value of ledger.SKU's persisted form).
func (b *Batch) PutState(p int32, sku string, v []byte) error {
	return b.set(AppendSKUKey(b.keyBuf[:0], p, sku), v)
}

// PutPart stages part seq of a split sku.
func (b *Batch) PutPart(p int32, sku string, seq uint32, v []byte) error {
	return b.set(appendPartKey(b.keyBuf[:0], p, sku, seq), v)
}

// DeletePart stages the deletion of part seq of sku.
func (b *Batch) DeletePart(p int32, sku string, seq uint32) error {
	return b.pb.Delete(appendPartKey(b.keyBuf[:0], p, sku, seq), nil)
}

// set stages key = v.
func (b *Batch) set(key, v []byte) error {
	b.keyBuf = key
	return b.pb.Set(key, v, nil)
}

// skuWriter stages one SKU's writes for ledger.SKU.Persist, whose
// StateWriter returns nothing: the first error is kept for PutSKU to
// return.
type skuWriter struct {
	b   *Batch
	p   int32
	sku string
	err error
}

func (w *skuWriter) PutState(v []byte) { w.keep(w.b.PutState(w.p, w.sku, v)) }

func (w *skuWriter) PutPart(seq uint32, v []byte) { w.keep(w.b.PutPart(w.p, w.sku, seq, v)) }

func (w *skuWriter) DeletePart(seq uint32) { w.keep(w.b.DeletePart(w.p, w.sku, seq)) }

func (w *skuWriter) HoldIndex(expiresAt int64, holdID string, open bool) {
	w.keep(w.b.PutHoldIndex(w.p, w.sku, expiresAt, holdID, open))
}

func (w *skuWriter) keep(err error) {
	if w.err == nil {
		w.err = err
	}
}

// ValueBuffer lends the batch's value buffer, emptied, to
// ledger.SKU.Persist: a pebble batch copies each value it stages, so one
// buffer serves every value of every SKU the batch writes.
func (w *skuWriter) ValueBuffer() *[]byte {
	w.b.valueBuf = w.b.valueBuf[:0]
	return &w.b.valueBuf
}

// PutPartition stages partition p's state.
func (b *Batch) PutPartition(p int32, st *ledger.Partition) error {
	b.valueBuf = st.AppendBinary(b.valueBuf[:0])
	return b.PutPartitionBytes(p, b.valueBuf)
}

// PutPartitionBytes stages partition p's state, already encoded
// (ledger.Partition.AppendBinary).
func (b *Batch) PutPartitionBytes(p int32, v []byte) error {
	return b.pb.Set(PartitionStateKey(p), v, nil)
}

// SetOffset stages partition p's next offset.
func (b *Batch) SetOffset(p int32, next int64) error {
	return b.pb.Set(OffsetKey(p), appendOffsetValue(nil, next), nil)
}

// Len is the number of bytes staged.
func (b *Batch) Len() int { return b.pb.Len() }

// Commit writes the batch atomically and releases it.
func (b *Batch) Commit() error {
	err := b.apply()
	b.pb = nil
	return err
}

// CommitSynced is Commit, waiting until the batch's log record is on disk
// whatever Options.Sync says: a writer that tells others of the batch next
// (the changelog) then never runs ahead of what a restart finds here. A
// write without sync can sit in Pebble's log buffer, lost with the process.
func (b *Batch) CommitSynced() error {
	err := b.applyWith(pebble.Sync)
	b.pb = nil
	return err
}

// apply writes the batch's contents atomically.
func (b *Batch) apply() error { return b.applyWith(b.s.commitOpts) }

func (b *Batch) applyWith(o *pebble.WriteOptions) error {
	if err := b.s.write(func(db *pebble.DB) error { return db.Apply(b.pb, o) }); err != nil {
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
		b.pb = nil
		return err
	}
	b.pb.Reset()
	return nil
}

// KeepLen is the size past which a batch emptied by CommitKeep starts
// again with a new buffer.
const KeepLen = 1 << 20

// Close releases an uncommitted batch.
func (b *Batch) Close() { b.pb = nil }
