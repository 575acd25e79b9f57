package store

import (
	"io/fs"
	"path/filepath"
)

// AllocatedBytes is what the store's directory takes on disk, as du counts
// it: the blocks allocated to it and its files, the logs Pebble
// preallocates and keeps for reuse included, which Pebble's own count
// (DiskSpaceUsage) leaves out. A file that vanishes during the walk (a
// compaction's input) is skipped.
func (s *Store) AllocatedBytes() (int64, error) {
	var total int64
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		total += allocated(info)
		return nil
	})
	return total, err
}
