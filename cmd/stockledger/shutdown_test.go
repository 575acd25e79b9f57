package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// Graceful shutdown settings of the test's processes: a session timeout
// far above how fast a member that left is gone, so a member that did not
// leave would be seen.
const (
	gracefulSession  = "60s"
	gracefulShutdown = 30 * time.Second
)

// TestGracefulShutdown SIGTERMs `stockledger run` three times while it
// folds a stream being produced, and checks each time that it exits 0
// within --shutdown-timeout, that it left the group (no member remains,
// with a 60s session timeout), and that its successor owns every partition
// at once. At the end, every output and SKU equals the model and no
// update was published twice: each batch in hand was finished and
// committed, none abandoned half-published.
func TestGracefulShutdown(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (replay with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x7e4))
	n := 60_000
	if testing.Short() {
		n = 20_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lines := gen.Stream(gen.Config{Seed: seed, SKUs: 500, DupPct: 3, RefusePct: 3, InvalidPct: 1, Zipf: 1.1,
		PolicyChanges: []int{n / 4, n / 2}}, n)
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	expc := make(chan *e2etest.Expected, 1)
	go func() { expc <- e2etest.Expect(lines) }()

	cl := startBroker(t)
	adm := cl.admin(t)
	prod, err := processors.NewEventProducer(ctx, []string{cl.brokers}, cl.topics, testPartitions)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	data := filepath.Join(t.TempDir(), "data")
	// Small batches: more of them, so SIGTERMs land in all their phases.
	extra := []string{"--session-timeout", gracefulSession, "--shutdown-timeout", gracefulShutdown.String(), "--max-batch-records", "2000",
		"--log-format", "json"}

	// Half the stream is there before the processor starts (it catches up:
	// busy, each SIGTERM lands in a batch), the rest is produced in chunks
	// while it folds.
	half := len(wire) / 2
	if err := e2etest.Produce(ctx, prod, wire[:half]); err != nil {
		t.Fatal(err)
	}
	prodErr := make(chan error, 1)
	go func() {
		const chunk = 500
		for i := half; i < len(wire); i += chunk {
			if err := e2etest.Produce(ctx, prod, wire[i:min(i+chunk, len(wire))]); err != nil {
				prodErr <- err
				return
			}
			time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
		}
		prodErr <- nil
	}()
	c := startRun(t, "run-1", cl, data, extra...)
	waitOwned(ctx, t, c)
	for i := 1; i <= 3; i++ {
		target := int64(len(wire) * i / 8)
		poll(ctx, t, c, "folding before SIGTERM", 5*time.Millisecond, func() bool {
			next, ok := c.next()
			return ok && sum(next) >= target
		})
		next, _ := c.next()
		took := sigterm(t, c)
		t.Logf("SIGTERM %d: %s had folded %d records; exited 0 in %v", i, c.name, sum(next), took.Round(time.Millisecond))
		checkQuietLog(t, c)
		// It left the group: no member remains, long before the session
		// timeout would have removed one.
		var members int
		deadline := time.Now().Add(5 * time.Second)
		for {
			gs, err := adm.DescribeGroups(ctx, cl.group)
			if err != nil {
				t.Fatal(err)
			}
			members = len(gs[cl.group].Members)
			if members == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if members != 0 {
			t.Fatalf("after a graceful shutdown the group still has %d member(s):\n%s", members, cl.describeGroup())
		}
		start := time.Now()
		c = startRun(t, fmt.Sprintf("run-%d", i+1), cl, data, extra...)
		waitOwned(ctx, t, c)
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("the successor took %v to own every partition (session timeout %s): the group waited for the old member", d, gracefulSession)
		}
	}
	if err := <-prodErr; err != nil {
		t.Fatal(err)
	}
	ends := waitCaughtUp(ctx, t, c, adm)
	sigterm(t, c)
	checkQuietLog(t, c)

	exp := <-expc
	reg := schemas.NewRegistry()
	got, err := e2etest.ReadTopics(ctx, []string{cl.brokers}, cl.topics, reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range e2etest.Compare(exp, got, false) {
		t.Error(d)
	}
	if got.Repeated != 0 {
		t.Errorf("%d updates were published twice (same key and version): a batch was not finished on shutdown", got.Repeated)
	}
	st, err := store.Open(filepath.Join(data, "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for p, end := range ends {
		if next, ok, err := st.Offset(p); err != nil || !ok || next != end {
			t.Errorf("partition %d: store's next offset %d (present %v, err %v), topic end %d", p, next, ok, err, end)
		}
	}
	for _, d := range e2etest.CompareSKUs(exp, func(sku string) (ledger.SKU, bool, error) {
		var s ledger.SKU
		found, err := st.SKU(processors.PartitionOf(sku, testPartitions), sku, &s)
		return s, found, err
	}) {
		t.Error(d)
	}
	t.Logf("%d records folded over 4 runs; %d updates published, none twice", sum(ends), got.Updates)
}

// checkQuietLog checks a run's JSON log: every line is a JSON object, it
// says it shut down, and it is short however many batches were folded
// (nothing is logged per batch or per event).
func checkQuietLog(t *testing.T, c *child) {
	t.Helper()
	b, err := os.ReadFile(c.log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	shutdown := false
	for _, l := range lines {
		var rec struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("%s: log line is not JSON: %q", c.name, l)
		}
		shutdown = shutdown || strings.HasPrefix(rec.Msg, "shutting down")
	}
	if !shutdown {
		t.Errorf("%s: no shutdown line in its log:\n%s", c.name, b)
	}
	if len(lines) > 15 {
		t.Errorf("%s logged %d lines; normal operation should be quiet:\n%s", c.name, len(lines), b)
	}
}

// sigterm SIGTERMs c and requires it to exit with status 0 within the
// shutdown timeout (plus slack for a loaded machine); it returns how long
// that took.
func sigterm(t *testing.T, c *child) time.Duration {
	t.Helper()
	if c.exited() {
		t.Fatalf("%s exited before SIGTERM: %v\n%s", c.name, c.err, c.logTail())
	}
	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(gracefulShutdown + 15*time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(time.Second)
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("%s still running %v after SIGTERM (--shutdown-timeout %v)\n%s", c.name, time.Since(start), gracefulShutdown, c.logTail())
	}
	took := time.Since(start)
	if c.err != nil {
		t.Fatalf("%s: exit after SIGTERM: %v (after %v)\n%s", c.name, c.err, took, c.logTail())
	}
	return took
}

// TestShutdownTimeout: a shutdown that cannot finish within
// --shutdown-timeout ends the process with status 3 and says why.
func TestShutdownTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := startBroker(t)
	// 1ns: no shutdown (flush, leave the group, close the store) is that fast.
	c := startRun(t, "run", cl, filepath.Join(t.TempDir(), "data"), "--shutdown-timeout", "1ns")
	waitOwned(ctx, t, c)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		t.Fatal("still running")
	}
	var ee *exec.ExitError
	if !errors.As(c.err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want status 3\n%s", c.err, c.logTail())
	}
	if b, _ := os.ReadFile(c.log); !strings.Contains(string(b), "shutdown did not finish within --shutdown-timeout") {
		t.Errorf("log lacks the reason:\n%s", b)
	}
}

