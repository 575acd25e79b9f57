package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stockledger/stockledger/ledger/store"
)

// budgetDisk is a disk of a fixed size, in memory: every byte a file holds,
// written or preallocated, counts against the size; an allocation past it
// fails with ENOSPC, and GetDiskUsage reports what is left, as statfs
// would. Its writable files report a file descriptor, because Pebble only
// preallocates its log on files that have one (an in-memory file has
// none), and the preallocation is what these tests are about.
type budgetDisk struct {
	vfs.FS
	mu        sync.Mutex
	size      int64
	used      int64
	files     map[string]*extent
	refused   int     // allocations that did not fit
	preallocs []int64 // lengths Pebble asked to preallocate
}

// extent is what one file occupies, shared by its hard links.
type extent struct {
	n     int64
	links int
}

func newBudgetDisk(size int64) *budgetDisk {
	return &budgetDisk{FS: vfs.NewMem(), size: size, files: map[string]*extent{}}
}

func (d *budgetDisk) GetDiskUsage(string) (vfs.DiskUsage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return vfs.DiskUsage{AvailBytes: uint64(d.size - d.used), TotalBytes: uint64(d.size), UsedBytes: uint64(d.used)}, nil
}

// setFree resizes the disk so that free bytes are left.
func (d *budgetDisk) setFree(free int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.size = d.used + free
}

func (d *budgetDisk) free() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size - d.used
}

func (d *budgetDisk) stats() (refused int, preallocs []int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refused, append([]int64(nil), d.preallocs...)
}

// grow makes e hold at least end bytes, or fails as a full disk does.
func (d *budgetDisk) grow(e *extent, end int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if end <= e.n {
		return nil
	}
	if d.used+end-e.n > d.size {
		d.refused++
		return &os.PathError{Op: "write", Path: "budget disk", Err: syscall.ENOSPC}
	}
	d.used += end - e.n
	e.n = end
	return nil
}

// attach records that name now holds e, releasing what name held before.
func (d *budgetDisk) attach(name string, e *extent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseLocked(name)
	e.links++
	d.files[name] = e
}

func (d *budgetDisk) releaseLocked(name string) {
	e := d.files[name]
	if e == nil {
		return
	}
	delete(d.files, name)
	if e.links--; e.links == 0 {
		d.used -= e.n
	}
}

func (d *budgetDisk) extentOf(name string) *extent {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.files[name]; e != nil {
		return e
	}
	e := &extent{links: 1}
	d.files[name] = e
	return e
}

func (d *budgetDisk) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := d.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	e := &extent{}
	d.attach(name, e)
	return &budgetFile{File: f, d: d, e: e}, nil
}

func (d *budgetDisk) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := d.FS.OpenReadWrite(name, category, opts...)
	if err != nil {
		return nil, err
	}
	return &budgetFile{File: f, d: d, e: d.extentOf(name)}, nil
}

func (d *budgetDisk) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := d.FS.ReuseForWrite(oldname, newname, category)
	if err != nil {
		return nil, err
	}
	d.move(oldname, newname)
	return &budgetFile{File: f, d: d, e: d.extentOf(newname)}, nil
}

func (d *budgetDisk) move(oldname, newname string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.files[oldname]
	if e == nil {
		return
	}
	delete(d.files, oldname)
	d.releaseLocked(newname)
	d.files[newname] = e
}

func (d *budgetDisk) Rename(oldname, newname string) error {
	if err := d.FS.Rename(oldname, newname); err != nil {
		return err
	}
	d.move(oldname, newname)
	return nil
}

func (d *budgetDisk) Link(oldname, newname string) error {
	if err := d.FS.Link(oldname, newname); err != nil {
		return err
	}
	d.attach(newname, d.extentOf(oldname))
	return nil
}

