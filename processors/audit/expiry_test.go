package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// expirySKUs is how many SKUs TestExpiryIsDeterministic holds units of.
const expirySKUs = 12

// expiryLines gives each SKU stock and three holds on web, made at now:
// "short" expires within a second or two (the processor's own clocks
// expire it), "long" in an hour (it stays open), "gone" is released
// before it could expire.
func expiryLines(now time.Time) [][]byte {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	at := ts(now)
	lines := [][]byte{fmt.Appendf(nil, `{"event_id":"pol-web","type":"channel_policy","occurred_at":%q,"channel":"web","locations":[],"buffer":0,"share_pct":100}`, at)}
	for i := range expirySKUs {
		sku := fmt.Sprintf("EXP-%02d", i)
		short := now.Add(time.Second + time.Duration(i)*100*time.Millisecond)
		lines = append(lines,
			fmt.Appendf(nil, `{"event_id":"r-%s","type":"receipt","sku":%q,"occurred_at":%q,"location":"dc-east","qty":20}`, sku, sku, at),
			fmt.Appendf(nil, `{"event_id":"hs-%s","type":"hold","sku":%q,"occurred_at":%q,"hold_id":"short","channel":"web","qty":3,"expires_at":%q}`, sku, sku, at, ts(short)),
			fmt.Appendf(nil, `{"event_id":"hl-%s","type":"hold","sku":%q,"occurred_at":%q,"hold_id":"long","channel":"web","qty":2,"location":"dc-east","expires_at":%q}`, sku, sku, at, ts(now.Add(time.Hour))),
			fmt.Appendf(nil, `{"event_id":"hg-%s","type":"hold","sku":%q,"occurred_at":%q,"hold_id":"gone","channel":"web","qty":1,"expires_at":%q}`, sku, sku, at, ts(short)),
			fmt.Appendf(nil, `{"event_id":"hr-%s","type":"hold_released","sku":%q,"occurred_at":%q,"hold_id":"gone"}`, sku, sku, at))
	}
	return lines
}

