package schemas

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/stockledger/stockledger/ledger"
)

// Schema registry mode against franz-go's in-process fake registry
// (srfake, a real HTTP server): what is written is checked by decoding it
// the way a third party would, with goavro and the schema the registry
// returns for the id in the header.

var testTopics = RegistryTopics{Events: "t.events", Updates: "t.updates", Alerts: "t.alerts", DeadLetters: "t.dead-letters", HoldResults: "t.hold-results", Listings: "t.listings"}

// fakeRegistry starts srfake and counts the schema-by-id requests it serves.
func fakeRegistry(t *testing.T, opts ...srfake.Option) (*srfake.Registry, *atomic.Int64) {
	t.Helper()
	fake := srfake.New(opts...)
	t.Cleanup(fake.Close)
	var byID atomic.Int64
	fake.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			byID.Add(1)
		}
		return false
	})
	return fake, &byID
}

func newClient(t *testing.T, url string) *RegistryClient {
	t.Helper()
	cl, err := NewRegistryClient(RegistryClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// writerSetup registers the current schemas in fake as a writer does and
// returns the writer's registry and framing.
func writerSetup(t *testing.T, fake *srfake.Registry) (*Registry, *Framing) {
	t.Helper()
	cl := newClient(t, fake.URL())
	reg := NewRegistry()
	reg.UseSchemaLookup(cl, 0)
	f, err := cl.Register(context.Background(), reg, testTopics)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return reg, f
}

// confluentID splits a Confluent-framed message.
func confluentID(t *testing.T, b []byte) (uint32, []byte) {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("not Confluent framed: % x", b[:min(len(b), 8)])
	}
	return binary.BigEndian.Uint32(b[1:]), b[5:]
}

// thirdParty decodes a Confluent-framed message as a tool would: the
// schema by id from the registry's HTTP API, then goavro.
func thirdParty(t *testing.T, url string, b []byte) (map[string]any, sr.Schema) {
	t.Helper()
	id, body := confluentID(t, b)
	cl, _ := sr.NewClient(sr.URLs(url))
	s, err := cl.SchemaByID(context.Background(), int(id))
	if err != nil {
		t.Fatalf("schema id %d: %v", id, err)
	}
	codec, err := goavro.NewCodec(s.Schema)
	if err != nil {
		t.Fatal(err)
	}
	native, rest, err := codec.NativeFromBinary(body)
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro: %v (%d bytes left)", err, len(rest))
	}
	return native.(map[string]any), s
}

// TestConfluentRegisterSubjects: every current schema is registered under
// the documented subject with compatibility BACKWARD, and registering again
// (a restart) gives the same ids.
func TestConfluentRegisterSubjects(t *testing.T) {
	fake, _ := fakeRegistry(t)
	_, f := writerSetup(t, fake)
	want := map[string]string{
		"t.updates-value":      UpdateSchema(),
		"t.alerts-value":       AlertSchema(),
		"t.dead-letters-value": DeadLetterSchema(),
		"t.hold-results-value": HoldResultSchema(),
		"t.listings-value":     ListingBindingSchema(),
	}
	for _, typ := range ledger.EventTypes() {
		want[EventSubject("t.events", typ)] = EventSchema(typ)
	}
	if got := EventSubject("t.events", ledger.TypeReceipt); got != "t.events-stockledger.events.Receipt" {
		t.Errorf("receipt subject %q", got)
	}
	cl, _ := sr.NewClient(sr.URLs(fake.URL()))
	ctx := context.Background()
	for subject, text := range want {
		ss, ok := fake.GetSchema(subject, 1)
		if !ok {
			t.Fatalf("subject %s not registered", subject)
		}
		fpGot, err1 := Fingerprint(ss.Schema.Schema)
		fpWant, err2 := Fingerprint(text)
		if err1 != nil || err2 != nil || fpGot != fpWant {
			t.Errorf("subject %s holds another schema (%v %v)", subject, err1, err2)
		}
		res := cl.Compatibility(ctx, subject)
		if res[0].Err != nil || res[0].Level != sr.CompatBackward {
			t.Errorf("subject %s: compatibility %v (%v)", subject, res[0].Level, res[0].Err)
		}
	}
	_, f2 := writerSetup(t, fake)
	if !reflect.DeepEqual(f, f2) {
		t.Errorf("registering again changed the ids: %+v vs %+v", f, f2)
	}
}

