package audit_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// TestReplayCancelledMidway: a replay whose context ends while partitions
// fold (records queued for some, others waiting for a turn to fold) stops
// and returns the cancellation, every time, instead of hanging: a
// partition holding a turn must hand it on as it drains, or the partitions
// waiting for one never finish.
func TestReplayCancelledMidway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newCluster(t, "cancel")
	// Enough records that the reads run ahead of the folds: chunks queue
	// behind each partition's fold, and two of the four fold at a time.
	lines := gen.Stream(gen.Config{Seed: 13, SKUs: 400, DupPct: 2}, 200_000)
	for i := 0; i < len(lines); i += 5000 {
		if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines[i:i+5000]); err != nil {
			t.Fatal(err)
		}
	}
	cfg := auditConfig(cl)
	cfg.FetchMaxBytes = 1 << 20
	for run := range 8 {
		rctx, rcancel := context.WithCancel(ctx)
		var prog audit.Progress
		go func() { // cancel once a few thousand records are folded
			for prog.Records.Load() < int64(5000+run*20000) && rctx.Err() == nil {
				time.Sleep(200 * time.Microsecond)
			}
			rcancel()
		}()
		done := make(chan error, 1)
		go func() {
			res, err := audit.Replay(rctx, cfg, audit.Stop{}, filepath.Join(t.TempDir(), "scratch"), &prog)
			if err == nil {
				res.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("run %d: %v, want the cancellation", run, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d: the replay did not return 30 s after its context was cancelled (%d records folded)", run, prog.Records.Load())
		}
		rcancel()
	}
}
