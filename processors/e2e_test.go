package processors_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
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

func runAndCompare(t *testing.T, lines [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	emb, err := processors.StartEmbedded("127.0.0.1:0", "", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	brokers := []string{emb.Addr()}
	reg := schemas.NewRegistry()
	st, err := store.Open(filepath.Join(t.TempDir(), "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := processors.DefaultConfig()
	cfg.Brokers = brokers
	cfg.Partitions = 4
	cfg.MaxCachedSKUs = 300 // force states out of memory and back from Pebble
	p, err := processors.New(ctx, cfg, st, reg, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	prod, err := processors.NewEventProducer(ctx, brokers, processors.DefaultTopics(), 4)
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
	if err := e2etest.WaitCaughtUp(ctx, adm, cfg.Topics.Events, func(part int32) (int64, bool) {
		n, ok, _ := st.Offset(part)
		return n, ok
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events folded in %v", len(lines), time.Since(start))
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("processor: %v", err)
	}
	got, err := e2etest.ReadOutputs(ctx, brokers, reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range e2etest.Compare(exp, got, false) {
		t.Error(d)
	}
	for _, d := range e2etest.CompareSKUs(exp, func(sku string) (ledger.SKU, bool, error) {
		var s ledger.SKU
		found, err := st.SKU(processors.PartitionOf(sku, 4), sku, &s)
		return s, found, err
	}) {
		t.Error(d)
	}
	t.Logf("model: %d keys, %d alerts, %d dead letters; published %d updates", len(exp.Final), len(exp.Model.Alerts()), len(exp.Model.DeadLetters()), got.Updates)
	_ = kgo.Record{}
}
