package processors_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestBrokerRestart stops the Kafka broker mid-stream and starts it again
// (kfake from its data directory, or the real broker with kafka.sh): the
// processor waits, reconnects and carries on, and the result equals the
// model.
func TestBrokerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("brokerrestart", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if !cl.CanRestart() {
		t.Skip("real Kafka without STOCKLEDGER_KAFKA_SCRIPT/STOCKLEDGER_KAFKA_DIR: cannot restart it")
	}
	lines := gen.Stream(gen.Config{Seed: 11, SKUs: 500, DupPct: 3, RefusePct: 3, InvalidPct: 2, PolicyChanges: []int{20_000}}, 40_000)
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := schemas.NewRegistry()
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, cl.Topics(), cl.Group, 4
	p, err := processors.New(ctx, cfg, st, reg, prometheus.NewRegistry(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { runErr <- p.Run(runCtx) }()
	produce := func(evs []e2etest.WireEvent) {
		t.Helper()
		prod, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), 4)
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close()
		if err := e2etest.Produce(ctx, prod, evs); err != nil {
			t.Fatal(err)
		}
	}
	half := len(wire) / 2
	produce(wire[:half])
	time.Sleep(200 * time.Millisecond) // let it get going, mid-stream
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Log("broker stopped")
	time.Sleep(2 * time.Second)
	select {
	case err := <-runErr:
		t.Fatalf("processor gave up while the broker was down: %v", err)
	default:
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Log("broker started again")
	produce(wire[half:])
	adm, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := e2etest.WaitStoreCaughtUp(ctx, kadm.NewClient(adm), cfg.Topics.Events, st); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("processor: %v", err)
	}
	exp := e2etest.Expect(lines)
	_, diffs, err := e2etest.CheckAll(ctx, cl, reg, exp, st, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// testLogger logs to the test when STOCKLEDGER_TEST_LOG is set.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("STOCKLEDGER_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
