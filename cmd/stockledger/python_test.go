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

	"github.com/stockledger/stockledger/ledger/gen"
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
	HoldResults []holdResultJSON `json:"hold_results"`
}

// goRow is a row of `stockledger history --format jsonl`.
type goRow struct {
	Partition   int32                     `json:"partition"`
	Offset      int64                     `json:"offset"`
	EventID     string                    `json:"event_id"`
	Type        string                    `json:"type"`
	Outcome     string                    `json:"outcome"`
	Reason      string                    `json:"reason"`
	Version     uint64                    `json:"version"`
	Unassigned  int64                     `json:"unassigned"`
	Locations   []processors.LocationJSON `json:"locations"`
	Channels    map[string]int64          `json:"channels"`
	HoldResults []holdResultJSON          `json:"hold_results"`
	Event       struct {
		HoldID       *string `json:"hold_id"`
		LeadTimeDays *int64  `json:"lead_time_days"`
	} `json:"event"`
}

// holdResultJSON is a hold result as both print it (history: the
// hold-results topic's JSON form; the example: the Avro record, times in
// RFC 3339).
type holdResultJSON struct {
	HoldID       string    `json:"hold_id"`
	SKU          string    `json:"sku"`
	Channel      string    `json:"channel"`
	Location     *string   `json:"location"`
	Status       string    `json:"status"`
	Requested    int64     `json:"requested"`
	Granted      int64     `json:"granted"`
	Available    int64     `json:"available"`
	ExpiresAt    time.Time `json:"expires_at"`
	Version      uint64    `json:"version"`
	CauseEventID string    `json:"cause_event_id"`
	OccurredAt   time.Time `json:"occurred_at"`
}

func (h holdResultJSON) String() string {
	loc := "-"
	if h.Location != nil {
		loc = "@" + *h.Location
	}
	return fmt.Sprintf("%s %s %s %s %s requested %d granted %d available %d expires %s v%d cause %s at %s",
		h.SKU, h.HoldID, h.Channel, loc, h.Status, h.Requested, h.Granted, h.Available,
		h.ExpiresAt.UTC().Format(time.RFC3339Nano), h.Version, h.CauseEventID, h.OccurredAt.UTC().Format(time.RFC3339Nano))
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

// pythonCluster produces lines to a test cluster and folds them with the
// processor (small batches: more updates on the topic, since a batch
// coalesces them). The processor writes no clock events of its own
// (e2etest.StartLive sets ClockInterval 0, as `run --clock-interval 0`
// does): wall-clock clocks would expire every hold of a generated stream,
// whose events are dated in November 2026; the stream's own clock events
// are the only ones.
func pythonCluster(ctx context.Context, t *testing.T, name string, lines [][]byte) *auditCluster {
	t.Helper()
	cl := newAuditCluster(ctx, t, name, lines)
	l, err := e2etest.StartLive(ctx, cl.Cluster, filepath.Join(t.TempDir(), "ledger"), auditPartitions,
		func(c *processors.Config) { c.MaxBatchRecords = 40; c.ClockInterval = 0 })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitCaughtUp(ctx, cl.Cluster); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	return cl
}

// pythonTally counts what comparePythonHistory checked.
type pythonTally struct {
	rows, updates, holdResults int
	types                      map[string]int // applied rows by type (hold_released, clock, ...)
	statuses                   map[string]int // hold results by status
	converting                 int            // applied orders naming a hold
	leadTimes                  int            // applied sku_policy events with lead_time_days
}

// comparePythonHistory runs sku_history.py for each SKU and checks its rows
// against `stockledger history --format jsonl`: the same events (clock
// events among them) with the same outcome, version, unassigned units and
// quantities per location after each, the same hold results, and every
// update it read from the updates topic equal to history's value of that
// channel at that event.
func comparePythonHistory(ctx context.Context, t *testing.T, python string, cl *auditCluster, skus []string) pythonTally {
	t.Helper()
	tally := pythonTally{types: map[string]int{}, statuses: map[string]int{}}
	for _, sku := range skus {
		cmd := exec.CommandContext(ctx, python, filepath.Join(pythonExample, "sku_history.py"),
			"--brokers", strings.Join(cl.Brokers, ","), "--topic-prefix", cl.Prefix, "--format", "jsonl", sku)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sku_history.py %s: %v\n%s", sku, err, stderr.String())
		}
		if strings.Contains(stderr.String(), "warning") {
			t.Errorf("sku_history.py %s: %s", sku, stderr.String())
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
			if fmt.Sprint(p.HoldResults) != fmt.Sprint(g.HoldResults) {
				t.Fatalf("%s row %d (%s): python hold results\n%v\nhistory\n%v", sku, i, got, p.HoldResults, g.HoldResults)
			}
			for _, u := range p.Updates {
				tally.updates++
				v, ok := g.Channels[u.Channel]
				// A channel only an override gave the SKU leaves it when the
				// override is removed: its 0 is published once, and history's
				// row no longer has the channel.
				gone := !ok && u.Available == 0 && g.Type == "sku_channel_policy"
				if (!ok || v != u.Available || u.Version != g.Version) && !gone {
					t.Errorf("%s row %d (%s): update %s=%d v%d, history %s=%d v%d", sku, i, got, u.Channel, u.Available, u.Version, u.Channel, v, g.Version)
				}
			}
			for _, h := range g.HoldResults {
				tally.holdResults++
				tally.statuses[h.Status]++
			}
			if g.Outcome == "applied" {
				tally.types[g.Type]++
				if g.Type == "order" && g.Event.HoldID != nil {
					tally.converting++
				}
				if g.Type == "sku_policy" && g.Event.LeadTimeDays != nil {
					tally.leadTimes++
				}
			}
			tally.rows++
		}
	}
	if tally.updates == 0 {
		t.Fatal("no update matched to an event: the updates topic was not read")
	}
	return tally
}

