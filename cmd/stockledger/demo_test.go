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
