// Package store keeps the ledger in Pebble.
//
// Key layout (all integers big-endian, so keys sort by partition):
//
//	'm' "meta"                  -> JSON: the topic and partition count the store was built from
//	'o' u32 partition           -> u64 next offset of the events topic to fold
//	'p' u32 partition           -> ledger.Partition encoding (channel policies, policy ids)
//	's' u32 partition sku-bytes -> ledger.SKU state: whole, or the core of a split one
//	'x' u32 partition u8 len(sku) sku-bytes u32 seq -> part seq of a split SKU (ledger/layout.go)
//	'u' u32 partition           -> u64 offset below which outputs are acknowledged
//	                               (stores written before the marks moved to their
//	                               own file, published.go; read, no longer written)
//
// A Batch carries the new SKU states, partition states and next offsets of a
// processing batch; committing it is one atomic Pebble write, so state and
// input position never disagree (on restart the consumer resumes from the
// offsets here). Writes skip fsync by default: Pebble's write-ahead log keeps
// batches atomic and in order, so an OS crash loses at most a tail of whole
// batches, and their events are folded again from Kafka.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stockledger/stockledger/ledger"
)

// Options configures Open.
type Options struct {
	// FS is the filesystem; nil means the OS's. Tests pass vfs.NewMem() or an
	// error-injecting FS.
	FS vfs.FS
	// Sync makes every commit fsync its WAL write. Default false (see the
	// package doc).
	Sync bool
	// CacheBytes is Pebble's block cache size. Default 64 MiB.
	CacheBytes int64
	// MinFreeBytes: writes fail with ErrDiskFull while the disk has less
	// free space than this plus the log Pebble preallocates when it next
	// rotates its memtable (WALPreallocation), before Pebble itself runs
	// out. 0 disables the check.
	MinFreeBytes int64
	// ReadOnly opens an existing store without writing to it (audits of a
	// stopped processor's store, or of a checkpoint). Pebble still takes
	// the directory's lock, so this fails while a processor has it open.
	ReadOnly bool
}

// Store is the ledger's Pebble database.
//
// Two kinds of write failure are told apart. A nearly full disk is seen
// before Pebble writes (Options.MinFreeBytes): the write fails with
// ErrDiskFull and the store stays usable, so the caller can wait for space.
// An I/O error inside Pebble makes Pebble stop (panic), since it can no
// longer vouch for what it holds; the store turns that into an error and
// is Broken from then on, and the process must restart. So does a failed
// write of Pebble's log that Pebble has not reported yet (logwatch.go).
// Because a batch carries its states and offsets together, whatever the
// log kept is consistent when the store is opened again.
type Store struct {
	dir  string
	opts Options
	sync *pebble.WriteOptions
	// walPrealloc is what Pebble preallocates for each new log.
	walPrealloc int64
	// log sees Pebble's log fail (logwatch.go).
	log *logWatch
	// checkpointMu makes NewCheckpoint's prune-and-make one step.
	checkpointMu sync.Mutex

	mu struct {
		sync.RWMutex
		db     *pebble.DB
		broken error
	}
	published *publishedMarks
}

// ErrDiskFull is returned when the store's disk has less free space than
// Options.MinFreeBytes: the store refuses to write before Pebble fails.
var ErrDiskFull = errors.New("store disk is nearly full")

// ErrPebbleV1Format is returned by Open for a store written by a
// stockledger built on Pebble v1, which created stores in Pebble's format
// major version 1. Pebble v2 can neither open nor convert that format; the
// store has to be built again (from the changelog or the events topic).
var ErrPebbleV1Format = errors.New("store is in Pebble v1's format (written by a stockledger before its Pebble v2 upgrade), which this version cannot open")

