package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOpenRefusesPebbleV1Store: a store written by stockledger on Pebble
// v1.1.5 (testdata/pebble-v1.1.5, made by the store code of that release:
// format major version 1, which Pebble v2 cannot read) is refused with
// ErrPebbleV1Format naming its directory, read-only or not, and is left
// exactly as it was.
func TestOpenRefusesPebbleV1Store(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledger")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "pebble-v1.1.5"))); err != nil {
		t.Fatal(err)
	}
	before := readDir(t, dir)
	for _, readOnly := range []bool{false, true} {
		st, err := Open(dir, Options{ReadOnly: readOnly})
		if err == nil {
			st.Close()
			t.Fatalf("readOnly=%v: a Pebble v1 store opened", readOnly)
		}
		if !errors.Is(err, ErrPebbleV1Format) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("readOnly=%v: got %v, want ErrPebbleV1Format naming %s", readOnly, err, dir)
		}
	}
	after := readDir(t, dir)
	if len(after) != len(before) {
		t.Fatalf("files before %d, after %d", len(before), len(after))
	}
	for name, data := range before {
		if after[name] != data {
			t.Fatalf("%s changed", name)
		}
	}
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

// TestNewStoreFormat: a new store is created at storeFormat, and so is a
// checkpoint of it (a checkpoint opens as a store of its own).
func TestNewStoreFormat(t *testing.T) {
	fs := vfs.NewMem()
	st, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.DB().FormatMajorVersion(); got != storeFormat {
		t.Fatalf("new store at format %d, want %d", got, storeFormat)
	}
	if err := st.Checkpoint("cp"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cp, err := Open("cp", Options{FS: fs, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if got := cp.DB().FormatMajorVersion(); got != storeFormat {
		t.Fatalf("checkpoint at format %d, want %d", got, storeFormat)
	}
}

// TestCommitKeepKeepsBuffer: a batch emptied by CommitKeep keeps its
// buffer up to KeepLen, and lets a larger one go.
func TestCommitKeepKeepsBuffer(t *testing.T) {
	st, err := Open("db", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := st.NewBatch()
	defer b.Close()
	fill := func(n int) {
		t.Helper()
		v := make([]byte, 4<<10)
		for i := 0; b.Len() < n; i++ {
			if err := b.SetOffset(int32(i), int64(i)); err != nil {
				t.Fatal(err)
			}
			if err := b.pb.Set([]byte{'z', byte(i >> 8), byte(i)}, v, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.CommitKeep(); err != nil {
			t.Fatal(err)
		}
	}
	fill(KeepLen / 2)
	if c := cap(b.pb.Repr()); c < KeepLen/2 {
		t.Fatalf("after a commit of %d bytes the batch's buffer is %d bytes: not kept", KeepLen/2, c)
	}
	fill(2 * KeepLen)
	if c := cap(b.pb.Repr()); c > KeepLen {
		t.Fatalf("after a commit of %d bytes the batch's buffer is %d bytes: kept past KeepLen", 2*KeepLen, c)
	}
}
