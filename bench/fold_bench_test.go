package main

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// records encodes n generated events (valid ones: the steady mix) as the
// processor receives them.
func records(b *testing.B, n, skus int) []*kgo.Record {
	b.Helper()
	lines := gen.Stream(gen.Config{Seed: 9, SKUs: skus, Zipf: 1.1}, n)
	out := make([]*kgo.Record, 0, n)
	var ev ledger.Event
	for i, l := range lines {
		ev.Reset()
		if r, d := schemas.ParseEventJSON(l, &ev); r != ledger.ReasonNone {
			b.Fatalf("%s: %s", r, d)
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, &kgo.Record{Topic: "events", Key: []byte(ev.SKU), Value: v, Offset: int64(i)})
	}
	return out
}

// BenchmarkFoldPebble is the processor's fold of one partition: decode,
// validate, apply with hot states in memory, write-back of the batch's
// states and next offset to Pebble in one batch per 10,000 events.
func BenchmarkFoldPebble(b *testing.B) {
	const n, batch = 200_000, 10_000
	recs := records(b, n, 10_000)
	reg := schemas.NewRegistry()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		f, err := processors.NewFolder(st, reg, "events", 0, 1, ledger.DefaultConfig(), 1_000_000)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for j := 0; j < n; j += batch {
			if _, _, err := f.Fold(recs[j:min(j+batch, n)]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFoldPebbleGetSet is the naive baseline measured in the same
// run: a Pebble get, apply and set per event.
func BenchmarkFoldPebbleGetSet(b *testing.B) {
	const n = 50_000
	recs := records(b, n, 10_000)
	reg := schemas.NewRegistry()
	dec := reg.NewDecoder(schemas.DecoderConfig{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		p := ledger.NewPartition(ledger.DefaultConfig())
		var fx ledger.Effects
		var ev ledger.Event
		var s ledger.SKU
		b.StartTimer()
		for _, r := range recs {
			ev.Reset()
			if reason, d, err := dec.Decode(r.Value, &ev); reason != ledger.ReasonNone || err != nil {
				b.Fatal(reason, d, err)
			}
			if _, err := st.SKU(0, ev.SKU, &s); err != nil {
				b.Fatal(err)
			}
			fx.Reset()
			p.Apply(&s, &ev, &fx)
			wb := st.NewBatch()
			if err := wb.PutSKU(0, &s); err != nil {
				b.Fatal(err)
			}
			if err := wb.SetOffset(0, r.Offset+1); err != nil {
				b.Fatal(err)
			}
			if err := wb.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
