package processors

import (
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// BenchmarkFoldStage is one partition's share of the live loop without
// Kafka: its fold stage (foldBatch, the outputs encoded) on batches of
// 2,500 records, and every fourth batch persisting (commitState, the
// changelog records built), as at 200k ev/s over 8 partitions with a
// 100 ms commit interval. The stream is the steady workload's share of
// one of 8 partitions (125,000 SKUs, Zipf 1.1, 250,000 events).
//
// The "fold" sub-benchmark is the floor under it: the same records
// decoded and applied, nothing encoded or persisted.
//
// The "-part2" sub-benchmarks fold part 2's "checkout" mix (web checkouts
// holding before they order, abandoned carts, rare listing and override
// changes, a clock every 1,250 records: the harness's -part2 stream as one
// of 8 partitions receives it).
func BenchmarkFoldStage(b *testing.B) {
	b.Run("stage", func(b *testing.B) { benchFoldStage(b, true, false) })
	b.Run("fold", func(b *testing.B) { benchFoldStage(b, false, false) })
	b.Run("stage-part2", func(b *testing.B) { benchFoldStage(b, true, true) })
	b.Run("fold-part2", func(b *testing.B) { benchFoldStage(b, false, true) })
}

func benchFoldStage(b *testing.B, stage, part2 bool) {
	const n, batch, persistEvery = 250_000, 2_500, 4
	mix := 0
	if part2 {
		mix = 1
	}
	foldStageOnce[mix].Do(func() { foldStageRecs[mix] = foldStageRecords(b, n, 125_000, part2) })
	recs := foldStageRecs[mix]
	reg := schemas.NewRegistry()
	out := outputs{topics: DefaultTopics()}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pt := newPartition(0, "events", 1, ledger.DefaultConfig(), st, reg)
		b.StartTimer()
		var seq uint64
		var cl []*kgo.Record
		for j := 0; j < n; j += batch {
			seq++
			persist := stage && (seq%persistEvery == 0 || j+batch >= n)
			pb, err := pt.foldBatch(recs[j:min(j+batch, n)], seq, persist)
			if err != nil {
				b.Fatal(err)
			}
			if stage {
				out.encode(pt, &pb)
			}
			if persist {
				if err := commitState(st, []partBatch{pb}, false); err != nil {
					b.Fatal(err)
				}
				cl = pb.changelogRecords("changelog", cl[:0])
				pt.fold.Saved(seq)
			}
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

var (
	foldStageOnce [2]sync.Once // part 1's mix, part 2's
	foldStageRecs [2][]*kgo.Record
)

// foldStageRecords encodes n events of the steady mix (retries and
// refusals included; the malformed left out) as a partition receives
// them, keyed by sku.
func foldStageRecords(b *testing.B, n, skus int, part2 bool) []*kgo.Record {
	b.Helper()
	cfg := gen.Config{Seed: 7, SKUs: skus, Zipf: 1.1, DupPct: 2, RefusePct: 1}
	if part2 {
		cfg.Part2, cfg.Part2Mix, cfg.ClockEvery = true, "checkout", 1_250
	}
	g := gen.New(cfg)
	out := make([]*kgo.Record, 0, n)
	var ev ledger.Event
	for len(out) < n {
		ev.Reset()
		if r, _ := schemas.ParseEventJSON(g.Next(), &ev); r != ledger.ReasonNone {
			continue
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			b.Fatal(err)
		}
		var key []byte
		if !ev.Type.Broadcast() {
			key = []byte(ev.SKU)
		}
		out = append(out, &kgo.Record{Topic: "events", Key: key, Value: v, Offset: int64(len(out))})
	}
	return out
}
