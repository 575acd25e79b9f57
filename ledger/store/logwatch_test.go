package store

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// failingLog fails every write of Pebble's log while on.
type failingLog struct{ on atomic.Bool }

func (f *failingLog) String() string { return "failing log" }

func (f *failingLog) MaybeError(op errorfs.Op) error {
	if f.on.Load() && strings.HasSuffix(op.Path, ".log") &&
		(op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt) {
		return errorfs.ErrInjected
	}
	return nil
}

// TestFailedLogStopsWrites: with unsynced commits a failed write of
// Pebble's log happens in the background, after the commit returned. A
// later commit that makes Pebble rotate the log would end the process
// (logwatch.go); the store sees the failure first and refuses that commit
// with an error, as it refuses checkpoints, and is broken.
func TestFailedLogStopsWrites(t *testing.T) {
	mem := vfs.NewMem()
	// A small disk: a 1 MiB memtable, so a 1.5 MiB batch rotates the log.
	mem.TestingSetDiskUsage(vfs.DiskUsage{TotalBytes: 16 << 20, AvailBytes: 16 << 20, UsedBytes: 0})
	inj := &failingLog{}
	st, err := Open("db", Options{FS: errorfs.Wrap(mem, inj)})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(n int) error {
		b := st.NewBatch()
		for i := range n {
			if err := b.pb.Set([]byte{'z', byte(i >> 8), byte(i)}, make([]byte, 1<<10), nil); err != nil {
				t.Fatal(err)
			}
		}
		return b.Commit()
	}
	inj.on.Store(true)
	// More than a block of the log: Pebble's log writer writes it in the
	// background, and fails.
	if err := commit(64); err != nil {
		t.Fatalf("an unsynced commit failed at once: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); st.log.failed() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the log writer did not fail")
		}
	}
	if err := commit(1536); err == nil || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("a commit after the log failed: %v, want the log's error", err)
	}
	if st.Broken() == nil || st.DB() != nil {
		t.Fatal("the store is not broken after its log failed")
	}
	if err := st.Checkpoint("cp"); err == nil {
		t.Fatal("a checkpoint after the log failed succeeded")
	}
	if err := st.Close(); err == nil {
		t.Fatal("closing a broken store returned no error")
	}
}
