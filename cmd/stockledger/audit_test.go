package main

// Tests of the audit commands (replay, history, verify, backtest), run
// in-process through dispatch against kfake, or the real Kafka of
// STOCKLEDGER_TEST_BROKERS.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
)

const auditPartitions = 4

// auditCluster is a test cluster with a history already produced.
type auditCluster struct {
	*e2etest.Cluster
	lines [][]byte
}

func newAuditCluster(ctx context.Context, t *testing.T, name string, lines [][]byte) *auditCluster {
	t.Helper()
	cl, err := e2etest.NewCluster(name, auditPartitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := e2etest.ProduceLines(ctx, cl, auditPartitions, lines); err != nil {
		t.Fatal(err)
	}
	return &auditCluster{Cluster: cl, lines: lines}
}

// flags are the --brokers and --topic-prefix of the cluster.
func (c *auditCluster) flags() []string {
	return []string{"--brokers", strings.Join(c.Brokers, ","), "--topic-prefix", c.Prefix}
}

// inproc runs the command line in this process and returns its output and
// exit status.
func inproc(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	err := dispatch(ctx, args, strings.NewReader(""), &o, &e)
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		code = 0
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = 1
	}
	if err != nil && err.Error() != "" {
		fmt.Fprintln(&e, "stockledger:", err)
	}
	return o.String(), e.String(), code
}

func auditHistory(seed uint64, n int) [][]byte {
	return gen.Stream(gen.Config{Seed: seed, SKUs: 200, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 3, 2 * n / 3}}, n)
}

// TestReplayCLI: `stockledger replay` writes the ledger as JSON Lines and
// CSV with a summary whose checksums are the live store's, partition by
// partition.
func TestReplayCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newAuditCluster(ctx, t, "replay-cli", auditHistory(3, 10_000))
	dir := filepath.Join(t.TempDir(), "ledger")
	l, err := e2etest.StartLive(ctx, cl.Cluster, dir, auditPartitions)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitCaughtUp(ctx, cl.Cluster); err != nil {
		t.Fatal(err)
	}
	live := map[string]string{}
	parts, _ := l.Store.Partitions()
	for _, p := range parts {
		s, err := audit.Checksum(l.Store, p, ledger.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		live[fmt.Sprint(p)] = s.Hex()
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := inproc(ctx, append([]string{"replay", "--out", out}, cl.flags()...)...)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s%s", code, stdout, stderr)
	}
	if stderr != "" {
		t.Errorf("replay wrote to a stderr that is not a terminal: %q", stderr)
	}
	t.Log(stdout)
	var sum replaySummary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sum.Checksums) != fmt.Sprint(live) {
		t.Errorf("replay checksums %v, live %v", sum.Checksums, live)
	}
	if sum.Records != int64(len(cl.lines)+(auditPartitions-1)*(4+2)) {
		t.Errorf("replayed %d records, produced %d", sum.Records, len(cl.lines)+(auditPartitions-1)*6)
	}
	for name, cols := range map[string][]string{audit.LocationsCSV: audit.LocationColumns, audit.ChannelsCSV: audit.ChannelColumns} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != strings.Join(cols, ",") {
			t.Errorf("%s header %v", name, recs[0])
		}
		want := sum.Locations
		if name == audit.ChannelsCSV {
			want = sum.Channels
		}
		if len(recs)-1 != want || want == 0 {
			t.Errorf("%s: %d rows, summary says %d", name, len(recs)-1, want)
		}
	}
	// Usage errors.
	if _, _, code := inproc(ctx, "replay", "--until-offset", "0:1", "--until-time", "2026-01-01T00:00:00Z"); code != 2 {
		t.Errorf("both stops: exit %d, want 2", code)
	}
	if _, stderr, code := inproc(ctx, append([]string{"replay", "--until-offset", "9:1", "--out", t.TempDir()}, cl.flags()...)...); code != 1 || !strings.Contains(stderr, "partition 9") {
		t.Errorf("unknown partition: exit %d: %s", code, stderr)
	}
}