// storeFormat is the Pebble format major version a new store is created
// at, and an older v2 store is moved up to when opened. It is named rather
// than pebble.FormatNewest so that upgrading Pebble does not move stores to
// a format the previous release cannot open: raising it is a decision of
// its own.
const storeFormat = pebble.FormatValueSeparation

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 64 << 20
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if err := checkNotV1(o.FS, dir); err != nil {
		return nil, err
	}
	log := &logWatch{FS: o.FS}
	po := pebbleOptions(dir, o, log)
	db, err := openDB(dir, po, o.CacheBytes)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: o, sync: pebble.NoSync, walPrealloc: WALPreallocation(po), log: log}
	if o.Sync {
		s.sync = pebble.Sync
	}
	if s.published, err = openPublished(o.FS, dir, o.ReadOnly, o.Sync); err != nil {
		db.Close()
		return nil, err
	}
	s.mu.db = db
	return s, nil
}

// pebbleOptions are the options the store opens Pebble with, on fs (o.FS
// watched): its cache is openDB's to make.
func pebbleOptions(dir string, o Options, fs vfs.FS) *pebble.Options {
	po := &pebble.Options{
		FS:                          fs,
		FormatMajorVersion:          storeFormat,
		MemTableSize:                memTableSize(o.FS, dir, o.MinFreeBytes),
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       32,
		Logger:                      quietLogger{},
		ReadOnly:                    o.ReadOnly,
	}
	po.EnsureDefaults()
	return po
}

// checkNotV1 refuses a store in Pebble's format major version 1 before
// Pebble sees it: such a store has a CURRENT file and no format version
// marker (Pebble v1 wrote the marker only from version 2 on, and the
// store never asked for more than the default, version 1).
func checkNotV1(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return fmt.Errorf("listing store directory %s: %w", dir, err)
	}
	current := false
	for _, name := range names {
		if strings.HasPrefix(name, "marker.format-version.") {
			return nil
		}
		current = current || name == "CURRENT"
	}
	if current {
		return fmt.Errorf("%w: %s (left as it was)", ErrPebbleV1Format, dir)
	}
	return nil
}

func openDB(dir string, po *pebble.Options, cacheBytes int64) (*pebble.DB, error) {
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	po.Cache = cache
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("opening pebble store %s: %w", dir, err)
	}
	return db, nil
}

// Memtable sizes. Pebble preallocates 110% of the memtable for each new
// log, keeps a log per memtable waiting to be flushed, and keeps flushed
// logs for reuse, so its logs can take several times the memtable on
// disk. On a small disk a large memtable would take the room the free
// space guard keeps (an 80 MiB disk could not run `run` with its 64 MiB
// guard): the memtable is then a sixteenth of the space beyond the guard,
// at least minMemTable. It is at most maxMemTable because a process killed
// leaves up to a memtable or more of log that Open replays and flushes
// before anything else: the largest part of a restart.
const (
	maxMemTable = 16 << 20
	minMemTable = 1 << 20
)

// memTableSize sizes Pebble's memtable for the disk dir is on (the largest
// when the disk's size is unknown).
func memTableSize(fs vfs.FS, dir string, minFree int64) uint64 {
	total, ok := diskSize(fs, dir)
	if !ok {
		return maxMemTable
	}
	spare := uint64(0)
	if total > uint64(max(minFree, 0)) {
		spare = total - uint64(max(minFree, 0))
	}
	return min(max(spare/16, minMemTable), maxMemTable)
}

// diskSize is the size of the filesystem holding dir, or of its nearest
// existing ancestor (a new store's directory does not exist yet).
func diskSize(fs vfs.FS, dir string) (uint64, bool) {
	for {
		u, err := fs.GetDiskUsage(dir)
		if err == nil {
			return u.TotalBytes, true
		}
		parent := fs.PathDir(dir)
		if parent == dir {
			return 0, false
		}
		dir = parent
	}
}

// WALPreallocation is what Pebble preallocates on disk for each new log
// (write-ahead log file) of a database opened with po: 110% of the
// memtable, as Pebble's DB.walPreallocateSize computes it.
func WALPreallocation(po *pebble.Options) int64 {
	size := int64(po.MemTableSize)
	return size + size/10
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Checkpoint writes a consistent copy of the store, as of one instant, to
// dir (which must not exist), hard-linking its tables where it can. Every
// committed batch is either wholly in it or not at all, so its states and
// next offsets agree. A checkpoint opens as a store of its own.
func (s *Store) Checkpoint(dir string) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	if err := s.logFailed(); err != nil {
		return err
	}
	if err := db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpointing store to %s: %w", dir, err)
	}
	return nil
}

