package processors_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

// TestMeasurePartitionMove measures how long a new instance takes to take
// over partitions with a long history: instance A folds N events (over S
// SKUs), then stops; B, with an empty store, is assigned every partition,
// restores from the changelog and catches up. It only runs when
// STOCKLEDGER_MEASURE_MOVE_EVENTS is set (e.g. 10000000), and asserts
// nothing but correctness of the hand-over (B ends at the topic's end).
func TestMeasurePartitionMove(t *testing.T) {
	nEnv := os.Getenv("STOCKLEDGER_MEASURE_MOVE_EVENTS")
	if nEnv == "" {
		t.Skip("set STOCKLEDGER_MEASURE_MOVE_EVENTS to measure")
	}
	n, _ := strconv.Atoi(nEnv)
	skus, _ := strconv.Atoi(os.Getenv("STOCKLEDGER_MEASURE_MOVE_SKUS"))
	if skus == 0 {
		skus = 1_000_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("move", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	reg := schemas.NewRegistry()
	prod, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	t0 := time.Now()
	g := gen.New(gen.Config{Seed: 1, SKUs: skus})
	const chunk = 50_000
	for i := 0; i < n; i += chunk {
		lines := make([][]byte, 0, chunk)
		for range min(chunk, n-i) {
			lines = append(lines, g.Next())
		}
		wire, err := e2etest.Wire(lines)
		if err != nil {
			t.Fatal(err)
		}
		if err := e2etest.Produce(ctx, prod, wire); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("produced %d events over %d SKUs in %v", n, skus, time.Since(t0))
	adm := kadm.NewClient(prod.Client())
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, cl.Topics(), cl.Group, 4
	run := func(name string) time.Duration {
		st, err := store.Open(filepath.Join(t.TempDir(), name), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		p, err := processors.New(ctx, cfg, st, reg, prometheus.NewRegistry(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- p.Run(runCtx) }()
		if err := e2etest.WaitCaughtUp(ctx, adm, cfg.Topics.Events, func(part int32) (int64, bool) {
			n, ok, _ := st.Offset(part)
			return n, ok
		}); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return took
	}
	foldA := run("a")
	t.Logf("instance A folded the whole history in %v (%.0f events/s)", foldA, float64(n)/foldA.Seconds())
	// STOCKLEDGER_MEASURE_MOVE_RUNS moves it that many times, each to a
	// new instance with an empty store, for a median.
	runs, _ := strconv.Atoi(os.Getenv("STOCKLEDGER_MEASURE_MOVE_RUNS"))
	for i := range max(1, runs) {
		moveB := run(fmt.Sprintf("b%d", i))
		t.Logf("instance B%d (empty store) took over all 4 partitions from the changelog and caught up in %v", i, moveB)
	}
}
