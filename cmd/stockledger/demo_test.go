package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// TestRunSaysWhenPortsAreTaken: with the broker's and the HTTP API's
// ports held by another program, run starts nothing and says which are
// taken and how to choose others (make run's variables, run's flags).
func TestRunSaysWhenPortsAreTaken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	data := filepath.Join(t.TempDir(), "data")
	_, errOut, code := cli(ctx, t, nil, "run", "--demo", "--data", data, "--embedded-addr", addrs[0], "--http", addrs[1])
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, errOut)
	}
	for _, want := range []string{addrs[0] + " (the embedded Kafka broker) is in use", addrs[1] + " (the HTTP API) is in use",
		"make run KAFKA_PORT=", "export STOCKLEDGER_BROKERS="} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("run made its data directory before finding its ports taken")
	}
}

// TestDemoRestartsOnItsData: the demo run twice on the same data trades on
// where it was: its only dead letters are the deliberate ones (the web
// shop cancelling orders the ledger never saw), the opening stock is
// received once (the ledger skips the second run's opening events as
// duplicates), and no location of a SKU other than the flash sale's is
// below zero.
func TestDemoRestartsOnItsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := filepath.Join(t.TempDir(), "data")
	kafka, httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for run := 1; run <= 2; run++ {
		cmd := exec.Command(binPath, "run", "--demo", "--data", data, "--embedded-addr", kafka, "--http", httpAddr)
		logPath := filepath.Join(filepath.Dir(data), fmt.Sprintf("run-%d.log", run))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{`op="hold",outcome="granted"`: false}
		for !seenAll(t, "http://"+httpAddr, want) && ctx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(8 * time.Second) // a replenishment round or two
		if run == 2 {
			checkDemoData(ctx, t, kafka, httpAddr)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("run %d exited with %v\n%s", run, err, b)
		}
		logf.Close()
	}
}

// checkDemoData checks the demo's dead letters and stock (see
// TestDemoRestartsOnItsData).
func checkDemoData(ctx context.Context, t *testing.T, kafka, httpAddr string) {
	t.Helper()
	out, errOut, code := cli(ctx, t, nil, "tail", "dead-letters", "--from-beginning", "--exit-at-end", "--brokers", kafka)
	if code != 0 {
		t.Fatalf("tail dead-letters: %d %s", code, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct{ Reason, Detail string }
		if line != "" && (json.Unmarshal([]byte(line), &d) != nil || d.Reason != "unknown_order" || !strings.Contains(d.Detail, "W-UNKNOWN-")) {
			t.Errorf("a dead letter the demo did not mean: %s", line)
		}
	}
	// The second run's opening events (each SKU's policy, its stock at each
	// location, the PO and the listing) were skipped as duplicates.
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if opening := len(demoSKUs)*(1+len(demoLocations)) + 2; !metricAtLeast(string(b), "stockledger_ledger_events_duplicate_total", float64(opening)) {
		t.Errorf("fewer duplicates than the %d opening events sent again:\n%s", opening, b)
	}
	for _, sku := range demoSKUs {
		resp, err := http.Get("http://" + httpAddr + "/v1/skus/" + sku)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Locations []struct {
				Location string `json:"location"`
				OnHand   int    `json:"on_hand"`
			} `json:"locations"`
		}
		err = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range s.Locations {
			if sku != demoHot && l.OnHand < 0 {
				t.Errorf("%s at %s: on_hand %d", sku, l.Location, l.OnHand)
			}
		}
	}
}

// metricAtLeast reports whether series name (without labels) of the
// Prometheus text exposition is at least min.
func metricAtLeast(exposition, name string, min float64) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			return err == nil && v >= min
		}
	}
	return false
}