// TestConfluentEventsRoundTrip: events framed with the registered ids carry
// the single-object body, decode in goavro with the registry's schema, and
// decode here, from a reader that must ask the registry once per id.
func TestConfluentEventsRoundTrip(t *testing.T) {
	fake, byID := fakeRegistry(t)
	_, f := writerSetup(t, fake)
	reader := NewRegistry()
	reader.UseSchemaLookup(newClient(t, fake.URL()), 0)
	dec := reader.NewDecoder(DecoderConfig{})
	rng := rand.New(rand.NewPCG(testSeed(t), 11))
	ids := map[uint32]bool{}
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		for range 50 {
			ev := randomEvent(rng, typ, sf)
			b, err := f.EncodeEvent(nil, &ev)
			if err != nil {
				t.Fatal(err)
			}
			soe, _ := EncodeEvent(nil, &ev)
			id, body := confluentID(t, b)
			ids[id] = true
			if !bytes.Equal(body, soe[soeHeaderLen:]) {
				t.Fatalf("%s: Confluent body differs from the single-object body", typ)
			}
			native, s := thirdParty(t, fake.URL(), b)
			if fp, _ := Fingerprint(s.Schema); fp != mustFP(t, EventSchema(typ)) {
				t.Fatalf("%s: id %d is another schema", typ, id)
			}
			sameEvent(t, typ.String()+" via goavro", nativeEvent(typ, native), ev)
			var got ledger.Event
			if r, d, err := dec.Decode(b, &got); r != ledger.ReasonNone || err != nil {
				t.Fatalf("%s: %s %s (%v)", typ, r, d, err)
			}
			sameEvent(t, typ.String(), got, ev)
		}
	}
	// The reader asked once per id (thirdParty's own requests aside).
	if n := byID.Load(); n != int64(len(ids))+int64(len(ids))*50 {
		t.Errorf("%d schema-by-id requests for %d ids", n, len(ids))
	}
}

