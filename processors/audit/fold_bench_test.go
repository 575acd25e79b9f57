package audit

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// foldBatch is how many records BenchmarkReplayFold hands each fold call:
// about what a replay's read hands it, a fetch's records of one partition
// (40,000 on average in a 1,000,000-event BenchmarkReplay).
const foldBatch = 32768

// BenchmarkReplayFold is the replay's fold of one partition without
// Kafka (decode, validate, apply, write-back at the end), on one core: it
// says how much of BenchmarkReplay is the fold itself.
func BenchmarkReplayFold(b *testing.B) {
	n := 500_000 // STOCKLEDGER_BENCH_FOLD_EVENTS overrides
	if v, err := strconv.Atoi(os.Getenv("STOCKLEDGER_BENCH_FOLD_EVENTS")); err == nil && v > 0 {
		n = v
	}
	g := gen.New(gen.Config{Seed: 99, SKUs: 12_500, DupPct: 2, RefusePct: 2, Zipf: 1.05})
	recs := make([]*kgo.Record, 0, n)
	var ev ledger.Event
	for len(recs) < n {
		ev.Reset()
		if r, _ := schemas.ParseEventJSON(g.Next(), &ev); r != ledger.ReasonNone {
			continue
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			continue
		}
		recs = append(recs, &kgo.Record{Key: []byte(ev.SKU), Value: v, Offset: int64(len(recs))})
	}
	reg := schemas.NewRegistry()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st, err := store.Open(filepath.Join(b.TempDir(), "s"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		f := newReplayFold(0, 1, st, reg, ledger.DefaultConfig(), 1_000_000)
		b.StartTimer()
		for i := 0; i < n; i += foldBatch {
			if err := f.fold(recs[i:min(i+foldBatch, n)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.finish(int64(n)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
