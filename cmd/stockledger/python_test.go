package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// pythonExample is the analysts' example, run by TestPythonExample.
var pythonExample = filepath.Join("..", "..", "deploy", "examples", "python")

// pythonVenv runs the example's setup.sh (a venv with confluent-kafka and
// fastavro from PyPI) into a cache directory keyed by its requirements, and
// returns the venv's python. The test is skipped where python3 or its venv
// module is missing, or with STOCKLEDGER_SKIP_PYTHON set; a failing
// install fails it.
func pythonVenv(t *testing.T) string {
	t.Helper()
	if os.Getenv("STOCKLEDGER_SKIP_PYTHON") != "" {
		t.Skip("STOCKLEDGER_SKIP_PYTHON is set")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if out, err := exec.Command(py, "-c", "import venv, ensurepip").CombinedOutput(); err != nil {
		t.Skipf("python3 has no venv/ensurepip: %s", out)
	}
	req, err := os.ReadFile(filepath.Join(pythonExample, "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(req)
	base, err := os.UserCacheDir()
	if err != nil {
		base = t.TempDir()
	}
	venv := filepath.Join(base, "stockledger", "python-example-"+hex.EncodeToString(sum[:6]))
	python := filepath.Join(venv, "bin", "python")
	if exec.Command(python, "-c", "import confluent_kafka, fastavro").Run() != nil {
		os.RemoveAll(venv)
		cmd := exec.Command("bash", filepath.Join(pythonExample, "setup.sh"), venv)
		out, err := cmd.CombinedOutput()
		if err != nil {
			os.RemoveAll(venv)
			t.Fatalf("setup.sh: %v\n%s", err, out)
		}
		t.Logf("setup.sh: %s", strings.TrimSpace(string(out)))
	}
	return python
}

// pyRow is a row of sku_history.py --format jsonl.
type pyRow struct {
	Partition  int32                       `json:"partition"`
	Offset     int64                       `json:"offset"`
	EventID    *string                     `json:"event_id"`
	Type       *string                     `json:"type"`
	Outcome    string                      `json:"outcome"`
	Reason     string                      `json:"reason"`
	Version    uint64                      `json:"version"`
	Unassigned int64                       `json:"unassigned"`
	Locations  map[string]map[string]int64 `json:"locations"`
	Updates    []struct {
		Channel   string `json:"channel"`
		Available int64  `json:"available"`
		Version   uint64 `json:"version"`
	} `json:"updates"`
}

// goRow is a row of `stockledger history --format jsonl`.
type goRow struct {
	Partition  int32            `json:"partition"`
	Offset     int64            `json:"offset"`
	EventID    string           `json:"event_id"`
	Type       string           `json:"type"`
	Outcome    string           `json:"outcome"`
	Reason     string           `json:"reason"`
	Version    uint64           `json:"version"`
	Unassigned int64            `json:"unassigned"`
	Locations  []locationJSON   `json:"locations"`
	Channels   map[string]int64 `json:"channels"`
}

func readRows[T any](t *testing.T, out string) []T {
	t.Helper()
	var rows []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		rows = append(rows, r)
	}
	return rows
}

// TestPythonExampleMatchesHistory runs the Python example (confluent-kafka
// and fastavro from PyPI) against the test broker after the processor has
// folded a generated history, and checks its answer for a few SKUs against
// `stockledger history`: the same events with the same outcome, version,
// unassigned units and quantities per location after each, and every update
// it read from the updates topic equal to history's value of that channel
// at that event.
func TestPythonExampleMatchesHistory(t *testing.T) {
	python := pythonVenv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := newAuditCluster(ctx, t, "python", auditHistory(8, 6_000))
	// Small batches: more updates on the topic (a batch coalesces them).
	l, err := e2etest.StartLive(ctx, cl.Cluster, filepath.Join(t.TempDir(), "ledger"), auditPartitions,
		func(c *processors.Config) { c.MaxBatchRecords = 40 })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitCaughtUp(ctx, cl.Cluster); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	checked, updates := 0, 0
	for _, sku := range []string{"SKU-000000", "SKU-000004", "SKU-000031"} {
		cmd := exec.CommandContext(ctx, python, filepath.Join(pythonExample, "sku_history.py"),
			"--brokers", strings.Join(cl.Brokers, ","), "--topic-prefix", cl.Prefix, "--format", "jsonl", sku)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sku_history.py %s: %v\n%s", sku, err, stderr.String())
		}
		py := readRows[pyRow](t, string(out))
		stdout, errOut, code := inproc(ctx, append([]string{"history", sku, "--format", "jsonl"}, cl.flags()...)...)
		if code != 0 {
			t.Fatalf("history %s: exit %d: %s", sku, code, errOut)
		}
		gorows := readRows[goRow](t, stdout)
		if len(py) != len(gorows) || len(py) == 0 {
			t.Fatalf("%s: python has %d rows, stockledger history %d", sku, len(py), len(gorows))
		}
		for i := range py {
			p, g := &py[i], &gorows[i]
			pid, ptype := "", ""
			if p.EventID != nil {
				pid = *p.EventID
			}
			if p.Type != nil {
				ptype = *p.Type
			}
			got := fmt.Sprintf("%d@%d %s %s %s %s v%d unassigned %d", p.Partition, p.Offset, pid, ptype, p.Outcome, p.Reason, p.Version, p.Unassigned)
			want := fmt.Sprintf("%d@%d %s %s %s %s v%d unassigned %d", g.Partition, g.Offset, g.EventID, g.Type, g.Outcome, g.Reason, g.Version, g.Unassigned)
			if got != want {
				t.Fatalf("%s row %d: python %q, history %q", sku, i, got, want)
			}
			locs := map[string]map[string]int64{}
			for _, l := range g.Locations {
				locs[l.Location] = map[string]int64{"on_hand": int64(l.OnHand), "reserved": int64(l.Reserved), "unavailable": int64(l.Unavailable),
					"incoming": int64(l.Incoming), "safety_stock": int64(l.SafetyStock), "available": int64(l.Available)}
			}
			if fmt.Sprint(locs) != fmt.Sprint(p.Locations) {
				t.Fatalf("%s row %d (%s): python locations %v, history %v", sku, i, got, p.Locations, locs)
			}
			for _, u := range p.Updates {
				updates++
				if v, ok := g.Channels[u.Channel]; !ok || v != u.Available || u.Version != g.Version {
					t.Errorf("%s row %d (%s): update %s=%d v%d, history %s=%d v%d", sku, i, got, u.Channel, u.Available, u.Version, u.Channel, v, g.Version)
				}
			}
			checked++
		}
	}
	if updates == 0 {
		t.Fatal("no update matched to an event: the updates topic was not read")
	}
	t.Logf("%d rows and %d published updates agree between the Python example and stockledger history", checked, updates)
}
