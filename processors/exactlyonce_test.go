package processors_test

import (
	"context"
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

// TestExactlyOnce runs the processor with Kafka transactions, stops it
// mid-stream and starts a new one on the same store, and reads the outputs
// as a read_committed consumer: every update appears exactly once (no
// repeats), versions only grow, and everything equals the model.
func TestExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("eos", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lines := gen.Stream(gen.Config{Seed: 5, SKUs: 400, DupPct: 3, RefusePct: 3, InvalidPct: 2, PolicyChanges: []int{10_000}}, 30_000)
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	reg := schemas.NewRegistry()
	dir := filepath.Join(t.TempDir(), "ledger")
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, cl.Topics(), cl.Group, 4
	cfg.ExactlyOnce, cfg.InstanceID = true, "eos-test"
	cfg.MaxBatchRecords = 2000
	prod, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	adm := kadm.NewClient(prod.Client())
	run := func(evs []e2etest.WireEvent, stopEarly bool) {
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		p, err := processors.New(ctx, cfg, st, reg, prometheus.NewRegistry(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		runErr := make(chan error, 1)
		go func() { runErr <- p.Run(runCtx) }()
		if err := e2etest.Produce(ctx, prod, evs); err != nil {
			t.Fatal(err)
		}
		if stopEarly {
			time.Sleep(300 * time.Millisecond) // mid-stream
		} else if err := e2etest.WaitCaughtUp(ctx, adm, cfg.Topics.Events, func(part int32) (int64, bool) {
			n, ok, _ := st.Offset(part)
			return n, ok
		}); err != nil {
			t.Fatal(err)
		}
		stop()
		if err := <-runErr; err != nil {
			t.Fatalf("processor: %v", err)
		}
	}
	half := len(wire) / 2
	run(wire[:half], true)
	run(wire[half:], false)
	exp := e2etest.Expect(lines)
	got, err := e2etest.ReadTopics(ctx, cl.Brokers, cl.Topics(), reg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Repeated != 0 {
		t.Errorf("%d updates repeated under exactly-once", got.Repeated)
	}
	for _, d := range e2etest.Compare(exp, got, false) {
		t.Error(d)
	}
}
