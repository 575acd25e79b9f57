package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// TestMeasureRestart measures the time from a SIGKILL of `stockledger run`
// to processing again, with STOCKLEDGER_MEASURE_RESTART_SKUS SKUs (e.g.
// 1000000) of local state. Opt-in; it asserts only that processing resumes.
func TestMeasureRestart(t *testing.T) {
	skus, _ := strconv.Atoi(os.Getenv("STOCKLEDGER_MEASURE_RESTART_SKUS"))
	if skus == 0 {
		t.Skip("set STOCKLEDGER_MEASURE_RESTART_SKUS to measure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	cl := startBroker(t)
	prod, err := processors.NewEventProducer(ctx, []string{cl.brokers}, cl.topics, testPartitions)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	adm := cl.admin(t)
	g := gen.New(gen.Config{Seed: 2, SKUs: skus})
	// One receipt per SKU first (every SKU in the state), then a mix.
	lines := make([][]byte, 0, skus)
	for i := range skus {
		lines = append(lines, []byte(`{"event_id":"seed-`+strconv.Itoa(i)+`","type":"receipt","sku":"SKU-`+leftPad(i)+`","occurred_at":"2026-11-27T08:00:00Z","location":"dc-east","qty":10}`))
	}
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := e2etest.Produce(ctx, prod, wire); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	c := startRun(t, "run-1", cl, data)
	waitOwned(ctx, t, c)
	t0 := time.Now()
	ends := waitCaughtUp(ctx, t, c, adm)
	t.Logf("folded %d SKUs' first events in %v", skus, time.Since(t0))
	c.kill(t)
	killed := time.Now()
	c = startRun(t, "run-2", cl, data)
	// Events arriving after the restart.
	more := make([][]byte, 0, 1000)
	for range 1000 {
		more = append(more, g.Next())
	}
	w2, _ := e2etest.Wire(more)
	if err := e2etest.Produce(ctx, prod, w2); err != nil {
		t.Fatal(err)
	}
	var owned time.Duration
	poll(ctx, t, c, "processing again", 10*time.Millisecond, func() bool {
		next, ok := c.next()
		if !ok {
			return false
		}
		if owned == 0 {
			owned = time.Since(killed)
		}
		return sum(next) > sum(ends)
	})
	t.Logf("SIGKILL to processing again with %d SKUs of local state: %v (owning all partitions after %v; the group's session timeout is %s)",
		skus, time.Since(killed), owned, sessionTimeout)
	c.terminate(t)
}

func leftPad(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}
