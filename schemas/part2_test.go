package schemas

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

// Part 2 of the contract (holds, listings, overrides, replenishment): what
// part 1's writers wrote still decodes, and the new fields read and render
// in both forms.

// part1Versions are the schemas part 2 changed, as part 1 wrote them.
var part1Versions = map[ledger.EventType]string{
	ledger.TypeOrder:          "order_v1.avsc",
	ledger.TypeOrderCancelled: "order_cancelled_v1.avsc",
	ledger.TypePOSSale:        "pos_sale_v1.avsc",
	ledger.TypeReturn:         "return_v1.avsc",
	ledger.TypeChannelPolicy:  "channel_policy_v1.avsc",
	ledger.TypeSKUPolicy:      "sku_policy_v1.avsc",
}

// part2Fields are the fields part 2 added to existing event types.
const part2Fields = ledger.FieldHoldID | ledger.FieldListingSKU | ledger.FieldEndAt | ledger.FieldLeadTimeDays

// TestEvolutionPart1Writers: events written by goavro with part 1's
// schemas decode onto part 2's, every field as written and the new ones
// absent, and validate as they did.
func TestEvolutionPart1Writers(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 21))
	reg := NewRegistry()
	for typ, file := range part1Versions {
		sf := registerTestdata(t, reg, file)
		for range 200 {
			want := randomEvent(rng, typ, sf)
			got, r, d := decodeBoth(t, reg, encodeWith(t, sf, eventNative(&want, sf)))
			if r != ledger.ReasonNone {
				t.Fatalf("%s: %s %s", file, r, d)
			}
			if got.Has&part2Fields != 0 || got.Has&ledger.FieldSKU == 0 && typ != ledger.TypeChannelPolicy {
				t.Fatalf("%s: fields %b present", file, got.Has)
			}
			sameEvent(t, file, got, want)
		}
	}
	// A part 1 order, as the worked examples write it.
	sf := loadSchemaFile(t, "testdata/order_v1.avsc")
	b := encodeWith(t, sf, map[string]any{"event_id": "o1", "sku": "TEE", "occurred_at": int64(1_795_773_600_000_000),
		"source": nil, "channel": "web", "order_id": "W-1", "qty": int64(3), "location": nil})
	got, r, d := decodeBoth(t, reg, b)
	want := ledger.Event{Type: ledger.TypeOrder, ID: "o1", SKU: "TEE", OccurredAt: 1_795_773_600_000_000, Channel: "web", OrderID: "W-1", Qty: 3,
		Has: commonHas | ledger.FieldChannel | ledger.FieldOrderID | ledger.FieldQty}
	if r != ledger.ReasonNone {
		t.Fatalf("%s %s", r, d)
	}
	sameEvent(t, "part 1 order", got, want)
	if r, d := ledger.Validate(&got); r != ledger.ReasonNone {
		t.Errorf("a part 1 order does not validate: %s %s", r, d)
	}
}

// TestEvolutionPart1Outputs: updates and alerts written with part 1's
// schemas still read with the tail decoders (no listing, none of the new
// alert fields).
func TestEvolutionPart1Outputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 22))
	reg := NewRegistry()
	updates := registerTestdata(t, reg, "channel_stock_update_v1.avsc")
	alerts := registerTestdata(t, reg, "alert_v1.avsc")
	part1Alert := ledger.AlertHasReorderPoint<<1 - 1
	for range 300 {
		u := randomUpdate(rng)
		u.ListingSKU = ""
		native := updateNative(&u)
		delete(native, "listing_sku")
		var u2 ledger.Update
		if err := reg.DecodeUpdate(encodeWith(t, updates, native), &u2); err != nil || u2 != u {
			t.Fatalf("part 1 update: %v\n got %+v\nwant %+v", err, u2, u)
		}
		a := randomAlert(rng)
		if k := a.Kind; k == ledger.AlertReorderDue || k == ledger.AlertTransferShort {
			a.Kind = ledger.AlertLowStock
		}
		a.Has &= part1Alert
		a.TransferID, a.Expected, a.Received, a.Short, a.Projected, a.Sold28, a.DaysOfCover, a.LeadTimeDays = "", 0, 0, 0, 0, 0, 0, 0
		native = alertNative(&a)
		for _, k := range []string{"transfer_id", "expected", "received", "short", "projected", "sold28", "days_of_cover", "lead_time_days"} {
			delete(native, k)
		}
		b := encodeWith(t, alerts, native)
		var a2 ledger.Alert
		if err := reg.DecodeAlert(b, &a2); err != nil || a2 != a {
			t.Fatalf("part 1 alert: %v\n got %+v\nwant %+v", err, a2, a)
		}
		if line, err := reg.AppendMessageJSON(nil, b); err != nil || !bytes.Equal(line, AppendAlertJSON(nil, &a)) {
			t.Fatalf("part 1 alert's JSON: %v %s", err, line)
		}
	}
}

