package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

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
