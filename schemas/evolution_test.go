package schemas

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

// Schema evolution: messages written by goavro with other versions of an
// event schema (testdata/) decode onto the current one by field name.

func registerTestdata(t *testing.T, reg *Registry, file string) *schemaFile {
	t.Helper()
	sf := loadSchemaFile(t, "testdata/"+file)
	fp, err := reg.Register(sf.text)
	if err != nil {
		t.Fatalf("Register %s: %v", file, err)
	}
	if !bytes.Equal(headerFP(fp), sf.header) {
		t.Fatalf("Register %s: fingerprint %x, fastavro says %x", file, headerFP(fp)[2:], sf.header[2:])
	}
	return sf
}

func encodeWith(t *testing.T, sf *schemaFile, native map[string]any) []byte {
	t.Helper()
	b, err := sf.single(native)
	if err != nil {
		t.Fatalf("goavro encode: %v", err)
	}
	return b
}

func decodeBoth(t *testing.T, reg *Registry, b []byte) (ledger.Event, ledger.Reason, string) {
	t.Helper()
	var a, c ledger.Event
	r1, d1, err1 := reg.DecodeEvent(b, &a)
	dec := reg.NewDecoder(DecoderConfig{})
	r2, d2, err2 := dec.Decode(b, &c)
	if r1 != r2 || d1 != d2 || err1 != nil || err2 != nil {
		t.Fatalf("Registry says %s %q (err %v), Decoder %s %q (err %v)", r1, d1, err1, r2, d2, err2)
	}
	checkPeek(t, dec, b, r2, &c)
	sameEvent(t, "Registry vs Decoder", a, c)
	return a, r1, d1
}

const commonHas = ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt

// TestEvolutionNewerWriter: a newer receipt adds fields (one a nested,
// recursive record with an enum, a fixed and a map) and reorders po_id.
func TestEvolutionNewerWriter(t *testing.T) {
	reg := NewRegistry()
	sf := registerTestdata(t, reg, "receipt_v2.avsc")
	carrier := map[string]any{
		"name": "DHL", "tracking": []any{"T1", "T2"}, "kind": "PARCEL", "seal": []byte("abcd"),
		"extra": map[string]any{
			"weight": goavro.Union("double", 12.5),
			"none":   nil,
			"sub": goavro.Union("stockledger.events.Carrier", map[string]any{
				"name": "UPS", "tracking": []any{}, "kind": "TRUCK", "seal": []byte("wxyz"), "extra": map[string]any{},
			}),
		},
	}
	for _, tc := range []struct {
		name    string
		carrier any
		poID    any
		want    ledger.Event
	}{
		{"with new fields", goavro.Union("stockledger.events.Carrier", carrier), goavro.Union("string", "PO-1"),
			ledger.Event{ID: "r-1", SKU: "TEE", OccurredAt: 1_700_000_000_123_456, Location: "dc", Qty: 7, POID: "PO-1",
				Type: ledger.TypeReceipt, Has: commonHas | ledger.FieldLocation | ledger.FieldQty | ledger.FieldPOID}},
		{"new fields null", nil, nil,
			ledger.Event{ID: "r-1", SKU: "TEE", OccurredAt: 1_700_000_000_123_456, Location: "dc", Qty: 7,
				Type: ledger.TypeReceipt, Has: commonHas | ledger.FieldLocation | ledger.FieldQty}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeWith(t, sf, map[string]any{
				"event_id": "r-1", "lot": goavro.Union("string", "L9"), "sku": "TEE",
				"occurred_at": int64(1_700_000_000_123_456), "source": nil, "carrier": tc.carrier,
				"location": "dc", "po_id": tc.poID, "temperature": float32(4.5), "qty": int64(7),
				"labels": map[string]any{"a": "b"}, "ok": false,
			})
			got, r, d := decodeBoth(t, reg, b)
			if r != ledger.ReasonNone {
				t.Fatalf("%s: %s", r, d)
			}
			sameEvent(t, "newer receipt", got, tc.want)
		})
	}
	// Mutations of newer messages: the skip paths agree with goavro too.
	rng := rand.New(rand.NewPCG(testSeed(t), 4))
	withGoavroLimits(t)
	good := encodeWith(t, sf, map[string]any{
		"event_id": "r-1", "lot": nil, "sku": "TEE", "occurred_at": int64(5), "source": goavro.Union("string", "wms"),
		"carrier": goavro.Union("stockledger.events.Carrier", carrier), "location": "dc", "po_id": nil,
		"temperature": float32(1), "qty": int64(3), "labels": map[string]any{"x": "y", "z": ""}, "ok": true,
	})
	var ev ledger.Event
	decoded := 0
	for range 5000 {
		b := mutate(rng, append([]byte(nil), good...))
		if checkAgainstGoavro(t, reg, sf, ledger.TypeReceipt, b, &ev) {
			decoded++
		}
	}
	t.Logf("%d of 5000 mutated newer receipts decoded", decoded)
}

