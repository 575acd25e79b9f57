package processors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestEndToEndSchemaRegistry runs the processor in schema registry mode
// against a Confluent-compatible registry (the real one named by
// STOCKLEDGER_TEST_REGISTRY_URL, Apicurio in make test-kafka; else
// franz-go's in-process fake) and kfake or the real Kafka. Events arrive
// in both framings: Confluent with the registered ids, single-object, and
// receipts written with a newer receipt schema (an added optional field)
// registered as version 2 of its subject after the processor started, plus
// a Confluent header with an id the registry does not have. Outputs must
// match the independent model, be in the Confluent wire format with the
// ids of their subjects, and read back as a third party reads them: the
// schema by id over plain HTTP, then goavro.
func TestEndToEndSchemaRegistry(t *testing.T) {
	n := 30_000
	if testing.Short() {
		n = 8_000
	}
	regURL, realRegistry, stopRegistry := e2etest.SchemaRegistry()
	defer stopRegistry()
	t.Logf("schema registry %s (real: %v)", regURL, realRegistry)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("sr", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics := cl.Topics()

	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, topics, cl.Group, 4
	cfg.MaxCachedSKUs = 300
	cfg.SchemaRegistry.URL = regURL
	st, err := store.Open(filepath.Join(t.TempDir(), "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := processors.New(ctx, cfg, st, schemas.NewRegistry(), prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { runErr <- p.Run(runCtx) }()

	// The producer registers the event schemas as stockledger produce does;
	// then a newer receipt schema arrives as version 2 of its subject (the
	// registry checks it against BACKWARD, which the writers set).
	fr, err := cfg.SchemaRegistry.Connect(ctx, schemas.NewRegistry(), processors.Topics{Events: topics.Events})
	if err != nil {
		t.Fatal(err)
	}
	v2 := newerReceipt(t, ctx, regURL, schemas.EventSubject(topics.Events, ledger.TypeReceipt))

	lines := gen.Stream(gen.Config{Seed: 7, SKUs: 400, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 2}}, n)
	lines = append(lines, []byte("\x00\x7f\xff\xff\xf0a schema id nobody has"))
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	framings := map[string]int{}
	for i, line := range lines {
		var ev ledger.Event
		if r, _ := schemas.ParseEventJSON(line, &ev); r != ledger.ReasonNone {
			continue // not an event: sent raw
		}
		conf, err := fr.EncodeEvent(nil, &ev)
		if err != nil {
			continue // Avro cannot carry it: sent raw
		}
		switch {
		case ev.Type == ledger.TypeReceipt && i%3 == 0:
			wire[i].Value = v2.encode(t, &ev)
			framings["confluent v2"]++
		case i%7 == 0:
			framings["single-object"]++ // as e2etest.Wire made it
		default:
			wire[i].Value = conf
			framings["confluent"]++
		}
	}
	t.Logf("events by framing: %v", framings)
	if framings["confluent v2"] == 0 || framings["single-object"] == 0 {
		t.Fatalf("the stream lacks a framing: %v", framings)
	}
	prod, err := processors.NewEventProducer(ctx, cl.Brokers, topics, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := e2etest.Produce(ctx, prod, wire); err != nil {
		t.Fatal(err)
	}
	exp := e2etest.Expect(lines)
	if exp.Dead["|unknown_schema"] != 1 {
		t.Fatalf("the model expects %d unknown_schema dead letters, want 1", exp.Dead["|unknown_schema"])
	}
	if err := e2etest.WaitStoreCaughtUp(ctx, kadm.NewClient(prod.Client()), topics.Events, st); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("processor: %v", err)
	}

	readReg, err := cfg.SchemaRegistry.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	got, diffs, err := e2etest.CheckAll(ctx, cl, readReg, exp, st, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	t.Logf("model: %d keys, %d alerts, %d dead letters; published %d updates", len(exp.Final), len(exp.Model.Alerts()), len(exp.Model.DeadLetters()), got.Updates)
	checkThirdPartyReads(t, ctx, cl, regURL, readReg, v2.id)
}

// newerSchema is a newer version of an event schema, registered.
type newerSchema struct {
	id    int
	codec *goavro.Codec
}

// newerReceipt registers the current receipt schema plus an optional "lot"
// field as the next version of subject.
func newerReceipt(t *testing.T, ctx context.Context, url, subject string) *newerSchema {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(schemas.EventSchema(ledger.TypeReceipt)), &s); err != nil {
		t.Fatal(err)
	}
	s["fields"] = append(s["fields"].([]any), map[string]any{
		"name": "lot", "type": []any{"null", "string"}, "default": nil, "doc": "Newer: the lot received.",
	})
	text, _ := json.Marshal(s)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: string(text)})
	if err != nil {
		t.Fatalf("registering a newer receipt under %s: %v", subject, err)
	}
	if ss.Version < 2 {
		t.Fatalf("newer receipt registered as version %d of %s", ss.Version, subject)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return &newerSchema{id: ss.ID, codec: codec}
}

// encode writes a receipt with the newer schema, Confluent framed, as
// another team's producer would (goavro, not stockledger's encoder).
func (n *newerSchema) encode(t *testing.T, ev *ledger.Event) []byte {
	t.Helper()
	opt := func(f ledger.Field, s string) any {
		if ev.Has&f == 0 {
			return nil
		}
		return goavro.Union("string", s)
	}
	b := []byte{0, byte(n.id >> 24), byte(n.id >> 16), byte(n.id >> 8), byte(n.id)}
	b, err := n.codec.BinaryFromNative(b, map[string]any{
		"event_id": ev.ID, "sku": ev.SKU, "occurred_at": ev.OccurredAt, "source": opt(ledger.FieldSource, ev.Source),
		"location": ev.Location, "qty": int64(ev.Qty), "po_id": opt(ledger.FieldPOID, ev.POID),
		"lot": goavro.Union("string", "LOT-"+ev.ID),
	})
	if err != nil {
		t.Fatalf("goavro encoding %+v: %v", ev, err)
	}
	return b
}

// checkThirdPartyReads reads every output topic and the events topic as a
// third party: each output record is Confluent framed with the id of its
// subject, and decodes with goavro and the registry's schema to what
// stockledger's decoder reads.
func checkThirdPartyReads(t *testing.T, ctx context.Context, cl *e2etest.Cluster, url string, reg *schemas.Registry, v2ID int) {
	t.Helper()
	topics := cl.Topics()
	src, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	tp := &e2etest.ThirdParty{URL: url}
	tail := processors.TailOptions{FromBeginning: true, ExitAtEnd: true}
	for _, topic := range []string{topics.Updates, topics.Alerts, topics.DeadLetters} {
		latest, err := src.SchemaByVersion(ctx, schemas.ValueSubject(topic), -1)
		if err != nil {
			t.Fatalf("subject %s: %v", schemas.ValueSubject(topic), err)
		}
		n := 0
		err = processors.Tail(ctx, cl.Brokers, topic, tail, func(r *kgo.Record) error {
			n++
			m, id, err := tp.Decode(r.Value)
			if err != nil {
				return fmt.Errorf("%s@%d: %w", topic, r.Offset, err)
			}
			if int(id) != latest.ID {
				return fmt.Errorf("%s@%d: schema id %d, subject %s has %d", topic, r.Offset, id, latest.Subject, latest.ID)
			}
			return sameAsStockledger(topic, topics, reg, r.Value, m)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s: nothing published", topic)
		}
		t.Logf("%s: %d records read by the third party (schema id %d)", topic, n, latest.ID)
	}
	// The events topic too: Confluent-framed events (current and newer
	// receipts) read with the registry's schemas.
	var confluent, newer int
	err = processors.Tail(ctx, cl.Brokers, topics.Events, tail, func(r *kgo.Record) error {
		if len(r.Value) < 5 || r.Value[0] != 0 || r.Value[1] == 0x7f {
			return nil // single-object, raw, or the id nobody has
		}
		m, id, err := tp.Decode(r.Value)
		if err != nil {
			return fmt.Errorf("events@%d: %w", r.Offset, err)
		}
		confluent++
		if int(id) == v2ID {
			newer++
			if lot, _ := m["lot"].(map[string]any); lot == nil || lot["string"] != "LOT-"+fmt.Sprint(m["event_id"]) {
				return fmt.Errorf("events@%d: newer receipt without its lot: %v", r.Offset, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if confluent == 0 || newer == 0 {
		t.Errorf("events read by the third party: %d Confluent framed, %d newer receipts", confluent, newer)
	}
	t.Logf("events: %d Confluent-framed read by the third party (%d newer receipts); %d schemas fetched by id", confluent, newer, tp.Fetches)
}

func join(v ...any) string {
	s := ""
	for _, x := range v {
		s += fmt.Sprintf("%v|", x)
	}
	return s
}

// sameAsStockledger compares a third party's reading m of an output with
// stockledger's own decoder.
func sameAsStockledger(topic string, topics processors.Topics, reg *schemas.Registry, b []byte, m map[string]any) error {
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case map[string]any:
			s, _ := v["string"].(string)
			return s
		}
		return ""
	}
	long := func(k string) int64 {
		switch v := m[k].(type) {
		case int64:
			return v
		case time.Time:
			return v.UnixMicro()
		case map[string]any:
			l, _ := v["long"].(int64)
			return l
		}
		return -1
	}
	var want, have string
	switch topic {
	case topics.Updates:
		var u ledger.Update
		if err := reg.DecodeUpdate(b, &u); err != nil {
			return err
		}
		want = join(u.Channel, u.SKU, int64(u.Available), int64(u.Version), u.CauseEventID, u.OccurredAt)
		have = join(str("channel"), str("sku"), long("available"), long("version"), str("cause_event_id"), long("occurred_at"))
	case topics.Alerts:
		var a ledger.Alert
		if err := reg.DecodeAlert(b, &a); err != nil {
			return err
		}
		want = join(a.Kind, a.SKU, int64(a.Version), a.CauseEventID)
		have = join(str("kind"), str("sku"), long("version"), str("cause_event_id"))
	case topics.DeadLetters:
		var d schemas.DeadLetter
		if err := reg.DecodeDeadLetter(b, &d); err != nil {
			return err
		}
		orig, _ := m["original"].([]byte)
		want = join(d.Reason, d.Offset, d.EventID, len(d.Original))
		have = join(str("reason"), long("offset"), str("event_id"), len(orig))
	}
	if want != have {
		return fmt.Errorf("%s: third party read %q, stockledger %q", topic, have, want)
	}
	return nil
}

// TestSchemaRegistryOutage: while the registry cannot be asked, events
// whose schema id the processor has not seen are not dead letters: the
// processor stops folding (as on a store failure: not ready, the batch
// not committed) and retries; once the registry answers, every event is
// applied and the outputs match the model. Always franz-go's fake: the
// test controls its outage.
func TestSchemaRegistryOutage(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	var down atomic.Bool
	var refused atomic.Int64
	fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if down.Load() && strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			refused.Add(1)
			http.Error(w, `{"error_code":50001,"message":"registry down"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("sr-outage", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics := cl.Topics()
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.Partitions = cl.Brokers, topics, cl.Group, 4
	cfg.SchemaRegistry.URL = fake.URL()
	cfg.StoreRetryInterval = 200 * time.Millisecond
	st, err := store.Open(filepath.Join(t.TempDir(), "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := processors.New(ctx, cfg, st, schemas.NewRegistry(), prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { runErr <- p.Run(runCtx) }()
	v2 := newerReceipt(t, ctx, fake.URL(), schemas.EventSubject(topics.Events, ledger.TypeReceipt))
	down.Store(true)

	lines := gen.Stream(gen.Config{Seed: 9, SKUs: 100, DupPct: 3, RefusePct: 3, Zipf: 1.1}, 3000)
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	newer := 0
	for i, line := range lines {
		var ev ledger.Event
		if r, _ := schemas.ParseEventJSON(line, &ev); r == ledger.ReasonNone && ev.Type == ledger.TypeReceipt && wire[i].Value[0] == 0xC3 {
			wire[i].Value = v2.encode(t, &ev)
			newer++
		}
	}
	prod, err := processors.NewEventProducer(ctx, cl.Brokers, topics, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := e2etest.Produce(ctx, prod, wire); err != nil {
		t.Fatal(err)
	}
	// Wait until the processor has asked the down registry a few times
	// (it retries), then bring the registry back.
	for refused.Load() < 3 {
		select {
		case <-ctx.Done():
			t.Fatal("the processor never asked the registry")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if p.Ready() {
		t.Error("ready while the registry cannot be asked")
	}
	down.Store(false)
	if err := e2etest.WaitStoreCaughtUp(ctx, kadm.NewClient(prod.Client()), topics.Events, st); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("processor: %v", err)
	}
	readReg, err := cfg.SchemaRegistry.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	_, diffs, err := e2etest.CheckAll(ctx, cl, readReg, e2etest.Expect(lines), st, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	t.Logf("%d newer receipts; the registry refused %d lookups while down", newer, refused.Load())
}