func mustFP(t *testing.T, text string) uint64 {
	t.Helper()
	fp, err := Fingerprint(text)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestConfluentOutputs: updates, alerts, dead letters and hold results framed with the
// registered ids decode in goavro with the registry's schema to the same
// values as their single-object form, and through the tail decoders.
func TestConfluentOutputs(t *testing.T) {
	fake, _ := fakeRegistry(t)
	reg, f := writerSetup(t, fake)
	rng := rand.New(rand.NewPCG(testSeed(t), 12))
	check := func(what string, conf, soe []byte, subject string) {
		t.Helper()
		id, body := confluentID(t, conf)
		if !bytes.Equal(body, soe[soeHeaderLen:]) {
			t.Fatalf("%s: body differs from the single-object body", what)
		}
		ss, _ := fake.GetSchema(subject, 1)
		if uint32(ss.ID) != id {
			t.Fatalf("%s: id %d, subject %s has %d", what, id, subject, ss.ID)
		}
		native, _ := thirdParty(t, fake.URL(), conf)
		want, _, err := reg.lookup(binary.LittleEndian.Uint64(soe[2:])).codec.NativeFromBinary(soe[soeHeaderLen:])
		if err != nil || !reflect.DeepEqual(native, want) {
			t.Fatalf("%s: goavro read\n%v\nwant\n%v (%v)", what, native, want, err)
		}
	}
	for range 200 {
		u := randomUpdate(rng)
		b := f.AppendUpdate(nil, &u)
		check("update", b, AppendUpdate(nil, &u), "t.updates-value")
		var u2 ledger.Update
		if err := reg.DecodeUpdate(b, &u2); err != nil || u2 != u {
			t.Fatalf("DecodeUpdate: %v %+v", err, u2)
		}
		a := randomAlert(rng)
		b = f.AppendAlert(nil, &a)
		check("alert", b, AppendAlert(nil, &a), "t.alerts-value")
		var a2 ledger.Alert
		if err := reg.DecodeAlert(b, &a2); err != nil || a2 != a {
			t.Fatalf("DecodeAlert: %v %+v", err, a2)
		}
		d := randomDeadLetter(rng)
		b = f.AppendDeadLetter(nil, &d)
		check("dead letter", b, AppendDeadLetter(nil, &d), "t.dead-letters-value")
		if _, err := reg.AppendMessageJSON(nil, b); err != nil {
			t.Fatalf("AppendMessageJSON: %v", err)
		}
		h := randomHoldResult(rng)
		b = f.AppendHoldResult(nil, &h)
		check("hold result", b, AppendHoldResult(nil, &h), "t.hold-results-value")
		var h2 ledger.HoldResult
		if err := reg.DecodeHoldResult(b, &h2); err != nil || h2 != h {
			t.Fatalf("DecodeHoldResult: %v %+v", err, h2)
		}
		lb := randomListingBinding(rng)
		b = f.AppendListingBinding(nil, &lb)
		check("listing binding", b, AppendListingBinding(nil, &lb), "t.listings-value")
		var lb2 ListingBinding
		if err := reg.DecodeListingBinding(b, &lb2); err != nil || lb2 != lb {
			t.Fatalf("DecodeListingBinding: %v %+v", err, lb2)
		}
	}
	var nilF *Framing
	u := randomUpdate(rng)
	if !bytes.Equal(nilF.AppendUpdate(nil, &u), AppendUpdate(nil, &u)) || nilF.Confluent() {
		t.Error("a nil Framing must write single-object encoding")
	}
}

// TestConfluentEvolution: a newer receipt (optional and unknown fields
// added, po_id moved) registered as version 2 of the receipt subject is
// decoded by a reader that has never seen it, after one lookup.
func TestConfluentEvolution(t *testing.T) {
	fake, byID := fakeRegistry(t)
	writerSetup(t, fake)
	sf := loadSchemaFile(t, "testdata/receipt_v2.avsc")
	subject := EventSubject(testTopics.Events, ledger.TypeReceipt)
	id2, v2, err := fake.RegisterSchema(subject, sr.Schema{Schema: sf.text})
	if err != nil || v2 != 2 {
		t.Fatalf("registering v2: id %d version %d: %v", id2, v2, err)
	}
	body, err := sf.codec.BinaryFromNative(nil, map[string]any{
		"event_id": "r-9", "lot": goavro.Union("string", "L1"), "sku": "TEE", "occurred_at": int64(1_700_000_000_000_001),
		"source": nil, "carrier": nil, "location": "dc", "po_id": goavro.Union("string", "PO-7"),
		"temperature": float32(3), "qty": int64(12), "labels": map[string]any{"k": "v"}, "ok": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := append(appendConfluentHeader(nil, uint32(id2)), body...)
	reader := NewRegistry()
	reader.UseSchemaLookup(newClient(t, fake.URL()), 0)
	dec := reader.NewDecoder(DecoderConfig{})
	want := ledger.Event{ID: "r-9", SKU: "TEE", OccurredAt: 1_700_000_000_000_001, Location: "dc", Qty: 12, POID: "PO-7",
		Type: ledger.TypeReceipt, Has: commonHas | ledger.FieldLocation | ledger.FieldQty | ledger.FieldPOID}
	before := byID.Load()
	for range 3 {
		var got ledger.Event
		if r, d, err := dec.Decode(msg, &got); r != ledger.ReasonNone || err != nil {
			t.Fatalf("%s: %s (err %v)", r, d, err)
		}
		sameEvent(t, "receipt v2", got, want)
	}
	if n := byID.Load() - before; n != 1 {
		t.Errorf("%d lookups of the new id, want 1", n)
	}
}

// TestConfluentBadInput: what becomes a dead letter, with which reason,
// and what is an operating failure instead.
func TestConfluentBadInput(t *testing.T) {
	fake, byID := fakeRegistry(t)
	_, f := writerSetup(t, fake)
	protoID, _, err := fake.RegisterSchema("proto-value", sr.Schema{Schema: `syntax = "proto3"; message M { string a = 1; }`, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	ev := ledger.Event{Type: ledger.TypeReceipt, ID: "r", SKU: "S", OccurredAt: 1, Location: "dc", Qty: 1,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation | ledger.FieldQty}
	good, _ := f.EncodeEvent(nil, &ev)
	_, body := confluentID(t, good)
	withID := func(id uint32) []byte { return append(appendConfluentHeader(nil, id), body...) }
	u := ledger.Update{Channel: "web", SKU: "S"}
	update := f.AppendUpdate(nil, &u)

	reader := NewRegistry()
	reader.UseSchemaLookup(newClient(t, fake.URL()), 0)
	noRegistry := NewRegistry()
	for _, tc := range []struct {
		name   string
		reg    *Registry
		msg    []byte
		reason ledger.Reason
		detail string
	}{
		{"short header", reader, []byte{0, 0, 1}, ledger.ReasonUndecodable, "shorter than a Confluent header"},
		{"unknown id", reader, withID(999_999), ledger.ReasonUnknownSchema, "schema id 999999 is not in the schema registry"},
		{"protobuf id", reader, withID(uint32(protoID)), ledger.ReasonUnknownSchema, "PROTOBUF schema, not Avro"},
		{"an update on the events topic", reader, update, ledger.ReasonUnknownType, "is not an event type"},
		{"truncated body", reader, good[:len(good)-1], ledger.ReasonUndecodable, ""},
		{"trailing bytes", reader, append(append([]byte(nil), good...), 0), ledger.ReasonUndecodable, "bytes after the end"},
		{"no registry configured", noRegistry, good, ledger.ReasonUnknownSchema, "no schema registry is configured"},
		{"neither framing", reader, []byte{7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, ledger.ReasonUndecodable, "nor the Confluent magic byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := tc.reg.NewDecoder(DecoderConfig{})
			var got ledger.Event
			r, d, err := dec.Decode(tc.msg, &got)
			if r != tc.reason || !strings.Contains(d, tc.detail) || err != nil {
				t.Fatalf("got %s %q (err %v), want %s containing %q", r, d, err, tc.reason, tc.detail)
			}
			if r2, d2, err := tc.reg.DecodeEvent(tc.msg, &got); r2 != r || d2 != d || err != nil {
				t.Fatalf("Registry.DecodeEvent says %s %q (err %v)", r2, d2, err)
			}
		})
	}
	// An id the registry lacks is remembered: a flood of them is not a
	// flood of requests.
	before := byID.Load()
	dec := reader.NewDecoder(DecoderConfig{})
	for range 100 {
		var got ledger.Event
		if r, _, err := dec.Decode(withID(999_999), &got); r != ledger.ReasonUnknownSchema || err != nil {
			t.Fatalf("a missing id: %s (err %v)", r, err)
		}
	}
	if n := byID.Load() - before; n != 0 {
		t.Errorf("%d more lookups of a missing id", n)
	}
}

// TestConfluentRegistryDown: a registry that cannot be asked is an
// operating error (returned by Decode and DecodeEvent), not a verdict on
// the event; once it answers again the same message decodes.
func TestConfluentRegistryDown(t *testing.T) {
	fake, _ := fakeRegistry(t)
	_, f := writerSetup(t, fake)
	ev := ledger.Event{Type: ledger.TypeShipment, ID: "s", SKU: "S", OccurredAt: 1, Location: "dc", Qty: 1,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation | ledger.FieldQty}
	msg, err := f.EncodeEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	down.Store(true)
	fake.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		if down.Load() {
			http.Error(w, `{"error_code":50001,"message":"down for maintenance"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	reader := NewRegistry()
	reader.UseSchemaLookup(newClient(t, fake.URL()), 0)
	dec := reader.NewDecoder(DecoderConfig{})
	var got ledger.Event
	r, d, err := dec.Decode(msg, &got)
	if r != ledger.ReasonUnknownSchema || err == nil || !strings.Contains(err.Error(), "down for maintenance") {
		t.Fatalf("registry down: %s %q err %v", r, d, err)
	}
	if _, _, err := reader.DecodeEvent(msg, &got); err == nil || !strings.Contains(err.Error(), "down for maintenance") {
		t.Fatalf("registry down: Registry.DecodeEvent err %v", err)
	}
	// A single-object message still decodes.
	soe, _ := EncodeEvent(nil, &ev)
	if r, _, err := dec.Decode(soe, &got); r != ledger.ReasonNone || err != nil {
		t.Fatalf("single-object while the registry is down: %s %v", r, err)
	}
	down.Store(false)
	if r, d, err := dec.Decode(msg, &got); r != ledger.ReasonNone || err != nil {
		t.Fatalf("registry back: %s %q %v", r, d, err)
	}
	sameEvent(t, "shipment", got, ev)
	// A writer cannot start without the registry.
	down.Store(true)
	if _, err := newClient(t, fake.URL()).Register(context.Background(), NewRegistry(), testTopics); err == nil {
		t.Fatal("Register succeeded with the registry down")
	}
}

// TestConfluentBasicAuth: credentials reach the registry; wrong ones stop
// a writer from starting.
func TestConfluentBasicAuth(t *testing.T) {
	fake, _ := fakeRegistry(t, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte("ledger:s3cret"))))
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{{"ledger", "s3cret", true}, {"ledger", "wrong", false}, {"", "", false}} {
		cl, err := NewRegistryClient(RegistryClientConfig{URL: fake.URL(), Username: tc.user, Password: tc.pass})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Register(context.Background(), NewRegistry(), RegistryTopics{Updates: "t.updates"})
		if (err == nil) != tc.ok {
			t.Errorf("user %q password %q: err %v", tc.user, tc.pass, err)
		}
	}
}