// TestGracefulShutdownDuringRebalance: a member is SIGKILLed and a new one
// joins, so the group rebalances and the coordinator holds every join until
// the dead member's session times out (45s here). A SIGTERM to a healthy
// member then must not wait for that rebalance: it finishes and commits
// its batch, leaves, and exits 0 at once, far inside --shutdown-timeout
// (30s). The newcomer then owns every partition, and every output and SKU
// equals the model.
func TestGracefulShutdownDuringRebalance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lines := gen.Stream(gen.Config{Seed: 21, SKUs: 200, DupPct: 3, RefusePct: 3, InvalidPct: 1, Zipf: 1.1,
		PolicyChanges: []int{3000}}, 8000)
	cl, adm, rest := halfProduced(ctx, t, lines)
	dir := t.TempDir()
	extra := []string{"--session-timeout", "45s", "--shutdown-timeout", gracefulShutdown.String(), "--max-batch-records", "500"}
	a := startRun(t, "a", cl, filepath.Join(dir, "a"), extra...)
	waitOwned(ctx, t, a)
	b := startRun(t, "b", cl, filepath.Join(dir, "b"), extra...)
	poll(ctx, t, b, "waiting to own partitions", 20*time.Millisecond, func() bool {
		next, _ := b.next()
		return len(next) > 0
	})
	b.kill(t)
	c := startRun(t, "c", cl, filepath.Join(dir, "c"), extra...)
	poll(ctx, t, c, "waiting for its join to start a rebalance", 20*time.Millisecond, func() bool {
		return strings.Contains(cl.describeGroup(), "state PreparingRebalance")
	})
	// A learns of the rebalance from a heartbeat (every 3s) and joins; the
	// coordinator then holds its join. Nothing outside the coordinator
	// shows that moment, so wait two heartbeats.
	time.Sleep(6 * time.Second)
	// Events keep arriving, so the stop has batches in hand.
	rest()
	if took := sigterm(t, a); took > 10*time.Second {
		t.Fatalf("exit 0 after %v: the stop waited for the rebalance (the dead member's session)", took)
	}
	waitOwned(ctx, t, c)
	waitCaughtUp(ctx, t, c, adm)
	c.terminate(t)
	exp := e2etest.Expect(lines)
	got, err := e2etest.ReadTopics(ctx, []string{cl.brokers}, cl.topics, schemas.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	// B was killed: its last batch may be published again (repeats allowed).
	for _, d := range e2etest.Compare(exp, got, true) {
		t.Error(d)
	}
	st, err := store.Open(filepath.Join(dir, "c", "ledger"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range e2etest.CompareSKUs(exp, e2etest.StoreSKUs(st, testPartitions)) {
		t.Error(d)
	}
}

// TestSIGKILLRestartRejoinsAtOnce: `run` is a static group member by
// default (its instance id derived from the host and --data), so an
// instance SIGKILLed and started again on the same --data takes its
// partitions back at once, not after the dead member's session times out
// (30s here), and folds what arrived meanwhile.
func TestSIGKILLRestartRejoinsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, adm, rest := halfProduced(ctx, t, gen.Stream(gen.Config{Seed: 33, SKUs: 100, DupPct: 2}, 4000))
	data := filepath.Join(t.TempDir(), "data")
	extra := []string{"--session-timeout", "30s"}
	a := startRun(t, "a", cl, data, extra...)
	waitCaughtUp(ctx, t, a, adm)
	a.kill(t)
	rest()
	start := time.Now()
	b := startRun(t, "b", cl, data, extra...)
	waitCaughtUp(ctx, t, b, adm)
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("folding again %v after the restart: it waited for the dead member's session", took)
	} else {
		t.Logf("restart to caught up: %v", took)
	}
	b.terminate(t)
}

// halfProduced starts a broker and produces the first half of lines to
// it; rest produces the other half.
func halfProduced(ctx context.Context, t *testing.T, lines [][]byte) (cl *cluster, adm *kadm.Client, rest func()) {
	t.Helper()
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	cl = startBroker(t)
	adm = cl.admin(t)
	prod, err := processors.NewEventProducer(ctx, []string{cl.brokers}, cl.topics, testPartitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	if err := e2etest.Produce(ctx, prod, wire[:len(wire)/2]); err != nil {
		t.Fatal(err)
	}
	return cl, adm, func() {
		t.Helper()
		if err := e2etest.Produce(ctx, prod, wire[len(wire)/2:]); err != nil {
			t.Fatal(err)
		}
	}
}
