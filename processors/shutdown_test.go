package processors_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestShutdownFinishesBatchInHand cancels Run's context while the first
// batch's outputs are being published (kfake holds the processor's first
// produce request until then), and checks Run still finishes that batch:
// its outputs acknowledged and its state and offsets committed, so a
// restart publishes nothing twice. (Abandoning it would leave some of its
// outputs published and its offsets not committed: the restart would
// publish those again.)
func TestShutdownFinishesBatchInHand(t *testing.T) {
	t.Run("at-least-once", func(t *testing.T) { testShutdownFinishesBatch(t) })
	// With transactions, the batch's commit (EndTransaction) comes after
	// the produce: a cancelled context there would abort it.
	t.Run("exactly-once", func(t *testing.T) {
		testShutdownFinishesBatch(t, func(c *processors.Config) { c.ExactlyOnce, c.InstanceID = true, "shutdown-test" })
	})
}

func testShutdownFinishesBatch(t *testing.T, opts ...func(*processors.Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const parts = 4
	cl, err := e2etest.NewCluster("shutdown", parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if cl.Embedded() == nil {
		t.Skip("needs kfake's control of requests")
	}
	lines := gen.Stream(gen.Config{Seed: 5, SKUs: 200, DupPct: 2, RefusePct: 2, InvalidPct: 1}, 5000)
	if err := e2etest.ProduceLines(ctx, cl, parts, lines); err != nil {
		t.Fatal(err)
	}
	exp := e2etest.Expect(lines)

	kc := cl.Embedded().Cluster()
	publishing, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	kc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		once.Do(func() {
			close(publishing)
			kc.SleepControl(func() { <-release })
		})
		return nil, nil, false // then handled as usual
	})

	dir := filepath.Join(t.TempDir(), "ledger")
	l, err := e2etest.StartLive(ctx, cl, dir, parts, opts...)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-publishing:
	case <-ctx.Done():
		t.Fatal("the processor never published")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- l.Stop() }() // cancels Run's context, waits for Run
	time.Sleep(300 * time.Millisecond)  // the cancellation reaches every pending produce
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}

	// The store was closed by Stop: reopen it through a new processor and
	// check the first batch was committed, then fold the rest.
	l, err = e2etest.StartLive(ctx, cl, dir, parts, opts...)
	if err != nil {
		t.Fatal(err)
	}
	committed := int64(0)
	for p := range int32(parts) {
		if n, ok, _ := l.Store.Offset(p); ok {
			committed += n
		}
	}
	if committed == 0 {
		t.Error("the batch in hand when Run was cancelled was not committed")
	}
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := e2etest.ReadTopics(ctx, cl.Brokers, cl.Topics(), schemas.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range e2etest.Compare(exp, got, false) {
		t.Error(d)
	}
	if got.Repeated != 0 {
		t.Errorf("%d updates published twice: the batch in hand was abandoned", got.Repeated)
	}
	t.Logf("first batch committed %d records before shutdown; %d updates, none twice", committed, got.Updates)
}
