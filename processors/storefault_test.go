package processors_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// fillingDisk reports almost no free space while full is set.
type fillingDisk struct {
	vfs.FS
	full atomic.Bool
}

func (f *fillingDisk) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	u := vfs.DiskUsage{AvailBytes: 10 << 30, TotalBytes: 20 << 30}
	if f.full.Load() {
		u.AvailBytes = 4096
	}
	return u, nil
}

// failingWrites fails every write to the filesystem while on: a broken disk.
type failingWrites struct{ on atomic.Bool }

func (f *failingWrites) String() string { return "failing writes" }

func (f *failingWrites) MaybeError(op errorfs.Op) error {
	if f.on.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
		return errorfs.ErrInjected
	}
	return nil
}

// TestStoreIOErrorStopsProcessor: an I/O error inside Pebble stops the
// processor with an error (a restart replays the store's log) instead of
// crashing it or committing anything half-written.
func TestStoreIOErrorStopsProcessor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("ioerror", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	inj := &failingWrites{}
	st, err := store.Open("ledger", store.Options{FS: errorfs.Wrap(vfs.NewMem(), inj)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, cl.Topics(), cl.Group, 4
	p, err := processors.New(ctx, cfg, st, schemas.NewRegistry(), prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	inj.on.Store(true)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	prod, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	wire, err := e2etest.Wire(gen.Stream(gen.Config{Seed: 3, SKUs: 50}, 5000))
	if err != nil {
		t.Fatal(err)
	}
	// Keep events coming: with commits that do not fsync, Pebble's log
	// writer fails in the background and the next commit sees it.
	go func() {
		for i := 0; i < len(wire) && ctx.Err() == nil; i += 100 {
			_ = e2etest.Produce(ctx, prod, wire[i:i+100])
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Either Pebble stopped (the processor returns an error and the store is
	// broken: a restart replays the log) or the write failed cleanly (the
	// processor stalls, not ready). Never a commit.
	stalled := func() bool { return !p.Ready() }
	deadline := time.After(30 * time.Second)
wait:
	for {
		select {
		case err := <-runErr:
			if err == nil || st.Broken() == nil {
				t.Fatalf("Run returned %v, store broken: %v; want an error and a broken store", err, st.Broken())
			}
			t.Logf("processor stopped: %v", err)
			break wait
		case <-deadline:
			if !stalled() {
				t.Fatal("processor still ready on a failing disk")
			}
			t.Log("processor stalled")
			cancel()
			<-runErr
			break wait
		case <-time.After(50 * time.Millisecond):
		}
	}
	for part := range int32(4) {
		if _, ok, _ := st.Offset(part); ok {
			t.Errorf("partition %d has a committed offset although every write failed", part)
		}
	}
}

// TestStoreFailureStallsAndResumes fills the store's disk mid-stream:
// the processor must stop consuming, report not ready and count the
// errors, then resume once the disk works, with every final value, alert
// and dead letter equal to the model's (outputs of the failed batches may
// repeat).
func TestStoreFailureStallsAndResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("storefault", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lines := gen.Stream(gen.Config{Seed: 7, SKUs: 300, DupPct: 3, RefusePct: 3, InvalidPct: 2, PolicyChanges: []int{15_000}}, 30_000)
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	disk := &fillingDisk{FS: vfs.NewMem()}
	st, err := store.Open("ledger", store.Options{FS: disk, MinFreeBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := schemas.NewRegistry()
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, cl.Topics(), cl.Group, 4
	cfg.StoreRetryInterval = 100 * time.Millisecond
	cfg.MaxBatchRecords = 500
	promReg := prometheus.NewRegistry()
	p, err := processors.New(ctx, cfg, st, reg, promReg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { runErr <- p.Run(runCtx) }()
	prod, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	adm := kadm.NewClient(prod.Client())
	caughtUp := func() {
		t.Helper()
		if err := e2etest.WaitStoreCaughtUp(ctx, adm, cfg.Topics.Events, st); err != nil {
			t.Fatal(err)
		}
	}
	half := len(wire) / 2
	if err := e2etest.Produce(ctx, prod, wire[:half]); err != nil {
		t.Fatal(err)
	}
	caughtUp()
	disk.full.Store(true)
	if err := e2etest.Produce(ctx, prod, wire[half:]); err != nil {
		t.Fatal(err)
	}
	// The processor must notice and stall.
	for p.Ready() {
		select {
		case <-ctx.Done():
			t.Fatal("processor never reported the store failure")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got := counter(t, promReg, "stockledger_store_errors_total"); got < 1 {
		t.Fatalf("store errors metric %v", got)
	}
	time.Sleep(500 * time.Millisecond) // it stays stalled while the disk fails
	if p.Ready() {
		t.Fatal("ready while the store cannot write")
	}
	disk.full.Store(false)
	caughtUp()
	if !p.Ready() {
		t.Fatal("not ready after recovering")
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

func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				s += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return s
}