// TestEvolutionOlderWriter: older versions lack fields; the current
// schema's defaults apply (null: absent; resellable true;
// unavailable_delta 0), and int and bytes promote to long and string.
func TestEvolutionOlderWriter(t *testing.T) {
	reg := NewRegistry()
	for _, tc := range []struct {
		file   string
		native map[string]any
		want   ledger.Event
	}{
		{"return_v0.avsc",
			map[string]any{"event_id": "ret-1", "sku": "TEE", "occurred_at": int64(9), "location": "store", "qty": int64(2)},
			ledger.Event{Type: ledger.TypeReturn, ID: "ret-1", SKU: "TEE", OccurredAt: 9, Location: "store", Qty: 2, Resellable: true,
				Has: commonHas | ledger.FieldLocation | ledger.FieldQty | ledger.FieldResellable}},
		{"order_v0.avsc",
			map[string]any{"event_id": "o-1", "sku": "TEE", "occurred_at": int64(9), "source": nil, "channel": "web", "order_id": "W-1", "qty": int32(-3)},
			ledger.Event{Type: ledger.TypeOrder, ID: "o-1", SKU: "TEE", OccurredAt: 9, Channel: "web", OrderID: "W-1", Qty: -3,
				Has: commonHas | ledger.FieldChannel | ledger.FieldOrderID | ledger.FieldQty}},
		{"adjustment_v0.avsc",
			map[string]any{"event_id": "a-1", "sku": "TEE", "occurred_at": int64(9), "location": "dc", "on_hand_delta": int64(-4), "reason": []byte("damaged")},
			ledger.Event{Type: ledger.TypeAdjustment, ID: "a-1", SKU: "TEE", OccurredAt: 9, Location: "dc", OnHandDelta: -4, Reason: "damaged",
				Has: commonHas | ledger.FieldLocation | ledger.FieldOnHandDelta | ledger.FieldUnavailableDelta | ledger.FieldReason}},
		{"sku_policy_int.avsc",
			map[string]any{"event_id": "p-1", "sku": "TEE", "occurred_at": int64(9), "safety_stock": map[string]any{"dc": int32(4)}, "reorder_point": goavro.Union("int", int32(10))},
			ledger.Event{Type: ledger.TypeSKUPolicy, ID: "p-1", SKU: "TEE", OccurredAt: 9, SafetyStock: []ledger.LocQty{{Location: "dc", Qty: 4}}, ReorderPoint: 10,
				Has: commonHas | ledger.FieldSafetyStock | ledger.FieldReorderPoint}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sf := registerTestdata(t, reg, tc.file)
			got, r, d := decodeBoth(t, reg, encodeWith(t, sf, tc.native))
			if r != ledger.ReasonNone {
				t.Fatalf("%s: %s", r, d)
			}
			sameEvent(t, tc.file, got, tc.want)
			if r, d := ledger.Validate(&got); tc.file != "order_v0.avsc" && r != ledger.ReasonNone {
				t.Errorf("the decoded event does not validate: %s %s", r, d)
			}
		})
	}
}

// TestEvolutionIncompatibleTypes: a writer type the ledger field cannot
// hold is invalid_field, unless a field checked earlier fails first.
func TestEvolutionIncompatibleTypes(t *testing.T) {
	reg := NewRegistry()
	sf := registerTestdata(t, reg, "shipment_badtype.avsc")
	base := func() map[string]any {
		return map[string]any{"event_id": "s-1", "sku": "TEE", "occurred_at": int64(1), "location": "dc", "qty": 2.0, "order_id": nil}
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		reason ledger.Reason
		detail string
	}{
		{"qty double", func(map[string]any) {}, ledger.ReasonInvalidField, "qty has writer type double"},
		{"earlier bad sku wins", func(m map[string]any) { m["sku"] = " TEE" }, ledger.ReasonInvalidField, `sku " TEE"`},
		{"earlier bad location wins", func(m map[string]any) { m["location"] = "" }, ledger.ReasonInvalidField, `location ""`},
		{"order_id long branch after qty", func(m map[string]any) { m["order_id"] = goavro.Union("long", int64(5)) }, ledger.ReasonInvalidField, "qty has writer type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.change(m)
			_, r, d := decodeBoth(t, reg, encodeWith(t, sf, m))
			if r != tc.reason || !strings.Contains(d, tc.detail) {
				t.Fatalf("got %s %q, want %s containing %q", r, d, tc.reason, tc.detail)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	reg := NewRegistry()
	if _, err := reg.Register(`{"type":"record"`); err == nil {
		t.Error("bad JSON registered")
	}
	if _, err := reg.Register(`{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`); err == nil {
		t.Error("unknown type registered")
	}
	sf := registerTestdata(t, reg, "not_an_event.avsc")
	if fp, err := reg.Register(sf.text); err != nil || !bytes.Equal(headerFP(fp), sf.header) {
		t.Errorf("registering again: %x %v", fp, err)
	}
	b := encodeWith(t, sf, map[string]any{"event_id": "h-1", "at": int64(3)})
	if _, r, d := decodeBoth(t, reg, b); r != ledger.ReasonUnknownType || !strings.Contains(d, "stockledger.events.Heartbeat") {
		t.Errorf("not an event: %s %s", r, d)
	}
	fp, err := reg.Register(`"string"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, r, _ := decodeBoth(t, reg, append(headerFP(fp), 2, 'x')); r != ledger.ReasonUnknownType {
		t.Errorf("a string schema: %s", r)
	}
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		if !reg.Known(binary.LittleEndian.Uint64(sf.header[2:])) || !reg.Known(sf.codec.Rabin) {
			t.Errorf("%s: current schema not registered under both fingerprints", typ)
		}
		if fp, err := Fingerprint(EventSchema(typ)); err != nil || !bytes.Equal(headerFP(fp), sf.header) {
			t.Errorf("%s: Fingerprint %x %v", typ, fp, err)
		}
	}
}
