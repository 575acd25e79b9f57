package store_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stockledger/stockledger/ledger/store"
)

// checkpoints is a store on a budget disk with a checkpoints directory
// beside it, and the checkpoints made there.
type checkpoints struct {
	t      *testing.T
	disk   *budgetDisk
	st     *store.Store
	parent string
	made   []string
}

func (c *checkpoints) make() {
	c.t.Helper()
	dir, err := c.st.NewCheckpoint(c.parent)
	if err != nil {
		c.t.Fatal(err)
	}
	c.made = append(c.made, c.disk.PathBase(dir))
}

// newest are the newest CheckpointsKept checkpoints made.
func (c *checkpoints) newest() []string {
	return c.made[max(len(c.made)-store.CheckpointsKept, 0):]
}

// expect checks the directory holds the checkpoints named and the other
// file the test put there.
func (c *checkpoints) expect(when string, names ...string) {
	c.t.Helper()
	got, err := c.disk.List(c.parent)
	if err != nil {
		c.t.Fatal(err)
	}
	slices.Sort(got)
	want := append(slices.Clone(names), "notes.txt")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		c.t.Errorf("%s: %v, want %v", when, got, want)
	}
}

// newCheckpoints opens a store holding a few states and offset 42 of
// partition 0, beside a checkpoints directory that holds a half-removed
// checkpoint and a file of someone else's.
func newCheckpoints(t *testing.T, minFree int64) *checkpoints {
	disk := newBudgetDisk(1 << 30)
	st, err := store.Open("data/ledger", store.Options{FS: disk, MinFreeBytes: minFree})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20 {
		if err := putRandom(st, r, i, 4<<10); err != nil {
			t.Fatal(err)
		}
	}
	b := st.NewBatch()
	if err := b.SetOffset(0, 42); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	c := &checkpoints{t: t, disk: disk, st: st, parent: "data/checkpoints"}
	if err := disk.MkdirAll(disk.PathJoin(c.parent, "removing-checkpoint-old"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := disk.Create(disk.PathJoin(c.parent, "notes.txt"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNewCheckpointLeavesNewestAndOpen: NewCheckpoint leaves the newest
// CheckpointsKept checkpoints and those a store has open (readable while
// open), removes the rest and what a removal left half done, keeps other
// files, and refuses on a disk the store would not write to.
func TestNewCheckpointLeavesNewestAndOpen(t *testing.T) {
	const minFree = 64 << 20
	c := newCheckpoints(t, minFree)
	for range store.CheckpointsKept + 3 {
		c.make()
	}
	c.expect("after more checkpoints than are kept", c.newest()...)

	// The oldest of those kept is open while newer ones push it out.
	open := c.newest()[0]
	held, err := store.Open(c.disk.PathJoin(c.parent, open), store.Options{FS: c.disk, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for range store.CheckpointsKept + 1 {
		c.make()
	}
	c.expect("with "+open+" open", append([]string{open}, c.newest()...)...)
	if next, ok, err := held.Offset(0); err != nil || !ok || next != 42 {
		t.Errorf("the open checkpoint's offset: %d %v %v, want 42", next, ok, err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	c.make()
	c.expect("once it was closed", c.newest()...)

	c.disk.setFree(minFree)
	if _, err := c.st.NewCheckpoint(c.parent); !errors.Is(err, store.ErrDiskFull) {
		t.Errorf("checkpoint on a nearly full disk: %v, want ErrDiskFull", err)
	}
}
