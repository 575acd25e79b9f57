package processors_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestEndToEndMatchesModel produces 100,000 generated events (1,000 SKUs,
// 4 locations, 4 channels; retries, refused and malformed events, policy
// changes mid-stream, and a few bytes that are not events at all) to an
// in-process Kafka (kfake), runs the processor, and compares every final
// channel value, every alert, every dead letter and every SKU's quantities
// with the independent model.
func TestEndToEndMatchesModel(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	lines := gen.Stream(gen.Config{Seed: 42, SKUs: 1000, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 3, 2 * n / 3}}, n)
	// Bytes that are not an event at all, and an Avro header of a schema
	// nobody knows: dead letters, never a stall.
	lines = append(lines, []byte("\x00\x01garbage"), []byte("\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08rest"))
	runAndCompare(t, lines)
}

// TestEndToEndMatchesModelPart2 is TestEndToEndMatchesModel with part 2's
// mix: holds granted, refused, released, converted by orders and expired
// by clock events (one every 50 events, written to every partition),
// listings, per-SKU overrides, transfers closed short, lead times. Hold
// results and listing updates are compared too. 200,000 events on real
// Kafka (make test-kafka) or with STOCKLEDGER_TEST_LARGE set; 50,000
// otherwise, to keep make test's time.
func TestEndToEndMatchesModelPart2(t *testing.T) {
	n := 50_000
	switch {
	case os.Getenv("STOCKLEDGER_TEST_BROKERS") != "" || os.Getenv("STOCKLEDGER_TEST_LARGE") != "":
		n = 200_000
	case testing.Short():
		n = 10_000
	}
	lines := gen.Stream(gen.Config{Seed: 43, SKUs: 1000, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 3, 2 * n / 3}, Part2: true, ClockEvery: 50}, n)
	runAndCompare(t, lines)
}

func runAndCompare(t *testing.T, lines [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("e2e", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	brokers := cl.Brokers
	reg := schemas.NewRegistry()
	st, err := store.Open(filepath.Join(t.TempDir(), "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := processors.DefaultConfig()
	cfg.Brokers = brokers
	cfg.Topics = cl.Topics()
	cfg.Group = cl.Group
	cfg.Partitions = 4
	cfg.MaxCachedSKUs = 300 // force states out of memory and back from Pebble
	cfg.ClockInterval = 0   // the stream's clocks only: the model sees no others
	promReg := prometheus.NewRegistry()
	p, err := processors.New(ctx, cfg, st, reg, promReg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { runErr <- p.Run(runCtx) }()

	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := processors.NewEventProducer(ctx, brokers, cl.Topics(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	start := time.Now()
	if err := e2etest.Produce(ctx, prod, wire); err != nil {
		t.Fatal(err)
	}
	exp := e2etest.Expect(lines)
	adm := kadm.NewClient(prod.Client())
	if err := e2etest.WaitStoreCaughtUp(ctx, adm, cfg.Topics.Events, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events folded in %v", len(lines), time.Since(start))
	checkHTTP(t, p, promReg, exp)
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("processor: %v", err)
	}
	got, diffs, err := e2etest.CheckAll(ctx, cl, reg, exp, st, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	t.Logf("model: %d keys, %d alerts, %d hold results, %d dead letters; published %d updates", len(exp.Final), len(exp.Model.Alerts()), len(exp.Model.HoldResults()), len(exp.Model.DeadLetters()), got.Updates)
}

// checkHTTP reads the API of a caught-up processor and compares it with
// the model: SKU documents, status, and the counters in /metrics.
func checkHTTP(t *testing.T, p *processors.Processor, g prometheus.Gatherer, exp *e2etest.Expected) {
	t.Helper()
	srv := httptest.NewServer(p.Handler(g))
	defer srv.Close()
	get := func(path string, v any) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatalf("%s: %v: %s", path, err, body)
			}
		}
		return resp.StatusCode
	}
	for i, name := range exp.Model.SKUs() {
		if i%97 != 0 {
			continue
		}
		w, _ := exp.Model.SKU(name)
		var doc processors.SKUJSON
		if code := get("/v1/skus/"+url.PathEscape(name), &doc); code != 200 {
			t.Fatalf("GET /v1/skus/%s: %d", name, code)
		}
		if int64(doc.Version) != w.Version || int64(doc.Unassigned) != w.Unassigned || len(doc.Locations) != len(w.Locations) {
			t.Errorf("%s: API %+v, model %+v", name, doc, w)
		}
		for _, l := range doc.Locations {
			wl := w.Locations[l.Location]
			if int64(l.OnHand) != wl.OnHand || int64(l.Available) != wl.Available || int64(l.Reserved) != wl.Reserved || int64(l.Incoming) != wl.Incoming {
				t.Errorf("%s@%s: API %+v, model %+v", name, l.Location, l, wl)
			}
		}
		for c, v := range w.Channels {
			if int64(doc.Channels[c]) != v {
				t.Errorf("%s/%s: API %d, model %d", name, c, doc.Channels[c], v)
			}
		}
	}
	if code := get("/v1/skus/NO-SUCH-SKU", nil); code != 404 {
		t.Errorf("unknown SKU: status %d, want 404", code)
	}
	var status struct {
		Lag        int64 `json:"lag"`
		Partitions []processors.PartitionStatus
	}
	if get("/v1/status", &status); len(status.Partitions) != 4 {
		t.Errorf("status: %+v, want 4 partitions", status)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := get(path, nil); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := func(name string) float64 {
		var s float64
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					s += m.GetCounter().GetValue()
				}
			}
		}
		return s
	}
	if got, want := sum("stockledger_ledger_events_duplicate_total"), float64(exp.Model.Duplicates()); got != want {
		t.Errorf("duplicates metric %v, model %v", got, want)
	}
	if got, want := sum("stockledger_ledger_dead_letters_total"), float64(len(exp.Model.DeadLetters())); got != want {
		t.Errorf("dead letters metric %v, model %v", got, want)
	}
	if got, want := sum("stockledger_ledger_alerts_total"), float64(len(exp.Model.Alerts())); got != want {
		t.Errorf("alerts metric %v, model %v", got, want)
	}
	for _, name := range []string{"stockledger_output_event_to_update_seconds", "stockledger_consumer_partition_lag_records",
		"stockledger_pebble_disk_space_usage_bytes", "stockledger_kafka_buffered_produce_records_total"} {
		found := false
		for _, mf := range mfs {
			found = found || mf.GetName() == name
		}
		if !found {
			t.Errorf("metric %s not exported", name)
		}
	}
}
