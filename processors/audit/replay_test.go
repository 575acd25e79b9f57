package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
)

const testPartitions = 4

// newCluster starts kfake, or uses the real broker of
// STOCKLEDGER_TEST_BROKERS, for one test.
func newCluster(t *testing.T, name string) *e2etest.Cluster {
	t.Helper()
	cl, err := e2etest.NewCluster(name, testPartitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func auditConfig(cl *e2etest.Cluster) audit.Config {
	cfg := audit.DefaultConfig()
	cfg.Brokers = cl.Brokers
	cfg.Topic = cl.Topics().Events
	return cfg
}

// liveRun runs the processor on the store in dir until it has folded the
// whole topic, stops it, and returns the store's checksums and offsets.
func liveRun(ctx context.Context, t *testing.T, cl *e2etest.Cluster, dir string) (map[int32]audit.Sum, map[int32]int64) {
	t.Helper()
	l, err := e2etest.StartLive(ctx, cl, dir, testPartitions)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		l.Stop()
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatalf("processor: %v", err)
	}
	st, err := store.Open(dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return checksums(t, st)
}

func checksums(t *testing.T, st *store.Store) (map[int32]audit.Sum, map[int32]int64) {
	t.Helper()
	parts, err := st.Partitions()
	if err != nil {
		t.Fatal(err)
	}
	sums, next := map[int32]audit.Sum{}, map[int32]int64{}
	for _, p := range parts {
		s, err := audit.Checksum(st, p, auditConfigLedger)
		if err != nil {
			t.Fatal(err)
		}
		sums[p], next[p] = s, s.Next
	}
	return sums, next
}

var auditConfigLedger = audit.DefaultConfig().Ledger

// replay replays to stop and returns the result's checksums.
func replay(ctx context.Context, t *testing.T, cfg audit.Config, stop audit.Stop) (*audit.ReplayResult, map[int32]audit.Sum) {
	t.Helper()
	res, err := audit.Replay(ctx, cfg, stop, filepath.Join(t.TempDir(), "scratch"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	sums, _ := checksums(t, res.Store)
	return res, sums
}

func compareSums(t *testing.T, what string, live, got map[int32]audit.Sum) {
	t.Helper()
	if len(live) != len(got) {
		t.Errorf("%s: %d partitions, live %d", what, len(got), len(live))
	}
	for p, l := range live {
		g := got[p]
		if g.Hash != l.Hash || g.Next != l.Next || g.SKUs != l.SKUs {
			t.Errorf("%s: partition %d: replay next %d, %d SKUs, sum %s; live next %d, %d SKUs, sum %s",
				what, p, g.Next, g.SKUs, g.Hex()[:16], l.Next, l.SKUs, l.Hex()[:16])
		}
	}
}

// streamLines is a generated history: retries, refusals, malformed events
// and policy changes.
func streamLines(seed uint64, n, skus int) [][]byte {
	return gen.Stream(gen.Config{Seed: seed, SKUs: skus, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 4, n / 2, 3 * n / 4}}, n)
}

// TestReplayEqualsLiveAtOffset: the live processor folds the first half
// of a history and stops (its store is the live ledger at those offsets);
// the second half is produced and folded. A replay to the first offsets,
// and one to the time between the halves, equal the live ledger at the
// half (state checksums, partition by partition); a replay to the end
// equals the final live ledger, also when it must evict states and read
// them back. The exported rows equal the independent model's.
func TestReplayEqualsLiveAtOffset(t *testing.T) {
	n := 30_000
	if testing.Short() {
		n = 8_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := newCluster(t, "replay")
	lines := streamLines(7, n, 500)
	half := n / 2
	if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines[:half]); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "live")
	liveHalf, offsetsHalf := liveRun(ctx, t, cl, dir)
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines[half:]); err != nil {
		t.Fatal(err)
	}
	liveEnd, _ := liveRun(ctx, t, cl, dir)
	skus := 0
	for p, s := range liveHalf {
		skus += s.SKUs
		if s.Hash == liveEnd[p].Hash || s.Next >= liveEnd[p].Next {
			t.Fatalf("partition %d: the live ledger did not move between the halves", p)
		}
	}
	if len(liveHalf) != testPartitions || skus < 100 {
		t.Fatalf("live ledger at the half: %d partitions, %d SKUs", len(liveHalf), skus)
	}
	t.Logf("live at the half: offsets %s, %d SKUs", audit.FormatOffsets(offsetsHalf), skus)

	cfg := auditConfig(cl)
	res, sums := replay(ctx, t, cfg, audit.Stop{Offsets: offsetsHalf})
	compareSums(t, "until-offset", liveHalf, sums)
	checkExport(t, res, lines[:half])

	_, sums = replay(ctx, t, cfg, audit.Stop{Until: cut})
	compareSums(t, "until-time", liveHalf, sums)

	_, sums = replay(ctx, t, cfg, audit.Stop{})
	compareSums(t, "to the end", liveEnd, sums)

	small := cfg
	small.MaxHotSKUs = 40 // evict and read back, across policy changes
	_, sums = replay(ctx, t, small, audit.Stop{})
	compareSums(t, "to the end with evictions", liveEnd, sums)
}

// checkExport compares the exported ledger with the spec model folded
// over the same events.
func checkExport(t *testing.T, res *audit.ReplayResult, lines [][]byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if _, err := audit.Export(res.Store, res.Parts(), out); err != nil {
		t.Fatal(err)
	}
	m := specmodel.New()
	for _, l := range lines {
		m.Apply(l)
	}
	type locKey struct{ sku, loc string }
	want := map[locKey]specmodel.LocationView{}
	wantCh := map[[2]string]int64{}
	for _, s := range m.SKUs() {
		v, _ := m.SKU(s)
		for l, q := range v.Locations {
			want[locKey{s, l}] = q
		}
		for c, a := range v.Channels {
			wantCh[[2]string{s, c}] = a
		}
	}
	readJSONL(t, filepath.Join(out, audit.LocationsJSONL), func(row map[string]any) {
		k := locKey{row["sku"].(string), row["location"].(string)}
		got := specmodel.LocationView{OnHand: num(row["on_hand"]), Reserved: num(row["reserved"]), Unavailable: num(row["unavailable"]),
			Incoming: num(row["incoming"]), SafetyStock: num(row["safety_stock"]), Available: num(row["available"])}
		if w, ok := want[k]; !ok || w != got {
			t.Errorf("locations.jsonl %v: %+v, model %+v (present %v)", k, got, w, ok)
		}
		delete(want, k)
	})
	for k := range want {
		t.Errorf("locations.jsonl lacks %v", k)
	}
	readJSONL(t, filepath.Join(out, audit.ChannelsJSONL), func(row map[string]any) {
		k := [2]string{row["sku"].(string), row["channel"].(string)}
		if w, ok := wantCh[k]; !ok || w != num(row["available"]) {
			t.Errorf("channels.jsonl %v: %v, model %d (present %v)", k, row["available"], w, ok)
		}
		delete(wantCh, k)
	})
	for k := range wantCh {
		t.Errorf("channels.jsonl lacks %v", k)
	}
}

func num(v any) int64 { return int64(v.(float64)) }

func readJSONL(t *testing.T, path string, fn func(map[string]any)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fn(row)
	}
}