func (d *budgetDisk) Remove(name string) error {
	if err := d.FS.Remove(name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseLocked(name)
	return nil
}

func (d *budgetDisk) RemoveAll(name string) error {
	if err := d.FS.RemoveAll(name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for f := range d.files {
		if f == name || strings.HasPrefix(f, name+"/") {
			d.releaseLocked(f)
		}
	}
	return nil
}

// budgetFile charges its writes and preallocations to its disk.
type budgetFile struct {
	vfs.File
	d   *budgetDisk
	e   *extent
	off int64
}

// fakeFd is not a real descriptor: Pebble only compares a file's Fd with
// vfs.InvalidFd before it preallocates, and calls the File's methods.
const fakeFd = uintptr(1 << 30)

func (f *budgetFile) Fd() uintptr { return fakeFd }

func (f *budgetFile) Write(p []byte) (int, error) {
	if err := f.d.grow(f.e, f.off+int64(len(p))); err != nil {
		return 0, err
	}
	n, err := f.File.Write(p)
	f.off += int64(n)
	return n, err
}

func (f *budgetFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.d.grow(f.e, off+int64(len(p))); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *budgetFile) Preallocate(off, n int64) error {
	f.d.mu.Lock()
	f.d.preallocs = append(f.d.preallocs, n)
	f.d.mu.Unlock()
	return f.d.grow(f.e, off+n)
}

// putRandom commits one SKU state of n incompressible bytes under a new key.
func putRandom(st *store.Store, r *rand.Rand, i, n int) error {
	v := make([]byte, n)
	for j := range v {
		v[j] = byte(r.Uint32())
	}
	b := st.NewBatch()
	if err := b.PutState(0, fmt.Sprintf("SKU-%06d", i), v); err != nil {
		return err
	}
	return b.Commit()
}

// TestDiskGuardCoversWALPreallocation: a write is refused while the disk
// has MinFreeBytes free but not also room for the log Pebble preallocates
// when it next rotates its memtable, so the store stalls before Pebble
// runs out of space (a failed log write stops Pebble for good). The
// preallocation's length is read from what Pebble asks of the disk, not
// from the store.
func TestDiskGuardCoversWALPreallocation(t *testing.T) {
	const minFree = 64 << 20
	disk := newBudgetDisk(4 << 30)
	st, err := store.Open("db", store.Options{FS: disk, MinFreeBytes: minFree})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	// Pebble preallocates its log once the log is written past offset 0;
	// the synced probe makes sure the log writer has written.
	for i := 0; i < 3; i++ {
		if err := putRandom(st, r, i, 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Probe(); err != nil {
		t.Fatal(err)
	}
	_, preallocs := disk.stats()
	if len(preallocs) == 0 {
		t.Fatal("Pebble preallocated nothing: the test disk does not show preallocation")
	}
	prealloc := preallocs[0]

	disk.setFree(minFree + prealloc/2)
	err = putRandom(st, r, 10, 1024)
	if !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("write with %d bytes free (MinFreeBytes %d, log preallocation %d): %v, want ErrDiskFull", disk.free(), minFree, prealloc, err)
	}
	if err := st.Broken(); err != nil {
		t.Fatalf("store broken: %v", err)
	}
	disk.setFree(minFree + prealloc + 1<<20)
	if err := putRandom(st, r, 11, 1024); err != nil {
		t.Fatalf("write with room for the guard and the preallocation: %v", err)
	}
	if refused, _ := disk.stats(); refused != 0 {
		t.Errorf("the disk refused %d allocations: Pebble ran out before the guard stopped it", refused)
	}
}

// TestSmallDiskRuns: an 80 MiB disk with the 64 MiB guard `run` uses leaves
// 16 MiB for the store. A store that kept Pebble's usual 64 MiB memtable
// would preallocate about 70 MiB for its first log and stall at once,
// forever; sized for the disk, it writes a few MiB (enough to fill
// memtables, so logs are rotated and preallocated under the guard), then
// keeps writing until the guard refuses, and the disk itself never refuses
// an allocation: the store stalls (ErrDiskFull) instead of Pebble failing.
// Freeing space lets it write again.
func TestSmallDiskRuns(t *testing.T) {
	const size, minFree = 80 << 20, 64 << 20
	disk := newBudgetDisk(size)
	st, err := store.Open("db", store.Options{FS: disk, MinFreeBytes: minFree})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(3, 4))
	const value = 16 << 10
	i := 0
	for ; i < (3<<20)/value; i++ {
		if err := putRandom(st, r, i, value); err != nil {
			t.Fatalf("write %d (%d bytes written, %d free): %v", i, i*value, disk.free(), err)
		}
	}
	// A synced write waits for the log writer, so the current log has
	// been written, and preallocated, by the time it returns.
	if err := st.Probe(); err != nil {
		t.Fatal(err)
	}
	if _, preallocs := disk.stats(); len(preallocs) < 2 {
		t.Fatalf("Pebble preallocated %d logs: the test wrote too little to rotate the log", len(preallocs))
	}
	for ; ; i++ {
		err = putRandom(st, r, i, value)
		if err != nil || i*value > size {
			break
		}
	}
	if !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("after %d bytes: %v, want ErrDiskFull", i*value, err)
	}
	if err := st.Broken(); err != nil {
		t.Fatalf("store broken: %v", err)
	}
	if refused, _ := disk.stats(); refused != 0 {
		t.Errorf("the disk refused %d allocations: Pebble ran out before the guard stopped it", refused)
	}
	disk.setFree(disk.free() + 32<<20)
	if err := putRandom(st, r, i+1, value); err != nil {
		t.Fatalf("write after space was freed: %v", err)
	}
}
