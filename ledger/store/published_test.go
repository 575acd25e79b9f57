package store

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func mustPublished(t *testing.T, st *Store, p int32, want int64) {
	t.Helper()
	got, err := st.Published(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("published mark of partition %d = %d, want %d", p, got, want)
	}
}

func TestPublishedMarks(t *testing.T) {
	fs := vfs.NewMem()
	open := func(o Options) *Store {
		t.Helper()
		o.FS = fs
		st, err := Open("db", o)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open(Options{})
	mustPublished(t, st, 0, 0)
	if err := st.SetPublished(map[int32]int64{0: 10, 3: 7}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPublished(map[int32]int64{0: 12}); err != nil { // 3 is kept
		t.Fatal(err)
	}
	mustPublished(t, st, 0, 12)
	mustPublished(t, st, 3, 7)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open(Options{})
	mustPublished(t, st, 0, 12)
	mustPublished(t, st, 3, 7)
	if err := st.DropPartition(0); err != nil {
		t.Fatal(err)
	}
	mustPublished(t, st, 0, 0)
	st.Close()

	// The file now holds one mark; the longer old content behind it is
	// not read as marks.
	ro := open(Options{ReadOnly: true})
	mustPublished(t, ro, 0, 0)
	mustPublished(t, ro, 3, 7)
	if err := ro.SetPublished(map[int32]int64{3: 9}); err == nil {
		t.Fatal("a read-only store wrote marks")
	}
	ro.Close()

	// A torn or corrupt file counts as no marks (outputs may repeat).
	f, err := fs.OpenReadWrite(fs.PathJoin("db", publishedFile), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st = open(Options{})
	mustPublished(t, st, 3, 0)

	// A store written before the marks had their own file keeps its
	// Pebble marks.
	if err := st.DB().Set(oldPublishedKey(5), appendOffsetValue(nil, 40), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	mustPublished(t, st, 5, 40)
	if err := st.SetPublished(map[int32]int64{5: 41}); err != nil {
		t.Fatal(err)
	}
	mustPublished(t, st, 5, 41)
	st.Close()
}

// TestPublishedMarksCrash: a mark is in the file as soon as SetPublished
// returns (a killed process's writes stay in the page cache); a machine
// crash keeps it only when the store syncs.
func TestPublishedMarksCrash(t *testing.T) {
	for _, sync := range []bool{false, true} {
		fs := vfs.NewCrashableMem()
		// Pebble does not sync the parent of the directory it creates.
		if err := fs.MkdirAll("db", 0o755); err != nil {
			t.Fatal(err)
		}
		if d, err := fs.OpenDir(""); err != nil || d.Sync() != nil {
			t.Fatal("syncing the root directory", err)
		}
		st, err := Open("db", Options{FS: fs, Sync: sync})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetPublished(map[int32]int64{1: 99}); err != nil {
			t.Fatal(err)
		}
		// The process dies: the file as written, synced or not.
		data, err := fs.Open(fs.PathJoin("db", publishedFile))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := data.ReadAt(buf, 0)
		data.Close()
		if got := decodePublished(buf[:n], publishedMagic); got[1] != 99 {
			t.Fatalf("sync=%v: after a kill the file holds %v, want partition 1 at 99", sync, got)
		}
		// The machine goes down: what was synced is all the next boot has
		// (the old store's close writes to the lost disk).
		crashed := fs.CrashClone(vfs.CrashCloneCfg{})
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st, err = Open("db", Options{FS: crashed, Sync: sync})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if sync {
			want = 99
		}
		mustPublished(t, st, 1, want)
		st.Close()
	}
}