// TestExpiryIsDeterministic: the live processor writes its own clock
// events (every 50 ms, wall-clock time) while it folds holds that expire
// within a second or two. Once every short hold has expired live, the
// processor stops, and:
//   - verify (a replay of the events topic, clock records included, to the
//     live store's offsets) equals the live ledger, checksum by checksum;
//   - the hold results published live are the model's, fed the topic's
//     records partition by partition (so it sees the processor's clocks
//     where the processor did);
//   - history shows each short hold's expiry (a hold result "expired") on
//     the row of the first clock event in the SKU's partition at or past
//     the hold's expires_at, at that clock's offset.
func TestExpiryIsDeterministic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newCluster(t, "expiry")
	if err := e2etest.ProduceLines(ctx, cl, testPartitions, expiryLines(time.Now())); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "live")
	l, err := e2etest.StartLive(ctx, cl, dir, testPartitions, func(c *processors.Config) { c.ClockInterval = 50 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	werr := waitExpired(ctx, l.Store)
	if err := l.Stop(); err != nil {
		t.Fatalf("processor: %v", err)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	st, err := store.Open(dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := auditConfig(cl)
	res, err := audit.Verify(ctx, cfg, st, filepath.Join(t.TempDir(), "scratch"), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Replay.Close()
	for _, p := range res.Partitions {
		if !p.Match {
			t.Errorf("partition %d (to offset %d): replay %s, live %s; %v %v", p.Partition, p.Next, p.Replay.Hex()[:16], p.Live.Hex()[:16], p.Diffs, p.Policies)
		}
	}
	recs := readEvents(ctx, t, cl)
	checkLiveHoldResults(ctx, t, cl, recs)
	for i := range expirySKUs {
		checkExpiryHistory(ctx, t, cfg, fmt.Sprintf("EXP-%02d", i), recs)
	}
}

// waitExpired waits until the store holds every SKU's short hold closed.
func waitExpired(ctx context.Context, st *store.Store) error {
	for {
		open := 0
		for i := range expirySKUs {
			sku := fmt.Sprintf("EXP-%02d", i)
			var s ledger.SKU
			found, err := st.SKU(processors.PartitionOf(sku, testPartitions), sku, &s)
			if err != nil {
				return err
			}
			if h, ok := s.Holds["short"]; !found || !ok || !h.Closed {
				open++
			}
		}
		if open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d short holds still open: %w", open, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicEvent is one record of the events topic, decoded.
type topicEvent struct {
	rec *kgo.Record
	ev  ledger.Event
}

// readEvents reads the whole events topic, decoded, by partition in
// offset order.
func readEvents(ctx context.Context, t *testing.T, cl *e2etest.Cluster) map[int32][]topicEvent {
	t.Helper()
	reg := schemas.NewRegistry()
	out := map[int32][]topicEvent{}
	err := processors.Tail(ctx, cl.Brokers, cl.Topics().Events, processors.TailOptions{FromBeginning: true, ExitAtEnd: true}, func(r *kgo.Record) error {
		te := topicEvent{rec: r}
		if reason, detail, err := reg.DecodeEvent(r.Value, &te.ev); err != nil || reason != ledger.ReasonNone {
			return fmt.Errorf("partition %d offset %d: %v %v %s", r.Partition, r.Offset, err, reason, detail)
		}
		out[r.Partition] = append(out[r.Partition], te)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLiveHoldResults compares the hold results on the topic with the
// model's, fed every record the topic holds (policies once, clocks in each
// partition) partition by partition: partitions share nothing but the
// policy, which comes first in each.
func checkLiveHoldResults(ctx context.Context, t *testing.T, cl *e2etest.Cluster, recs map[int32][]topicEvent) {
	t.Helper()
	m := specmodel.New()
	for p := range int32(testPartitions) {
		for _, te := range recs[p] {
			if te.ev.Type == ledger.TypeChannelPolicy && p > 0 {
				continue // the model takes each policy once
			}
			m.ApplyRecord(specmodel.Record{Partition: p, Partitions: testPartitions, Key: te.rec.Key, Value: schemas.AppendEventJSON(nil, &te.ev)})
		}
	}
	want := map[string]int{}
	for _, h := range m.HoldResults() {
		want[keys.ModelHoldResult(&h)]++
	}
	got, err := e2etest.ReadTopics(ctx, cl.Brokers, cl.Topics(), schemas.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for k, n := range want {
		if got.Holds[k] != n {
			t.Errorf("hold result %s: published %d, model %d", k, got.Holds[k], n)
		}
	}
	for k, n := range got.Holds {
		if want[k] == 0 {
			t.Errorf("hold result %s: published %d, model none", k, n)
		}
	}
	for _, h := range m.HoldResults() {
		if h.Status == specmodel.HoldExpired {
			expired++
		}
	}
	if expired != expirySKUs {
		t.Errorf("the model expired %d holds, want %d (every short hold)", expired, expirySKUs)
	}
}

// checkExpiryHistory checks that sku's history shows its short hold
// expired at the first clock of its partition at or past the hold's
// expires_at that comes after the hold.
func checkExpiryHistory(ctx context.Context, t *testing.T, cfg audit.Config, sku string, recs map[int32][]topicEvent) {
	t.Helper()
	want, expiresAt := int64(-1), int64(-1)
	for _, te := range recs[processors.PartitionOf(sku, testPartitions)] {
		switch {
		case te.ev.Type == ledger.TypeHold && te.ev.SKU == sku && te.ev.HoldID == "short":
			expiresAt = te.ev.ExpiresAt
		case te.ev.Type == ledger.TypeClock && expiresAt >= 0 && want < 0 && te.ev.OccurredAt >= expiresAt:
			want = te.rec.Offset
		}
	}
	if want < 0 {
		t.Fatalf("%s: no clock at or past its short hold's expires_at in the topic", sku)
	}
	res, err := audit.History(ctx, cfg, audit.HistoryOptions{SKU: sku})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		for _, h := range r.HoldResults {
			if h.HoldID != "short" || h.Status != ledger.HoldExpired {
				continue
			}
			if r.Offset != want || r.Event.Type != ledger.TypeClock || h.Granted != 0 || h.CauseEventID != r.Event.ID {
				t.Errorf("%s: expiry in history at offset %d (%s %s, granted %d, cause %s), want the clock at offset %d",
					sku, r.Offset, r.Event.Type, r.Event.ID, h.Granted, h.CauseEventID, want)
			}
			return
		}
	}
	t.Errorf("%s: history shows no expiry of its short hold (%d rows)", sku, len(res.Rows))
}
