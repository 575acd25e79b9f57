package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunDemoEmbedded runs what `make run` runs: `stockledger run --demo`
// on its embedded broker. It must become ready, and the demo's web shop
// must check out through the checkout API: the hot SKU gets holds granted
// (the hold requests counted by the API's metric) and the clock events of
// the processor are folded.
func TestRunDemoEmbedded(t *testing.T) {
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(binPath, "run", "--demo", "--data", filepath.Join(dir, "data"),
		"--embedded-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--http", httpAddr)
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	defer func() {
		select {
		case <-done: // exited early: reported below
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		if waitErr != nil {
			b, _ := os.ReadFile(logf.Name())
			t.Errorf("run exited with %v after SIGTERM\n%s", waitErr, b)
		}
	}()
	want := map[string]bool{`op="hold",outcome="granted"`: false, `type="clock"`: false, `type="listing"`: false}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("run exited early: %v\n%s", waitErr, b)
		case <-time.After(500 * time.Millisecond):
		}
		if seenAll(t, "http://"+httpAddr, want) {
			return
		}
	}
	b, _ := os.ReadFile(logf.Name())
	t.Fatalf("after 60 s the demo has not shown %v\n%s", want, b)
}

// seenAll marks the metric series of want that /metrics shows with a
// count above zero, and reports whether all are; and checks that /readyz
// answers once the processor is up.
func seenAll(t *testing.T, base string, want map[string]bool) bool {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false
	}
	all := true
	for series := range want {
		want[series] = want[series] || metricAbove0(string(b), series)
		all = all && want[series]
	}
	if all {
		var ready map[string]string
		r, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		if json.NewDecoder(r.Body).Decode(&ready) != nil || ready["status"] != "ready" {
			return false
		}
	}
	return all
}

// metricAbove0 reports whether a series of the Prometheus text exposition
// whose labels contain labels has a value above 0.
func metricAbove0(exposition, labels string) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, "#") || !strings.Contains(line, labels) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil && v > 0 {
			return true
		}
	}
	return false
}
