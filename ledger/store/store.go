// Package store keeps the ledger in Pebble.
//
// A Batch carries the new SKU states, partition states and next offsets of a
// processing batch; committing it is one atomic Pebble write, so state and
// input position never disagree (on restart the consumer resumes from the
// offsets here). Writes skip fsync by default: Pebble's write-ahead log keeps
// batches atomic and in order, so an OS crash loses at most a tail of whole
// batches, and their events are folded again from Kafka.
//
// The files: keys.go lays out the keys; store.go opens, closes and guards
// the database; diskspace.go keeps writes off a full disk; read.go reads
// and iterates; batch.go stages and commits writes; published.go keeps the
// published marks; checkpoint.go makes and prunes checkpoints; logwatch.go
// watches Pebble's log.
package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
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
	// commitOpts: fsync each commit or not (Options.Sync).
	commitOpts *pebble.WriteOptions
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
	produced  *publishedMarks // SetProduced
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
	s := &Store{dir: dir, opts: o, commitOpts: pebble.NoSync, walPrealloc: WALPreallocation(po), log: log}
	if o.Sync {
		s.commitOpts = pebble.Sync
	}
	if s.published, err = openPublished(o.FS, dir, publishedFile, publishedMagic, o.ReadOnly, o.Sync); err != nil {
		db.Close()
		return nil, err
	}
	if s.produced, err = openPublished(o.FS, dir, producedFile, producedMagic, o.ReadOnly, o.Sync); err != nil {
		db.Close()
		s.published.close()
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
		_ = s.produced.close()
		return s.mu.broken
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("closing broken store: %v", r)
		}
	}()
	db := s.mu.db
	s.mu.db = nil
	return errors.Join(s.published.close(), s.produced.close(), db.Close())
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

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