// TestPythonExampleMatchesHistory runs the Python example (confluent-kafka
// and fastavro from PyPI) against the test broker after the processor has
// folded a generated history of part 1's events, and checks its answer for
// a few SKUs against `stockledger history` (comparePythonHistory).
func TestPythonExampleMatchesHistory(t *testing.T) {
	python := pythonVenv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := pythonCluster(ctx, t, "python", auditHistory(8, 6_000))
	n := comparePythonHistory(ctx, t, python, cl, []string{"SKU-000000", "SKU-000004", "SKU-000031"})
	t.Logf("%d rows and %d published updates agree between the Python example and stockledger history", n.rows, n.updates)
}

// TestPythonExamplePart2MatchesHistory is TestPythonExampleMatchesHistory
// on a stream with part 2's events (ledger-semantics-2.md): holds granted,
// partial, refused and expired, released, converted by orders and expired
// by clock events (written to every partition, as channel policies are),
// listings, per-SKU overrides, transfers closed short, lead times. The
// example takes hold decisions from the hold-results topic; its clock rows,
// quantities and hold results must be history's.
func TestPythonExamplePart2MatchesHistory(t *testing.T) {
	python := pythonVenv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 6_000
	lines := gen.Stream(gen.Config{Seed: 21, SKUs: 200, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 3, 2 * n / 3}, Part2: true, ClockEvery: 50}, n)
	cl := pythonCluster(ctx, t, "python-part2", lines)
	got := comparePythonHistory(ctx, t, python, cl, []string{"SKU-000000", "SKU-000001", "SKU-000004", "SKU-000031"})
	t.Logf("%d rows, %d published updates and %d hold results agree between the Python example and stockledger history; rows %v, hold results %v, %d orders converting holds, %d lead times",
		got.rows, got.updates, got.holdResults, got.types, got.statuses, got.converting, got.leadTimes)
	// The stream must have exercised what part 2 added.
	for _, typ := range []string{"hold", "hold_released", "clock", "listing", "sku_channel_policy", "transfer_closed"} {
		if got.types[typ] == 0 {
			t.Errorf("no applied %s row was compared", typ)
		}
	}
	for _, st := range []string{"granted", "refused", "released", "converted", "expired"} {
		if got.statuses[st] == 0 {
			t.Errorf("no hold result %s was compared", st)
		}
	}
	if got.converting == 0 || got.leadTimes == 0 {
		t.Errorf("%d orders converting holds and %d sku_policy with lead_time_days compared; want some of each", got.converting, got.leadTimes)
	}
}
