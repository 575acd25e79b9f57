package processors

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
)

// fetchedRecords counts the records every client with it as a hook reads
// off the wire, polled or not.
type fetchedRecords struct{ n atomic.Int64 }

func (f *fetchedRecords) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f.n.Add(int64(m.NumRecords))
}

// restoreTestConfig starts a broker with a one-partition changelog topic
// (stopped with the test) and returns a config for it whose clients count
// the records they fetch.
func restoreTestConfig(t *testing.T) (Config, *fetchedRecords) {
	t.Helper()
	const topic = "restore.changelog"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	fetched := new(fetchedRecords)
	cfg := DefaultConfig()
	cfg.Brokers, cfg.Topics.Changelog = c.ListenAddrs(), topic
	cfg.ClientOpts = []kgo.Opt{kgo.WithHooks(fetched)}
	return cfg, fetched
}

// TestRestoreOfACurrentStoreReadsOneRecord: when the changelog's last
// record is the marker of the store's own offset (a restart on the same
// disk), restore fetches that record and nothing else; when the store is
// behind, it reads the changelog whole and installs it.
func TestRestoreOfACurrentStoreReadsOneRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, fetched := restoreTestConfig(t)
	topic := cfg.Topics.Changelog

	// The changelog: 50 SKUs, the partition state, the marker at 100,
	// each record a batch of its own.
	prod, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const skus, marker = 50, 100
	var recs []*kgo.Record
	for i := range skus {
		s := ledger.SKU{Name: fmt.Sprintf("SKU-%02d", i), Version: 1}
		recs = append(recs, &kgo.Record{Key: changelogStateKey(s.Name), Value: s.AppendBinary(nil)})
	}
	pst := ledger.Partition{Config: cfg.Ledger}
	recs = append(recs,
		&kgo.Record{Key: changelogPartitionStateKey, Value: pst.AppendBinary(nil)},
		&kgo.Record{Key: changelogOffsetKey, Value: changelogMarkerValue(marker)})
	for _, r := range recs {
		r.Topic = topic
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	st, err := store.Open("", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	setOffset := func(next int64) {
		b := st.NewBatch()
		if err := b.SetOffset(0, next); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	setOffset(marker)
	res := restore(ctx, cfg, st, 0, restoreEnv{})
	if res.err != nil || res.restored || res.resent || res.next != marker {
		t.Fatalf("current store: %+v", res)
	}
	if n := fetched.n.Load(); n != 1 {
		t.Errorf("current store: %d records fetched, want the last one only", n)
	}

	fetched.n.Store(0)
	setOffset(marker - 10)
	res = restore(ctx, cfg, st, 0, restoreEnv{})
	if res.err != nil || !res.restored || res.skus != skus || res.next != marker {
		t.Fatalf("store behind: %+v", res)
	}
	if n := fetched.n.Load(); n < int64(len(recs)) {
		t.Errorf("store behind: %d records fetched, want at least the %d of the changelog", n, len(recs))
	}
	if next, ok, err := st.Offset(0); err != nil || !ok || next != marker {
		t.Errorf("store behind: offset after the restore %d %v %v, want %d", next, ok, err, marker)
	}
	var got ledger.SKU
	if found, err := st.SKU(0, "SKU-07", &got); err != nil || !found || got.Version != 1 {
		t.Errorf("store behind: SKU-07 after the restore: found %v, %v, version %d", found, err, got.Version)
	}
}

// TestRestoreOfACurrentStoreExactlyOnce: with exactly-once the changelog
// ends in a transaction's commit marker, which no consumer is given. A
// restart on a current store still reads only the record before it: it
// neither waits for a record that never comes nor reads the changelog
// whole.
func TestRestoreOfACurrentStoreExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, fetched := restoreTestConfig(t)
	cfg.ExactlyOnce = true
	topic := cfg.Topics.Changelog

	prod, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID("restore-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const skus, marker = 20, 100
	for batch := range 2 { // two transactions, as two batches would write
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range skus {
			s := ledger.SKU{Name: fmt.Sprintf("SKU-%02d", i), Version: uint64(batch + 1)}
			prod.Produce(ctx, &kgo.Record{Topic: topic, Key: changelogStateKey(s.Name), Value: s.AppendBinary(nil)}, nil)
		}
		prod.Produce(ctx, &kgo.Record{Topic: topic, Key: changelogOffsetKey, Value: changelogMarkerValue(int64(marker + batch))}, nil)
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}

	st, err := store.Open("", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := st.NewBatch()
	if err := b.SetOffset(0, marker+1); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := restore(ctx, cfg, st, 0, restoreEnv{})
	if res.err != nil || res.restored || res.resent || res.next != marker+1 {
		t.Fatalf("current store: %+v", res)
	}
	// The broker hands out whole record batches: the last transaction's
	// records and its commit marker.
	if n := fetched.n.Load(); n > skus+2 {
		t.Errorf("current store: %d records fetched, want only the last transaction's %d", n, skus+2)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("current store: the restore took %v: it waited for a record that never comes", took)
	}
}
