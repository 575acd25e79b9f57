package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Names in a checkpoints directory: a checkpoint (named by the time it
// was made, so names sort by age), and one being removed (renamed first,
// so a reader opening it finds nothing rather than half).
const (
	checkpointPrefix = "checkpoint-"
	removingPrefix   = "removing-"
)

// CheckpointsKept is how many of the newest checkpoints NewCheckpoint
// leaves whether or not anyone has them open: a client opens the one it
// was given a moment after the answer, and another request in that moment
// must not remove it. Older ones are removed unless open.
const CheckpointsKept = 2

// NewCheckpoint writes a checkpoint (Checkpoint) into a new directory under
// parent and returns its path. First it removes the earlier checkpoints
// under parent but the newest CheckpointsKept-1 and those a store has
// open: a store opened on a checkpoint holds Pebble's lock on its
// directory until it is closed, so a reader (`stockledger verify --http`)
// keeps its checkpoint while it reads. What is left is the
// CheckpointsKept newest and those being read. Calls on one store run one
// at a time. It refuses (ErrDiskFull) when the store would refuse a write:
// a checkpoint copies the store's log and pins tables compactions replace.
func (s *Store) NewCheckpoint(parent string) (string, error) {
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	fs := s.opts.FS
	if err := fs.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint directory: %w", err)
	}
	if err := pruneCheckpoints(fs, parent, CheckpointsKept-1); err != nil {
		return "", err
	}
	if err := s.checkSpace(); err != nil {
		return "", err
	}
	dir := fs.PathJoin(parent, checkpointPrefix+time.Now().UTC().Format("20060102T150405.000000000"))
	if err := s.Checkpoint(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// pruneCheckpoints removes the checkpoints under parent but the newest
// keep and those a store has open, and what an earlier removal left half
// done. The newest are not even tried: taking their lock for a moment
// would make a client's open fail.
func pruneCheckpoints(fs vfs.FS, parent string, keep int) error {
	names, err := fs.List(parent)
	if err != nil {
		return fmt.Errorf("listing checkpoints: %w", err)
	}
	slices.Sort(names)
	var errs []error
	var checkpoints []string
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, removingPrefix):
			errs = append(errs, fs.RemoveAll(fs.PathJoin(parent, name)))
		case strings.HasPrefix(name, checkpointPrefix):
			checkpoints = append(checkpoints, name)
		}
	}
	for _, name := range checkpoints[:max(len(checkpoints)-keep, 0)] {
		errs = append(errs, removeUnread(fs, fs.PathJoin(parent, name), fs.PathJoin(parent, removingPrefix+name)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing old checkpoints: %w", err)
	}
	return nil
}

// removeUnread removes the checkpoint in dir unless a store has it open.
// Taking Pebble's lock on it tells: a store holds it from open to close.
// Under the lock the directory is renamed away, so a reader that opens it
// afterwards finds nothing instead of a checkpoint losing its files.
func removeUnread(fs vfs.FS, dir, trash string) error {
	lock, err := pebble.LockDirectory(dir, fs)
	if err != nil {
		// Held by a reader (the usual case), or a directory that cannot
		// be locked: either way not ours to remove.
		return nil
	}
	err = fs.Rename(dir, trash)
	if cerr := lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fs.RemoveAll(trash)
}