// TestPart2SchemasCompatible: each schema part 2 changed reads what its
// part 1 version wrote (BACKWARD, the schema registry's setting: fields
// part 1 lacks have defaults, shared fields keep their type or widen it to
// a union holding it); and a part 1 reader reads what part 2 writes
// (FORWARD: it drops the new fields), except for sku made nullable on the
// types a listing_sku may stand in for, which a part 1 reader reads only
// when it is set, as it is in every resolved event (the topic holds no
// other: an unresolved one is a dead letter anyway).
func TestPart2SchemasCompatible(t *testing.T) {
	pairs := map[string]string{"channel_stock_update.avsc": "testdata/channel_stock_update_v1.avsc", "alert.avsc": "testdata/alert_v1.avsc"}
	for typ, file := range part1Versions {
		pairs["events/"+typ.String()+".avsc"] = "testdata/" + file
	}
	for cur, old := range pairs {
		curT, err1 := parseSchema(loadSchemaFile(t, cur).text)
		oldT, err2 := parseSchema(loadSchemaFile(t, old).text)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if curT.name != oldT.name {
			t.Errorf("%s renames %s to %s", cur, oldT.name, curT.name)
		}
		for _, p := range incompatibilities(curT, oldT) {
			t.Errorf("%s cannot read what %s wrote: %s", cur, old, p)
		}
		for _, p := range incompatibilities(oldT, curT) {
			if p != "field sku: union[null,string] into string" || cur == "events/channel_policy.avsc" || cur == "events/sku_policy.avsc" {
				t.Errorf("%s cannot read what %s writes: %s", old, cur, p)
			}
		}
	}
}

// incompatibilities lists why reader cannot read every record writer
// writes, by Avro's resolution rules for the shapes our schemas use.
func incompatibilities(reader, writer *avroType) []string {
	var out []string
	byName := map[string]*avroField{}
	for i := range writer.fields {
		byName[writer.fields[i].name] = &writer.fields[i]
	}
	for _, rf := range reader.fields {
		wf, ok := byName[rf.name]
		switch {
		case !ok && !rf.hasDefault:
			out = append(out, "field "+rf.name+": absent, no default")
		case ok && !readable(rf.typ, wf.typ):
			out = append(out, "field "+rf.name+": "+wf.typ.describe()+" into "+rf.typ.describe())
		}
	}
	return out
}

// readable reports whether every value of writer type w resolves to reader
// type r (same shape, int to long, or a union branch that takes it).
func readable(r, w *avroType) bool {
	if w.kind == kindUnion {
		for _, b := range w.branches {
			if !readable(r, b) {
				return false
			}
		}
		return true
	}
	if r.kind == kindUnion {
		for _, b := range r.branches {
			if readable(b, w) {
				return true
			}
		}
		return false
	}
	switch {
	case r.kind == kindArray && w.kind == kindArray:
		return readable(r.items, w.items)
	case r.kind == kindMap && w.kind == kindMap:
		return readable(r.values, w.values)
	}
	return r.kind == w.kind || r.kind == kindLong && w.kind == kindInt
}

