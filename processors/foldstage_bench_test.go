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
func BenchmarkFoldStage(b *testing.B) {
	b.Run("stage", func(b *testing.B) { benchFoldStage(b, true) })
	b.Run("fold", func(b *testing.B) { benchFoldStage(b, false) })
}

func benchFoldStage(b *testing.B, stage bool) {
	const n, batch, persistEvery = 250_000, 2_500, 4
	foldStageOnce.Do(func() { foldStageRecs = foldStageRecords(b, n, 125_000) })
	recs := foldStageRecs
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
	foldStageOnce sync.Once
	foldStageRecs []*kgo.Record
)

// foldStageRecords encodes n events of the steady mix (retries and
// refusals included; the malformed left out) as a partition receives
// them, keyed by sku.
func foldStageRecords(b *testing.B, n, skus int) []*kgo.Record {
	b.Helper()
	g := gen.New(gen.Config{Seed: 7, SKUs: skus, Zipf: 1.1, DupPct: 2, RefusePct: 1})
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
		out = append(out, &kgo.Record{Topic: "events", Key: []byte(ev.SKU), Value: v, Offset: int64(len(out))})
	}
	return out
}
