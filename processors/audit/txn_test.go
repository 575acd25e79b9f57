package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/schemas"
)

// TestReplayEndsAtTransactionMarkers produces the events topic in
// transactions, committed and aborted, so every partition ends in a
// transaction marker, and replays it with IdleEnd of an hour: the replay
// must end on the markers (not wait out the silence), reach each
// partition's end offset, and fold exactly the committed events.
func TestReplayEndsAtTransactionMarkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, "txnends")
	cfg := auditConfig(cl)
	cfg.IdleEnd = time.Hour

	adm, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := processors.EnsureTopics(ctx, kadm.NewClient(adm), cl.Topics(), testPartitions, 1); err != nil {
		t.Fatal(err)
	}
	pr, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...), kgo.DefaultProduceTopic(cfg.Topic),
		kgo.TransactionalID("audit-txn-test-"+cl.Prefix), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	n := 0
	receipt := func(p int32, qty int) *kgo.Record {
		n++
		var ev ledger.Event
		line := fmt.Sprintf(`{"event_id":"e-%d","type":"receipt","sku":%q,"occurred_at":"2026-11-27T08:00:%02dZ","location":"dc-east","qty":%d}`, n, skuIn(p), n, qty)
		if r, d := schemas.ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
			t.Fatalf("%s: %s", line, d)
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Key: []byte(ev.SKU), Value: v, Partition: p}
	}
	txn := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := pr.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := pr.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := pr.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[int32]ledger.Qty{}
	wantEnd := map[int32]int64{} // offsets used: records and one marker per transaction
	wantRecords := int64(0)
	for p := range int32(testPartitions) {
		txn(true, receipt(p, 5), receipt(p, 7)) // committed
		txn(false, receipt(p, 100))             // aborted: never folded
		want[p], wantEnd[p], wantRecords = 12, 5, wantRecords+2
		if p == 0 { // partition 0 ends in a commit marker, the others in an abort marker
			txn(true, receipt(p, 3))
			want[p], wantEnd[p], wantRecords = 15, 7, wantRecords+1
		}
	}
	// A broker writes transaction markers after EndTransaction returns:
	// wait for the last ones before the replay plans its stop offsets.
	var ends map[int32]int64
	for {
		if ends, err = listEnds(ctx, adm, cfg.Topic); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ends) == fmt.Sprint(wantEnd) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("end offsets %v, want %v", ends, wantEnd)
		case <-time.After(50 * time.Millisecond):
		}
	}
	res, err := audit.Replay(ctx, cfg, audit.Stop{}, filepath.Join(t.TempDir(), "scratch"), nil)
	if err != nil {
		t.Fatal(err) // a replay that waited for IdleEnd ends here with the context's deadline
	}
	defer res.Close()
	if res.Counts.Records != wantRecords || res.Counts.Applied != wantRecords {
		t.Errorf("folded %d records (%d applied), want %d committed events", res.Counts.Records, res.Counts.Applied, wantRecords)
	}
	for p := range int32(testPartitions) {
		if res.Next[p] != ends[p] {
			t.Errorf("partition %d: replay reached %d, end offset %d", p, res.Next[p], ends[p])
		}
		var s ledger.SKU
		found, err := res.Store.SKU(p, skuIn(p), &s)
		if err != nil || !found {
			t.Fatalf("partition %d: SKU %s found=%v err=%v", p, skuIn(p), found, err)
		}
		if got := s.Location("dc-east").OnHand; got != want[p] {
			t.Errorf("partition %d: on_hand %d, want %d (the committed receipts only)", p, got, want[p])
		}
	}
}

// skuIn is the first SKU named S-<n> that belongs to partition p of the
// test topic, so the events written there are folded (placement).
func skuIn(p int32) string {
	for i := 0; ; i++ {
		if name := fmt.Sprintf("S-%d", i); processors.PartitionOf(name, testPartitions) == p {
			return name
		}
	}
}