// TestUnresolvedListing: an event naming a listing_sku but no sku (one a
// tool failed to resolve) is expressible in Avro and JSON, decodes with
// the sku absent, and PeekSKU finds none, so it reaches the fold's checks
// (unresolved_listing) instead of being placed by a sku it lacks.
func TestUnresolvedListing(t *testing.T) {
	reg := NewRegistry()
	dec := reg.NewDecoder(DecoderConfig{})
	ev := ledger.Event{Type: ledger.TypeOrder, ID: "o2", OccurredAt: 1_795_773_600_000_000, ListingSKU: "TEE-6PK", Channel: "web", OrderID: "W-8", Qty: 1,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldOccurredAt | ledger.FieldListingSKU | ledger.FieldChannel | ledger.FieldOrderID | ledger.FieldQty}
	b, err := EncodeEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	sf := eventFile(t, ledger.TypeOrder)
	if want, err := sf.single(eventNative(&ev, sf)); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("EncodeEvent %x, goavro %x (%v)", b, want, err)
	}
	got, r, d := decodeBoth(t, reg, b)
	if r != ledger.ReasonNone {
		t.Fatalf("%s %s", r, d)
	}
	sameEvent(t, "unresolved order", got, ev)
	if sku, ok := dec.PeekSKU(b); ok {
		t.Errorf("PeekSKU found %q", sku)
	}
	line := `{"event_id":"o2","type":"order","occurred_at":"2026-11-27T10:00:00Z","channel":"web","order_id":"W-8","qty":1,"listing_sku":"TEE-6PK"}`
	if r, d := ParseEventJSON([]byte(line), &got); r != ledger.ReasonNone {
		t.Fatalf("%s %s", r, d)
	}
	sameEvent(t, "unresolved order, JSON", got, ev)
	if out := string(AppendEventJSON(nil, &got)); out != line {
		t.Errorf("\n got %s\nwant %s", out, line)
	}
	// A resolved one: the sku is found without decoding the rest.
	ev.SKU, ev.Has = "TEE", ev.Has|ledger.FieldSKU
	b, _ = EncodeEvent(nil, &ev)
	if sku, ok := dec.PeekSKU(b); !ok || string(sku) != "TEE" {
		t.Errorf("PeekSKU of a resolved order: %q %v", sku, ok)
	}
}

// TestEventJSONPart2Lines: lines of every new type, and the new fields of
// part 1's types, read and render back byte for byte.
func TestEventJSONPart2Lines(t *testing.T) {
	const head = `"occurred_at":"2026-11-27T10:00:00Z"`
	for _, line := range []string{
		`{"event_id":"clock/3/1795773600000","type":"clock",` + head + `}`,
		`{"event_id":"h1","type":"hold","sku":"TEE",` + head + `,"hold_id":"H-1","channel":"web","qty":3,"expires_at":"2026-11-27T10:15:00Z"}`,
		`{"event_id":"h2","type":"hold","sku":"TEE",` + head + `,"source":"cart","hold_id":"H-2","channel":"web","qty":3,"expires_at":"2026-11-27T10:15:00.5Z","location":"store","allow_partial":true,"listing_sku":"TEE-6PK"}`,
		`{"event_id":"hr","type":"hold_released","sku":"TEE",` + head + `,"hold_id":"H-1"}`,
		`{"event_id":"l1","type":"listing","sku":"TEE",` + head + `,"channel":"web","listing_sku":"TEE-6PK","units":6}`,
		`{"event_id":"l3","type":"listing","sku":"TEE",` + head + `,"channel":"amazon","listing_sku":"AMZ-TEE","active":false}`,
		`{"event_id":"x1","type":"sku_channel_policy","sku":"TEE",` + head + `,"channel":"amazon","exclude":true}`,
		`{"event_id":"x3","type":"sku_channel_policy","sku":"CAP",` + head + `,"channel":"wholesale","exclude":false,"locations":["dc","store"],"buffer":1,"share_pct":50,"max_qty":9,"end_at":2}`,
		`{"event_id":"x6","type":"sku_channel_policy","sku":"CAP",` + head + `,"channel":"web","locations":[]}`,
		`{"event_id":"tc","type":"transfer_closed","sku":"BAG",` + head + `,"transfer_id":"T-1"}`,
		`{"event_id":"o1","type":"order","sku":"TEE",` + head + `,"channel":"web","order_id":"W-1","qty":3,"hold_id":"H-1","listing_sku":"TEE-3PK"}`,
		`{"event_id":"c1","type":"order_cancelled","sku":"TEE",` + head + `,"order_id":"W-1","listing_sku":"TEE-3PK"}`,
		`{"event_id":"s1","type":"pos_sale","sku":"TEE",` + head + `,"channel":"pos","location":"store","qty":6,"listing_sku":"TEE-6PK"}`,
		`{"event_id":"r1","type":"return","sku":"TEE",` + head + `,"location":"store","qty":6,"resellable":false,"listing_sku":"TEE-6PK"}`,
		`{"event_id":"p-web","type":"channel_policy",` + head + `,"channel":"web","locations":[],"buffer":0,"share_pct":100,"end_at":3}`,
		`{"event_id":"f0","type":"sku_policy","sku":"FAST",` + head + `,"safety_stock":{},"lead_time_days":7}`,
	} {
		var ev, again ledger.Event
		if r, d := ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
			t.Fatalf("%s: %s %s", line, r, d)
		}
		out := AppendEventJSON(nil, &ev)
		if string(out) != line {
			t.Errorf("\n got %s\nwant %s", out, line)
		}
		b, err := EncodeEvent(nil, &ev)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if r, d, err := NewRegistry().DecodeEvent(b, &again); r != ledger.ReasonNone || err != nil {
			t.Fatalf("%s: Avro: %s %s %v", line, r, d, err)
		}
		sameEvent(t, line+" through Avro", again, ev)
	}
	var ev ledger.Event
	ParseEventJSON([]byte(`{"event_id":"h","type":"hold","sku":"T",`+head+`,"hold_id":"H","channel":"web","qty":1,"expires_at":"2026-11-27T12:15:00.1234569+02:00"}`), &ev)
	if want := int64(1_795_774_500_123_456); ev.ExpiresAt != want || ev.Has&ledger.FieldExpiresAt == 0 {
		t.Errorf("expires_at %d, want %d (UTC microseconds, finer digits dropped)", ev.ExpiresAt, want)
	}
}