// Close closes the store.
func (s *Store) Close() (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.db == nil {
		return nil
	}
	if s.mu.broken != nil {
		// Pebble panicked inside its commit pipeline (a failed WAL write
		// or sync), which leaves its commit and DB mutexes locked: its
		// Close would block forever. Leave the instance to the process's
		// exit; the next Open replays the log from disk.
		s.mu.db = nil
		_ = s.published.close()
		return s.mu.broken
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("closing broken store: %v", r)
		}
	}()
	db := s.mu.db
	s.mu.db = nil
	return errors.Join(s.published.close(), db.Close())
}

// Broken returns why the store stopped writing, or nil. A broken store
// stays broken: Pebble stops when it cannot write its log, and the process
// must restart (opening the store replays the log from disk).
func (s *Store) Broken() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.broken
}

// DB returns the current Pebble database (metrics); nil while broken, or
// once its log failed (a flush would end the process: logwatch.go).
func (s *Store) DB() *pebble.DB {
	if s.logFailed() != nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.broken != nil {
		return nil
	}
	return s.mu.db
}

// db returns the database for a read, or the reason there is none.
func (s *Store) db() (*pebble.DB, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.broken != nil {
		return nil, s.mu.broken
	}
	if s.mu.db == nil {
		return nil, errors.New("store closed")
	}
	return s.mu.db, nil
}

// write runs fn, a write to db, turning a Pebble panic into an error
// that marks the store broken.
func (s *Store) write(fn func(db *pebble.DB) error) (err error) {
	db, err := s.db()
	if err != nil {
		return err
	}
	if err := s.logFailed(); err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble stopped writing: %v", r)
			s.mu.Lock()
			s.mu.broken = err
			s.mu.Unlock()
		}
	}()
	return fn(db)
}

// logFailed marks the store broken once Pebble's log has failed, and
// returns why (logwatch.go).
func (s *Store) logFailed() error {
	lerr := s.log.failed()
	if lerr == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.broken == nil {
		s.mu.broken = fmt.Errorf("pebble stopped writing: its log failed: %w", lerr)
	}
	return s.mu.broken
}

// checkSpace refuses writes when the disk is nearly full. Any write may
// fill the memtable and make Pebble start a new log, preallocated at once;
// a log Pebble cannot write stops it for good. So a write needs room for
// that preallocation on top of MinFreeBytes, which is left for what
// follows (the full memtable's flush, compactions).
func (s *Store) checkSpace() error {
	if s.opts.MinFreeBytes <= 0 {
		return nil
	}
	u, err := s.opts.FS.GetDiskUsage(s.dir)
	if err != nil {
		return nil // unknown: let Pebble try
	}
	if need := uint64(s.opts.MinFreeBytes + s.walPrealloc); u.AvailBytes < need {
		return fmt.Errorf("%w: %d bytes free, under %d (%d kept free and %d for Pebble's next log)",
			ErrDiskFull, u.AvailBytes, need, s.opts.MinFreeBytes, s.walPrealloc)
	}
	return nil
}

func offsetKey(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'o'}, uint32(p)) }

func publishedKey(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'u'}, uint32(p)) }

func partitionKey(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'p'}, uint32(p)) }

func skuPrefix(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'s'}, uint32(p)) }

// AppendSKUKey appends the key of sku in partition p to dst.
func AppendSKUKey(dst []byte, p int32, sku string) []byte {
	dst = append(dst, 's')
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	return append(dst, sku...)
}

func partPrefix(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'x'}, uint32(p)) }

