package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunRefusesPebbleV1Store: `run` on a data directory whose ledger
// store was written by the Pebble v1 release (ledger/store/testdata)
// exits at once, non-zero, saying which directory and how to build the
// store again, and leaves the store as it was.
func TestRunRefusesPebbleV1Store(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	dir := filepath.Join(data, "ledger")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "ledger", "store", "testdata", "pebble-v1.1.5"))); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cl := startBroker(t)
	c := startRun(t, "v1", cl, data)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("run did not exit on a Pebble v1 store")
	}
	out, err := os.ReadFile(c.log)
	if err != nil {
		t.Fatal(err)
	}
	if c.err == nil {
		t.Fatalf("run exited 0 on a Pebble v1 store:\n%s", out)
	}
	for _, want := range []string{"Pebble v1's format", dir, "mv " + dir + " " + dir + ".pebble-v1", cl.topics.Changelog} {
		if !strings.Contains(string(out), want) {
			t.Errorf("run's output lacks %q:\n%s", want, out)
		}
	}
	after, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("the store had %d files, has %d", len(before), len(after))
	}
}