// Every event line of part 2's worked examples parses and reads back.
func TestEventJSONWorkedExamples2(t *testing.T) {
	b, err := os.ReadFile("../../shared/spec/worked-examples-2.md")
	if err != nil {
		t.Skip("worked examples not beside the repository:", err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, `{"event_id"`) {
			continue
		}
		n++
		var ev, again ledger.Event
		if r, d := ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
			t.Fatalf("%s: %s %s", line, r, d)
		}
		if r, d := ParseEventJSON(AppendEventJSON(nil, &ev), &again); r != ledger.ReasonNone {
			t.Fatalf("re-reading %s: %s %s", line, r, d)
		}
		sameEvent(t, line, again, ev)
	}
	if n == 0 {
		t.Error("no event lines found")
	}
}

// TestParseEventJSONPart2Reasons: the new fields follow the existing
// rules: a wrong JSON type is invalid_field, unless an earlier field's
// problem comes first.
func TestParseEventJSONPart2Reasons(t *testing.T) {
	const head = `"event_id":"e-1","sku":"TEE","occurred_at":"2026-11-27T10:00:00Z"`
	hold := func(rest string) string {
		return `{"type":"hold",` + head + `,"hold_id":"H-1","channel":"web","qty":1` + rest + `}`
	}
	for _, tc := range []struct {
		line   string
		reason ledger.Reason
		detail string
	}{
		{hold(`,"expires_at":1795774500`), ledger.ReasonInvalidField, "expires_at must be an RFC 3339 string"},
		{hold(`,"expires_at":"in 15 minutes"`), ledger.ReasonInvalidField, `expires_at "in 15 minutes" is not an RFC 3339 time`},
		{hold(`,"expires_at":"2026-11-27T10:15:00Z","allow_partial":"yes"`), ledger.ReasonInvalidField, "allow_partial must be true or false"},
		{hold(`,"expires_at":"2026-11-27T10:15:00Z","allow_partial":1`), ledger.ReasonInvalidField, "allow_partial must be true or false"},
		{hold(`,"expires_at":"2026-11-27T10:15:00Z","listing_sku":6`), ledger.ReasonInvalidField, "listing_sku must be a string"},
		{`{"type":"hold",` + head + `,"hold_id":7,"channel":"web","qty":1,"expires_at":"2026-11-27T10:15:00Z"}`, ledger.ReasonInvalidField, "hold_id must be a string"},
		{`{"type":"hold_released",` + head + `,"hold_id":["H-1"]}`, ledger.ReasonInvalidField, "hold_id must be a string"},
		{`{"type":"listing",` + head + `,"channel":"web","listing_sku":"P","units":1.5}`, ledger.ReasonInvalidField, "units 1.5 is not an integer"},
		{`{"type":"listing",` + head + `,"channel":"web","listing_sku":"P","units":"6"}`, ledger.ReasonInvalidField, `units must be an integer, not "6"`},
		{`{"type":"listing",` + head + `,"channel":"web","listing_sku":"P","active":"false"}`, ledger.ReasonInvalidField, "active must be true or false"},
		{`{"type":"sku_channel_policy",` + head + `,"channel":"web","exclude":0}`, ledger.ReasonInvalidField, "exclude must be true or false"},
		{`{"type":"sku_channel_policy",` + head + `,"channel":"web","locations":"dc"}`, ledger.ReasonInvalidField, "locations must be an array of strings"},
		{`{"type":"sku_channel_policy",` + head + `,"channel":"web","end_at":1e2}`, ledger.ReasonInvalidField, "end_at 1e2 is not an integer"},
		{`{"type":"transfer_closed",` + head + `,"transfer_id":1}`, ledger.ReasonInvalidField, "transfer_id must be a string"},
		{`{"type":"order",` + head + `,"channel":"web","order_id":"W-1","qty":1,"hold_id":true}`, ledger.ReasonInvalidField, "hold_id must be a string"},
		{`{"type":"channel_policy","event_id":"c","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100,"end_at":"0"}`, ledger.ReasonInvalidField, "end_at must be an integer"},
		{`{"type":"sku_policy",` + head + `,"safety_stock":{},"lead_time_days":7.0}`, ledger.ReasonInvalidField, "lead_time_days 7.0 is not an integer"},
		{`{"type":"clock","event_id":"c","occurred_at":"2026-11-27T10:00:00Z","source":5}`, ledger.ReasonInvalidField, "source must be a string"},
		// An earlier field's problem wins; a missing sku where a listing_sku
		// may stand for it is never blamed on a field checked before it.
		{`{"type":"order","event_id":5,"occurred_at":"2026-11-27T10:00:00Z","channel":"web","order_id":"W-1","qty":1,"listing_sku":"P"}`, ledger.ReasonInvalidField, "event_id must be a string"},
		{`{"type":"order",` + head + `,"channel":"web","order_id":"W-1","qty":0,"hold_id":true}`, ledger.ReasonQuantityOutOfRange, "qty 0 not in"},
	} {
		if strings.Contains(tc.line, `"type":"clock"`) && !validatesClock() {
			t.Logf("skipped until ledger.Validate knows clock events: %s", tc.line)
			continue
		}
		var ev ledger.Event
		r, d := ParseEventJSON([]byte(tc.line), &ev)
		if r != tc.reason || !strings.Contains(d, tc.detail) {
			t.Errorf("%s:\n got %s %q\nwant %s containing %q", tc.line, r, d, tc.reason, tc.detail)
		}
	}
}