// TestVerifyDetectsCorruption: verify matches a running processor (through
// a checkpoint it asks for over HTTP) and a stopped one, refuses to open a
// store another process holds, and after one SKU of the stopped store is
// changed behind the processor's back, exits 1 naming that SKU and the
// quantity that differs.
func TestVerifyDetectsCorruption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newAuditCluster(ctx, t, "verify", auditHistory(4, 10_000))
	data := t.TempDir()
	l, err := e2etest.StartLive(ctx, cl.Cluster, filepath.Join(data, "ledger"), auditPartitions)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitCaughtUp(ctx, cl.Cluster); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.P.Handler(l.Gatherer))
	stdout, stderr, code := inproc(ctx, append([]string{"verify", "--http", srv.URL}, cl.flags()...)...)
	srv.Close()
	if code != 0 || !strings.Contains(stdout, "equals the events topic") {
		t.Fatalf("verify --http of a running processor: exit %d\n%s%s", code, stdout, stderr)
	}
	if left, _ := os.ReadDir(filepath.Join(data, "checkpoints")); len(left) != 0 {
		t.Errorf("checkpoints left behind: %v", left)
	}
	verifyWhileCheckpointing(ctx, t, cl, l, filepath.Join(data, "checkpoints"))
	if _, stderr, code := inproc(ctx, append([]string{"verify", "--data", data}, cl.flags()...)...); code != 2 || !strings.Contains(stderr, "--http") {
		t.Errorf("verify --data of a store in use: exit %d: %s", code, stderr)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = inproc(ctx, append([]string{"verify", "--data", data}, cl.flags()...)...)
	if code != 0 {
		t.Fatalf("verify --data of a stopped processor: exit %d\n%s%s", code, stdout, stderr)
	}

	// Corrupt one SKU: 7 more units on hand somewhere, offsets untouched.
	sku, loc, was := corruptOneSKU(t, filepath.Join(data, "ledger"))
	stdout, stderr, code = inproc(ctx, append([]string{"verify", "--data", data}, cl.flags()...)...)
	if code != 1 {
		t.Fatalf("verify of a corrupted store: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	want := fmt.Sprintf("%s: %s on_hand: live %d, replay %d", sku, loc, was+7, was)
	if !strings.Contains(stdout, want) || !strings.Contains(stdout, "1 SKU(s) differ") {
		t.Errorf("verify output lacks %q:\n%s", want, stdout)
	}
	t.Logf("verify found it:\n%s%s", stdout, stderr)
}

// corruptOneSKU adds 7 units on hand at the first location of the first
// SKU of partition 0, and returns them.
func corruptOneSKU(t *testing.T, dir string) (sku, loc string, was ledger.Qty) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var s ledger.SKU
	errFound := errors.New("found")
	err = st.SKUs(0, func(name string, val []byte) error {
		if err := ledger.DecodeSKU(name, val, &s); err != nil {
			return err
		}
		for i := range s.Locations {
			if s.Locations[i].Named {
				loc, was = s.Locations[i].Code, s.Locations[i].OnHand
				s.Locations[i].OnHand += 7
				return errFound
			}
		}
		return nil
	})
	if !errors.Is(err, errFound) {
		t.Fatalf("no SKU to corrupt: %v", err)
	}
	b := st.NewBatch()
	if err := b.PutSKU(0, &s); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return s.Name, loc, was
}

// TestHistoryCLIFormats: the three output forms of one SKU's history.
func TestHistoryCLIFormats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := `"occurred_at":"2026-11-27T10:00:00Z"`
	cl := newAuditCluster(ctx, t, "history-cli", [][]byte{
		[]byte(`{"event_id":"p1","type":"channel_policy",` + at + `,"channel":"web","locations":[],"buffer":2,"share_pct":100}`),
		[]byte(`{"event_id":"r1","type":"receipt","sku":"TEE-RED-M",` + at + `,"location":"dc-east","qty":10}`),
		[]byte(`{"event_id":"x1","type":"receipt","sku":"OTHER",` + at + `,"location":"dc-east","qty":3}`),
		[]byte(`{"event_id":"o1","type":"order","sku":"TEE-RED-M",` + at + `,"channel":"web","order_id":"W1","qty":12,"location":"dc-east"}`),
		[]byte(`{"event_id":"c1","type":"order_cancelled","sku":"TEE-RED-M",` + at + `,"order_id":"NOPE"}`),
		[]byte(`{"event_id":"r1","type":"receipt","sku":"TEE-RED-M",` + at + `,"location":"dc-east","qty":10}`),
		[]byte(`{"event_id":"p2","type":"channel_policy",` + at + `,"channel":"amazon","locations":["store-1"],"buffer":0,"share_pct":50}`),
	})
	base := append([]string{"history", "TEE-RED-M"}, cl.flags()...)
	stdout, stderr, code := inproc(ctx, append(base, "--format", "jsonl")...)
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		rows = append(rows, m)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s %s v%v %v", r["event_id"], r["type"], r["outcome"], r["version"], r["channels"]))
	}
	want := []string{
		"r1 receipt applied v1 map[web:8]",
		"o1 order applied v2 map[web:0]",
		"c1 order_cancelled refused v2 map[web:0]",
		"r1 receipt duplicate v2 map[web:0]",
		"p2 channel_policy applied v3 map[amazon:0 web:0]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if a := rows[1]["alerts"].([]any); len(a) != 1 || a[0].(map[string]any)["kind"] != "oversold" {
		t.Errorf("order alerts %v", rows[1]["alerts"])
	}
	if rows[2]["reason"] != "unknown_order" {
		t.Errorf("refused row %v", rows[2])
	}

	stdout, _, code = inproc(ctx, append(base, "--format", "csv")...)
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if code != 0 || err != nil || len(recs) != 6 {
		t.Fatalf("csv: exit %d, %v, %d records:\n%s", code, err, len(recs), stdout)
	}
	if h := strings.Join(recs[0], ","); !strings.Contains(h, "dc-east/on_hand,dc-east/reserved") || !strings.Contains(h, "amazon/available,web/available") {
		t.Errorf("csv header %s", h)
	}

	stdout, _, code = inproc(ctx, append(base, "--format", "table")...)
	if code != 0 || !strings.Contains(stdout, "10/12/0/0/0=-2") || !strings.Contains(stdout, "oversold(web @dc-east shortfall 2)") {
		t.Errorf("table:\n%s", stdout)
	}
	if _, _, code := inproc(ctx, append(base, "--format", "xml")...); code != 2 {
		t.Errorf("--format xml: exit %d, want 2", code)
	}
}