// appendPartKey appends the key of part seq of sku in partition p to dst.
// SKU codes are at most ledger.MaxSKUBytes (128) long, so one length byte
// keeps one SKU's parts apart from another's.
func appendPartKey(dst []byte, p int32, sku string, seq uint32) []byte {
	dst = append(dst, 'x')
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	dst = append(dst, byte(len(sku)))
	dst = append(dst, sku...)
	return binary.BigEndian.AppendUint32(dst, seq)
}

var metaKey = []byte("mmeta")

// Meta returns the stored metadata value, or nil.
func (s *Store) Meta() ([]byte, error) { return s.get(metaKey) }

// SetMeta stores the metadata value durably.
func (s *Store) SetMeta(v []byte) error {
	return s.write(func(db *pebble.DB) error { return db.Set(metaKey, v, pebble.Sync) })
}

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

var probeKey = []byte("mprobe")

// Probe writes and syncs a small key: it fails while the disk is full or
// failing.
func (s *Store) Probe() error {
	err := s.write(func(db *pebble.DB) error { return db.Set(probeKey, []byte{1}, pebble.Sync) })
	if err != nil {
		return fmt.Errorf("probing store: %w", err)
	}
	return nil
}

// Offset returns the next offset to fold for partition p, and whether the
// store has one.
func (s *Store) Offset(p int32) (int64, bool, error) {
	v, err := s.get(offsetKey(p))
	if err != nil {
		return 0, false, fmt.Errorf("reading offset of partition %d: %w", p, err)
	}
	if v == nil {
		return 0, false, nil
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("offset of partition %d: %w", p, ledger.ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// SetPublished records, before the state commit that follows, that the
// outputs of partition p's records below next are acknowledged by Kafka.
// A restart that folds them again then does not publish them again (after
// a process crash; after a machine crash they may repeat: published.go).
func (s *Store) SetPublished(marks map[int32]int64) error {
	if _, err := s.db(); err != nil {
		return err
	}
	return s.published.set(marks)
}

// Published returns the mark SetPublished recorded for p (0 if none).
func (s *Store) Published(p int32) (int64, error) {
	v, err := s.get(publishedKey(p)) // a store written before published.go
	if err != nil {
		return 0, err
	}
	var old int64
	if len(v) == 8 {
		old = int64(binary.BigEndian.Uint64(v))
	}
	return max(old, s.published.get(p)), nil
}

// Partition loads partition p's state into dst (keeping dst.Config); an
// empty state if there is none.
func (s *Store) Partition(p int32, dst *ledger.Partition) error {
	v, err := s.get(partitionKey(p))
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
	if len(v) == 0 || v[0] != ledger.SplitFormat {
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

// scanSKUs calls fn with each SKU's state value and, for a split one, its
// parts, from one snapshot.
func (s *Store) scanSKUs(p int32, fn func(name string, v []byte, parts [][]byte) error) error {
	lo := skuPrefix(p)
	hi := skuPrefix(p + 1)
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
		name, v := string(it.Key()[len(lo):]), it.Value()
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
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{'o'}, UpperBound: []byte{'p'}})
	if err != nil {
		return nil, err
	}
	var ps []int32
	for it.First(); it.Valid(); it.Next() {
		if k := it.Key(); len(k) == 5 {
			ps = append(ps, int32(binary.BigEndian.Uint32(k[1:])))
		}
	}
	return ps, it.Close()
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

// CommitSynced is Commit, waiting until the batch's log record is on disk
// whatever Options.Sync says: a writer that tells others of the batch next
// (the changelog) then never runs ahead of what a restart finds here. A
// write without sync can sit in Pebble's log buffer, lost with the process.
func (b *Batch) CommitSynced() error {
	err := b.applyWith(pebble.Sync)
	b.b = nil
	return err
}

// apply writes the batch's contents atomically.
func (b *Batch) apply() error { return b.applyWith(b.s.sync) }

func (b *Batch) applyWith(o *pebble.WriteOptions) error {
	if err := b.s.write(func(db *pebble.DB) error { return db.Apply(b.b, o) }); err != nil {
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

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