// validatesClock reports whether ledger.Validate accepts a clock event
// (no sku): the check order beyond a malformed field is Validate's, which
// part 2's ledger work extends to the new types.
func validatesClock() bool {
	ev := ledger.Event{Type: ledger.TypeClock, ID: "c", Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldOccurredAt}
	r, _ := ledger.Validate(&ev)
	return r == ledger.ReasonNone
}

// TestDecodeHoldResultRefuses: a status this version does not know (a
// newer writer's) is an error, as an alert's unknown kind is.
func TestDecodeHoldResultRefuses(t *testing.T) {
	reg := NewRegistry()
	sf := loadSchemaFile(t, "hold_result.avsc")
	h := ledger.HoldResult{HoldID: "H-1", SKU: "TEE", Channel: "web", Status: ledger.HoldGranted}
	native := holdResultNative(&h)
	native["status"] = "waitlisted"
	var got ledger.HoldResult
	if err := reg.DecodeHoldResult(encodeWith(t, sf, native), &got); err == nil || !strings.Contains(err.Error(), `"waitlisted"`) {
		t.Errorf("unknown status: %v", err)
	}
	native["location"] = goavro.Union("string", "dc")
	native["status"] = "converted"
	if err := reg.DecodeHoldResult(encodeWith(t, sf, native), &got); err != nil || got.Location != "dc" || got.Status != ledger.HoldConverted {
		t.Errorf("DecodeHoldResult: %v %+v", err, got)
	}
	if err := reg.DecodeHoldResult(AppendAlert(nil, &ledger.Alert{}), &got); err == nil || !strings.Contains(err.Error(), AlertRecordName) {
		t.Errorf("an alert as a hold result: %v", err)
	}
}
