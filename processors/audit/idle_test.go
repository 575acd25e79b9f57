package audit_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// TestReplayWaitsForSlowBroker: a broker that answers no fetch for several
// IdleEnd silences while committed records remain must not end the replay
// short. kfake holds every fetch for a while after the first records; the
// replay must wait out the silence and fold every record to each end
// offset. With holdFor past six silences, it must fail saying why instead.
func TestReplayWaitsForSlowBroker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holdFor time.Duration // fetches held, after the first one served
		fails   bool
	}{
		{"slow", 1500 * time.Millisecond, false},
		{"gone", 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cl := newCluster(t, "slow"+tc.name)
			if cl.Embedded() == nil {
				t.Skip("needs kfake's control of requests")
			}
			// In small batches, so no fetch can carry a whole partition.
			lines := gen.Stream(gen.Config{Seed: 11, SKUs: 300, DupPct: 2}, 40000)
			for i := 0; i < len(lines); i += 500 {
				if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines[i:i+500]); err != nil {
					t.Fatal(err)
				}
			}
			adm, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...))
			if err != nil {
				t.Fatal(err)
			}
			defer adm.Close()
			ends, err := listEnds(ctx, adm, cl.Topics().Events)
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, o := range ends {
				total += o
			}

			kc := cl.Embedded().Cluster()
			var served, held atomic.Int64
			var until atomic.Int64 // unix nanos the hold ends at, once started
			kc.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
				kc.KeepControl()
				if served.Add(1) == 1 {
					until.Store(time.Now().Add(tc.holdFor).UnixNano())
					return nil, nil, false // the first fetch gets its records
				}
				if d := time.Until(time.Unix(0, until.Load())); d > 0 {
					held.Add(1)
					kc.SleepControl(func() { time.Sleep(d) })
				}
				return nil, nil, false
			})

			cfg := auditConfig(cl)
			cfg.IdleEnd = 200 * time.Millisecond
			cfg.FetchMaxBytes = 1 << 20 // the first fetch cannot hold the whole topic
			res, err := audit.Replay(ctx, cfg, audit.Stop{}, filepath.Join(t.TempDir(), "scratch"), nil)
			t.Logf("fetches: %d served, %d held; err %v", served.Load(), held.Load(), err)
			if held.Load() == 0 {
				t.Fatal("no fetch was held: the test did not make the broker slow")
			}
			if tc.fails {
				if err == nil {
					res.Close()
					t.Fatalf("replay succeeded with the broker silent for %v, six silences of %v", tc.holdFor, cfg.IdleEnd)
				}
				t.Logf("replay failed as it must: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if res.Counts.Records != total {
				t.Errorf("folded %d records, the topic holds %d: the replay ended while the broker was silent", res.Counts.Records, total)
			}
			for p, end := range ends {
				if res.Next[p] != end {
					t.Errorf("partition %d: replay reached %d, end offset %d", p, res.Next[p], end)
				}
			}
		})
	}
}