// TestBacktestCLI: the table and JSON of a backtest.
func TestBacktestCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newAuditCluster(ctx, t, "backtest-cli", auditHistory(6, 5_000))
	file := filepath.Join(t.TempDir(), "policies.jsonl")
	if err := os.WriteFile(file, []byte(`{"channel":"web","locations":[],"buffer":20,"share_pct":50}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := inproc(ctx, append([]string{"backtest", "--policies", file, "--format", "json"}, cl.flags()...)...)
	if code != 0 {
		t.Fatalf("backtest: exit %d: %s", code, stderr)
	}
	var out struct {
		Records  int64 `json:"records"`
		Channels []struct {
			Channel        string `json:"channel"`
			BacktestPolicy string `json:"backtest_policy"`
			TurnedAway     int64  `json:"backtest_orders_turned_away"`
			Withheld       int64  `json:"backtest_units_withheld"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Channels {
		if c.Channel == "web" && (c.TurnedAway == 0 || c.Withheld < c.TurnedAway || !strings.Contains(c.BacktestPolicy, "buffer 20, share 50%")) {
			t.Errorf("web: %+v", c)
		}
	}
	stdout, _, code = inproc(ctx, append([]string{"backtest", "--policies", file}, cl.flags()...)...)
	if code != 0 || !strings.Contains(stdout, "OVERSOLD actual") || !strings.Contains(stdout, "-> all locations, buffer 20, share 50%") {
		t.Errorf("table:\n%s", stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"channel":"web","buffer":1,"share_pct":0,"locations":[]}`+"\n"), 0o644)
	if _, stderr, code := inproc(ctx, append([]string{"backtest", "--policies", bad}, cl.flags()...)...); code != 2 || !strings.Contains(stderr, "line 1") {
		t.Errorf("bad policy: exit %d: %s", code, stderr)
	}
}

// verifyWhileCheckpointing runs verify --http while another client keeps
// asking the processor for checkpoints (and goes on after verify, until it
// has made more than store.CheckpointsKept): each request removes the
// older checkpoints nobody has open, and verify's, open while it reads,
// must survive them. The newest store.CheckpointsKept are left afterwards.
func verifyWhileCheckpointing(ctx context.Context, t *testing.T, cl *auditCluster, l *e2etest.Live, dir string) {
	t.Helper()
	srv := httptest.NewServer(l.P.Handler(l.Gatherer))
	defer srv.Close()
	stop, made := make(chan struct{}), make(chan int)
	go func() {
		n, stopped := 0, false
		for !stopped || n <= store.CheckpointsKept {
			select {
			case <-stop:
				stopped = true
			case <-ctx.Done():
				made <- n
				return
			case <-time.After(5 * time.Millisecond):
			}
			resp, err := http.Post(srv.URL+"/v1/checkpoint", "", nil)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				n++
			}
		}
		made <- n
	}()
	stdout, stderr, code := inproc(ctx, append([]string{"verify", "--http", srv.URL}, cl.flags()...)...)
	close(stop)
	n := <-made
	if code != 0 || !strings.Contains(stdout, "equals the events topic") {
		t.Fatalf("verify --http while another client makes checkpoints: exit %d\n%s%s", code, stdout, stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != store.CheckpointsKept {
		t.Errorf("after verify and %d other checkpoints: %d left, want the newest %d", n, len(left), store.CheckpointsKept)
	}
}
