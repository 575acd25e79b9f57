package processors_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// TestChangelogResendAfterLostBatches reproduces a store that is ahead of
// the changelog: batches committed to Pebble whose changelog records never
// reached Kafka. That is what a SIGKILL between a batch's store commit and
// its changelog records leaves, and what failed changelog writes leave; the
// test makes the broker refuse every changelog record (max.message.bytes
// of 1 on the changelog topic) while instance A folds the middle third of
// the stream, so A's store holds those batches and the changelog does not.
//
// A then restarts on the same store with the changelog working and folds
// the rest; finally B, with an empty store, takes every partition over from
// the changelog alone. B's ledger must equal the model's, and every SKU and
// partition state must equal A's. Without the re-send at assignment, SKUs
// changed only in the middle third come back stale in B (the changelog's
// later offset markers claim batches it never received).
func TestChangelogResendAfterLostBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const parts = 4
	cl, err := e2etest.NewCluster("clresend", parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	// Skewed, so hot SKUs remember enough to be persisted split (parts);
	// a policy change in the lost third changes the partition state too.
	lines := gen.Stream(gen.Config{Seed: 11, SKUs: 300, Zipf: 1.1, DupPct: 3, RefusePct: 3, InvalidPct: 1,
		PolicyChanges: []int{4_000}}, 6_000)
	first, lost, rest := lines[:3_000], lines[3_000:5_600], lines[5_600:]
	opts := func(c *processors.Config) { c.MaxBatchRecords = 500; c.MaxCachedSKUs = 50 }

	// run produces evs, runs an instance on dir until its store has
	// folded everything, stops it and returns its changelog error count.
	run := func(dir string, evs [][]byte) float64 {
		t.Helper()
		if len(evs) > 0 {
			if err := e2etest.ProduceLines(ctx, cl, parts, evs); err != nil {
				t.Fatal(err)
			}
		}
		l, err := e2etest.StartLive(ctx, cl, dir, parts, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.WaitCaughtUp(ctx, cl); err != nil {
			t.Fatal(err)
		}
		clErrs := counter(t, l.Gatherer, "stockledger_changelog_errors_total")
		if err := l.Stop(); err != nil {
			t.Fatalf("processor: %v", err)
		}
		return clErrs
	}
	kcl, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	adm := kadm.NewClient(kcl)
	setMaxMessageBytes := func(v string) {
		t.Helper()
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &v}}, cl.Topics().Changelog)
		if err == nil {
			_, err = resp.On(cl.Topics().Changelog, nil)
		}
		if err != nil {
			t.Fatalf("setting max.message.bytes of the changelog: %v", err)
		}
	}

	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if n := run(dirA, first); n != 0 {
		t.Fatalf("%v changelog errors before any were caused", n)
	}
	setMaxMessageBytes("1")
	if n := run(dirA, lost); n == 0 {
		t.Fatal("the changelog took the records it should have refused: nothing was lost")
	}
	setMaxMessageBytes("16777216")
	if n := run(dirA, rest); n != 0 {
		t.Fatalf("%v changelog errors after the changelog was fixed", n)
	}
	run(dirB, nil) // restores every partition from the changelog alone

	stA, err := store.Open(dirA, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stA.Close()
	stB, err := store.Open(dirB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stB.Close()
	exp := e2etest.Expect(lines)
	for _, d := range e2etest.CompareSKUs(exp, e2etest.StoreSKUs(stB, parts)) {
		t.Error("restored from the changelog:", d)
	}
	for _, d := range e2etest.CompareSKUs(exp, e2etest.StoreSKUs(stA, parts)) {
		t.Error("instance A's store:", d)
	}
	for p := range int32(parts) {
		for _, d := range diffStores(t, stA, stB, p) {
			t.Errorf("partition %d: %s", p, d)
		}
	}
}

// diffStores compares partition p of two stores: offsets, partition states
// and every SKU's canonical encoding.
func diffStores(t *testing.T, a, b *store.Store, p int32) []string {
	t.Helper()
	var diffs []string
	na, oka, erra := a.Offset(p)
	nb, okb, errb := b.Offset(p)
	if erra != nil || errb != nil || na != nb || oka != okb {
		diffs = append(diffs, "offsets differ")
	}
	var pa, pb ledger.Partition
	if err := a.Partition(p, &pa); err != nil {
		t.Fatal(err)
	}
	if err := b.Partition(p, &pb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pa.AppendBinary(nil), pb.AppendBinary(nil)) {
		diffs = append(diffs, "partition states differ")
	}
	skus := func(st *store.Store) map[string][]byte {
		m := map[string][]byte{}
		if err := st.SKUs(p, func(name string, v []byte) error { m[name] = bytes.Clone(v); return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ma, mb := skus(a), skus(b)
	for name, v := range ma {
		if w, ok := mb[name]; !ok || !bytes.Equal(v, w) {
			diffs = append(diffs, "SKU "+name+" differs")
		}
	}
	for name := range mb {
		if _, ok := ma[name]; !ok {
			diffs = append(diffs, "SKU "+name+" only in the restored store")
		}
	}
	return diffs
}
