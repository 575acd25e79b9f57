package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// TestKillBetweenStages kills `stockledger run` between every pair of
// stages of its pipeline: a binary built with the crashpoints tag SIGKILLs
// itself the Nth time it passes a point (processors.CrashPoints: folded,
// outputs produced, acknowledged, published marks written, state
// committed, changelog produced). After each kill the next run starts on
// the same data directory with the next point armed, while the stream is
// produced. At the end a new instance on an empty data directory restores
// every partition from the changelog and folds the rest: every output
// (hold results and listing updates included: the stream is part 2's mix,
// with clock events in every partition), every SKU and the versions on the
// updates topic (never going back) are compared with the independent model.
func TestKillBetweenStages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary and runs a dozen processes")
	}
	seed := testSeed(t)
	t.Logf("seed %d (replay with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	crashBin := buildCrashBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	points := processors.CrashPoints()
	const perKill, chunk = 5000, 250
	n := perKill * (len(points) + 1)
	ks := newKillStream(ctx, t, gen.Config{Seed: seed, SKUs: 400, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 4, n / 2, 3 * n / 4}, Part2: true, ClockEvery: 50}, n)
	wire, expc, cl, prod := ks.wire, ks.exp, ks.cl, ks.prod
	adm := kadm.NewClient(prod.Client())
	data := filepath.Join(t.TempDir(), "data")

	from := 0
	for i, point := range points {
		at := 1 + rng.IntN(4)
		name := fmt.Sprintf("run-%d-%s", i+1, point)
		c := startBinary(t, crashBin, []string{processors.CrashEnv + "=" + point + ":" + fmt.Sprint(at)}, name, cl, data)
		from = produceUntilExit(ctx, t, prod, c, wire, from, chunk, rng)
		checkSelfKilled(t, c, point)
		next := committedOffsets(t, data)
		t.Logf("%s: killed at its %s point #%d; %d of %d events produced, %d records committed", name, point, at, from, n, sum(next))
	}
	if err := e2etest.Produce(ctx, prod, wire[from:]); err != nil {
		t.Fatal(err)
	}
	// The last instance on the crashed data folds the rest; then one on an
	// empty directory takes over from the changelog alone.
	c := startRun(t, "after-crashes", cl, data)
	waitOwned(ctx, t, c)
	waitCaughtUp(ctx, t, c, adm)
	c.terminate(t)
	fresh := filepath.Join(t.TempDir(), "fresh")
	c = startRun(t, "from-changelog", cl, fresh)
	waitOwned(ctx, t, c)
	ends := waitCaughtUp(ctx, t, c, adm)
	c.terminate(t)

	exp := <-expc
	got, err := e2etest.ReadTopics(ctx, []string{cl.brokers}, cl.topics, schemas.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range e2etest.Compare(exp, got, true) {
		t.Error(d)
	}
	for _, dir := range []string{data, fresh} {
		checkStoreAgainst(t, exp, dir, ends)
	}
}

// killStream is what the kill tests share: a generated stream encoded for
// the events topic, the model's expected outputs (computed in the
// background), a broker and a producer (closed with the test).
type killStream struct {
	wire []e2etest.WireEvent
	exp  chan *e2etest.Expected
	cl   *cluster
	prod *processors.EventProducer
}

func newKillStream(ctx context.Context, t *testing.T, c gen.Config, n int) *killStream {
	t.Helper()
	lines := gen.Stream(c, n)
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	ks := &killStream{wire: wire, exp: make(chan *e2etest.Expected, 1), cl: startBroker(t)}
	go func() { ks.exp <- e2etest.Expect(lines) }()
	if ks.prod, err = processors.NewEventProducer(ctx, []string{ks.cl.brokers}, ks.cl.topics, testPartitions); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.prod.Close)
	return ks
}

// buildCrashBinary builds stockledger with the crash points armed by
// processors.CrashEnv.
func buildCrashBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stockledger-crashpoints")
	out, err := exec.Command("go", "build", "-tags", "crashpoints", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building with -tags crashpoints: %v\n%s", err, out)
	}
	return bin
}

// produceUntilExit produces wire from index from in chunks, with short
// random pauses, until c exits; it returns how far it got. A child still
// running after the whole stream fails the test.
func produceUntilExit(ctx context.Context, t *testing.T, prod *processors.EventProducer, c *child, wire []e2etest.WireEvent, from, chunk int, rng *rand.Rand) int {
	t.Helper()
	for from < len(wire) && !c.exited() {
		to := min(from+chunk, len(wire))
		if err := e2etest.Produce(ctx, prod, wire[from:to]); err != nil {
			t.Fatal(err)
		}
		from = to
		time.Sleep(time.Duration(5+rng.IntN(30)) * time.Millisecond)
	}
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		t.Fatalf("%s never reached its crash point with the whole stream produced\n%s", c.name, c.logTail())
	}
	return from
}

// checkSelfKilled checks that c died of its own SIGKILL at point.
func checkSelfKilled(t *testing.T, c *child, point string) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(c.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s: exited with %v, not SIGKILL\n%s", c.name, c.err, c.logTail())
	}
	if !strings.Contains(c.logTail(), "crash point "+point+" reached") {
		t.Fatalf("%s: killed, but not at crash point %s\n%s", c.name, point, c.logTail())
	}
}

// committedOffsets reads the next offsets a dead instance's store holds.
func committedOffsets(t *testing.T, data string) map[int32]int64 {
	t.Helper()
	st, err := store.Open(filepath.Join(data, "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	next := map[int32]int64{}
	for p := range int32(testPartitions) {
		if o, ok, err := st.Offset(p); err != nil {
			t.Fatal(err)
		} else if ok {
			next[p] = o
		}
	}
	return next
}

// checkStoreAgainst compares the store under dir with the model: every
// partition at the topic's end, every SKU as the model has it.
func checkStoreAgainst(t *testing.T, exp *e2etest.Expected, dir string, ends map[int32]int64) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for p, end := range ends {
		if next, ok, err := st.Offset(p); err != nil || !ok || next != end {
			t.Errorf("%s: partition %d: next offset %d (present %v, err %v), topic end %d", dir, p, next, ok, err, end)
		}
	}
	for _, d := range e2etest.CompareSKUs(exp, func(sku string) (ledger.SKU, bool, error) {
		var s ledger.SKU
		found, err := st.SKU(processors.PartitionOf(sku, testPartitions), sku, &s)
		return s, found, err
	}) {
		t.Errorf("%s: %s", dir, d)
	}
}
