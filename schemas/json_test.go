package schemas

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
)

// The spec's own example lines read and render back byte for byte.
func TestEventJSONSpecExamples(t *testing.T) {
	for _, line := range []string{
		`{"event_id":"r-1","type":"receipt","sku":"TEE-RED-M","occurred_at":"2026-11-22T10:00:00Z","location":"dc-east","qty":100,"po_id":"PO-17"}`,
		`{"event_id":"c-1","type":"channel_policy","occurred_at":"2026-11-22T10:00:00Z","channel":"amazon","locations":["dc-east"],"buffer":5,"share_pct":100}`,
		`{"event_id":"o-1","type":"order","sku":"TEE-RED-M","occurred_at":"2026-11-22T10:01:00Z","channel":"web","order_id":"W-1001","qty":2}`,
		`{"event_id":"sp","type":"sku_policy","sku":"TEE","occurred_at":"2026-11-27T10:00:00.25Z","source":"erp","safety_stock":{"dc":4,"store":0},"reorder_point":3}`,
	} {
		var ev ledger.Event
		if r, d := ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
			t.Fatalf("%s: %s %s", line, r, d)
		}
		if r, d := ledger.Validate(&ev); r != ledger.ReasonNone {
			t.Fatalf("%s: does not validate: %s %s", line, r, d)
		}
		if got := string(AppendEventJSON(nil, &ev)); got != line {
			t.Errorf("\n got %s\nwant %s", got, line)
		}
	}
}

// Every event line of the worked examples parses and validates.
func TestEventJSONWorkedExamples(t *testing.T) {
	b, err := os.ReadFile("../../shared/spec/worked-examples.md")
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

func TestParseEventJSONReasons(t *testing.T) {
	const head = `"event_id":"e-1","sku":"TEE","occurred_at":"2026-11-22T10:00:00Z"`
	receipt := func(rest string) string { return `{"type":"receipt",` + head + `,"location":"dc"` + rest + `}` }
	for _, tc := range []struct {
		line   string
		reason ledger.Reason
		detail string // a part of it
	}{
		{``, ledger.ReasonUndecodable, "not a JSON object"},
		{`[1]`, ledger.ReasonUndecodable, "not a JSON object"},
		{`"receipt"`, ledger.ReasonUndecodable, "not a JSON object"},
		{receipt(`,"qty":1`) + ` {}`, ledger.ReasonUndecodable, "data after the object"},
		{`{"type":"receipt",}`, ledger.ReasonUndecodable, "not a JSON object"},
		{`{"type":"receipt"`, ledger.ReasonUndecodable, "not a JSON object"},
		{`{` + head + `}`, ledger.ReasonMissingField, "missing type"},
		{`{"type":null,` + head + `}`, ledger.ReasonMissingField, "missing type"},
		{`{"type":5,` + head + `}`, ledger.ReasonInvalidField, "type 5 is not a string"},
		{`{"type":"teleport",` + head + `}`, ledger.ReasonUnknownType, `unknown type "teleport"`},
		{`{"type":"Receipt",` + head + `}`, ledger.ReasonUnknownType, `unknown type "Receipt"`},
		{receipt(`,"qty":"5"`), ledger.ReasonInvalidField, `qty must be an integer, not "5"`},
		{receipt(`,"qty":1.5`), ledger.ReasonInvalidField, "qty 1.5 is not an integer"},
		{receipt(`,"qty":1e3`), ledger.ReasonInvalidField, "qty 1e3 is not an integer"},
		{receipt(`,"qty":1.0`), ledger.ReasonInvalidField, "qty 1.0 is not an integer"},
		{receipt(`,"qty":99999999999999999999`), ledger.ReasonInvalidField, "does not fit in 64 bits"},
		{receipt(`,"qty":true`), ledger.ReasonInvalidField, "qty must be an integer"},
		{receipt(`,"qty":[1]`), ledger.ReasonInvalidField, "qty must be an integer"},
		{receipt(`,"qty":1,"po_id":17`), ledger.ReasonInvalidField, "po_id must be a string"},
		{`{"type":"receipt","event_id":7,"sku":"TEE","occurred_at":"2026-11-22T10:00:00Z","location":"dc","qty":1}`, ledger.ReasonInvalidField, "event_id must be a string"},
		{`{"type":"receipt","event_id":"e","sku":"TEE","occurred_at":"yesterday","location":"dc","qty":1}`, ledger.ReasonInvalidField, `occurred_at "yesterday" is not an RFC 3339 time`},
		{`{"type":"receipt","event_id":"e","sku":"TEE","occurred_at":1700000000,"location":"dc","qty":1}`, ledger.ReasonInvalidField, "occurred_at must be an RFC 3339 string"},
		{`{"type":"receipt","event_id":"e","sku":"TEE","occurred_at":"2026-11-22 10:00:00Z","location":"dc","qty":1}`, ledger.ReasonInvalidField, "RFC 3339"},
		{`{"type":"return",` + head + `,"location":"dc","qty":1,"resellable":"yes"}`, ledger.ReasonInvalidField, "resellable must be true or false"},
		{`{"type":"sku_policy",` + head + `,"safety_stock":[1]}`, ledger.ReasonInvalidField, "safety_stock must be an object"},
		{`{"type":"sku_policy",` + head + `,"safety_stock":{"dc":"4"}}`, ledger.ReasonInvalidField, `safety_stock["dc"] must be an integer`},
		{`{"type":"sku_policy",` + head + `,"safety_stock":{"dc":null}}`, ledger.ReasonInvalidField, `safety_stock["dc"] must be an integer`},
		{`{"type":"sku_policy",` + head + `,"safety_stock":{"dc":2.5}}`, ledger.ReasonInvalidField, `safety_stock["dc"] 2.5 is not an integer`},
		{`{"type":"channel_policy","event_id":"c","occurred_at":"2026-11-22T10:00:00Z","channel":"web","locations":"dc","buffer":0,"share_pct":100}`, ledger.ReasonInvalidField, "locations must be an array of strings"},
		{`{"type":"channel_policy","event_id":"c","occurred_at":"2026-11-22T10:00:00Z","channel":"web","locations":["dc",1],"buffer":0,"share_pct":100}`, ledger.ReasonInvalidField, "locations must be an array of strings"},
		// The check order: a problem of an earlier field wins over a wrong JSON type.
		{`{"type":"receipt","sku":"TEE","occurred_at":"2026-11-22T10:00:00Z","location":"dc","qty":"x"}`, ledger.ReasonMissingField, "missing event_id"},
		{`{"type":"receipt","event_id":"e","sku":" TEE","occurred_at":5,"location":"dc","qty":1}`, ledger.ReasonInvalidField, `sku " TEE"`},
		{`{"type":"order",` + head + `,"channel":"we/b","order_id":"o","qty":"x"}`, ledger.ReasonInvalidField, `contains '/'`},
		{`{"type":"order",` + head + `,"channel":"web","order_id":"o","qty":0,"location":5}`, ledger.ReasonQuantityOutOfRange, "qty 0 not in"},
		{`{"type":"adjustment",` + head + `,"location":"dc","on_hand_delta":0,"unavailable_delta":0,"reason":5}`, ledger.ReasonInvalidField, "reason must be a string"},
		{`{"type":"transfer_out",` + head + `,"transfer_id":"t","location":"dc","to_location":"dc","qty":"x"}`, ledger.ReasonInvalidField, "qty must be an integer"},
		{`{"type":"transfer_out",` + head + `,"transfer_id":"t","location":"dc","to_location":5,"qty":1}`, ledger.ReasonInvalidField, "to_location must be a string"},
	} {
		var ev ledger.Event
		r, d := ParseEventJSON([]byte(tc.line), &ev)
		if r != tc.reason || !strings.Contains(d, tc.detail) {
			t.Errorf("%s:\n got %s %q\nwant %s containing %q", tc.line, r, d, tc.reason, tc.detail)
		}
	}
}

// Lines that parse: nulls are absent, unknown fields (and fields of other
// types, whatever their JSON type) are ignored, times become UTC
// microseconds; what Validate then says is its business.
func TestParseEventJSONAccepts(t *testing.T) {
	const head = `"event_id":"e-1","sku":"TEE","occurred_at":"2026-11-22T10:00:00Z"`
	for _, tc := range []struct {
		line     string
		validate ledger.Reason
		check    func(*ledger.Event) bool
	}{
		{`{"type":"receipt",` + head + `,"location":"dc","qty":1,"po_id":null,"source":null}`, ledger.ReasonNone,
			func(ev *ledger.Event) bool { return ev.Has&(ledger.FieldPOID|ledger.FieldSource) == 0 }},
		{`{"type":"receipt",` + head + `,"location":"dc","qty":1,"colour":"red","channel":5,"nested":{"a":[1,{"b":null}]}}`, ledger.ReasonNone,
			func(ev *ledger.Event) bool { return ev.Has&ledger.FieldChannel == 0 }},
		{`{"type":"receipt",` + head + `,"location":"dc","qty":null}`, ledger.ReasonMissingField,
			func(ev *ledger.Event) bool { return ev.Has&ledger.FieldQty == 0 }},
		{`{"type":"receipt","event_id":"e","sku":"TEE","occurred_at":"2026-11-22T12:00:00.1234569+02:00","location":"dc","qty":-0}`, ledger.ReasonQuantityOutOfRange,
			func(ev *ledger.Event) bool {
				return ev.OccurredAt == time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC).UnixMicro() && ev.Has&ledger.FieldQty != 0
			}},
		{`{"type":"receipt","event_id":"e","sku":"TEE","occurred_at":"1969-12-31T23:59:59.9999995Z","location":"dc","qty":1}`, ledger.ReasonNone,
			func(ev *ledger.Event) bool { return ev.OccurredAt == -1 }},
		{`{"qty":9223372036854775807,"type":"receipt",` + head + `,"location":"dc"}`, ledger.ReasonQuantityOutOfRange,
			func(ev *ledger.Event) bool { return ev.Qty == 9223372036854775807 }},
		{`{"type":"receipt",` + head + `,"location":"dc","qty":1,"qty":2}`, ledger.ReasonNone,
			func(ev *ledger.Event) bool { return ev.Qty == 2 }},
		{`{"type":"return",` + head + `,"location":"dc","qty":1,"resellable":false}`, ledger.ReasonNone,
			func(ev *ledger.Event) bool { return !ev.IsResellable() }},
		{`{"type":"sku_policy",` + head + `,"safety_stock":{"dc":4,"dc":5}}`, ledger.ReasonInvalidField,
			func(ev *ledger.Event) bool { return len(ev.SafetyStock) == 2 }},
		{`{"type":"sku_policy",` + head + `,"safety_stock":{}}`, ledger.ReasonNone,
			func(ev *ledger.Event) bool { return ev.Has&ledger.FieldSafetyStock != 0 && len(ev.SafetyStock) == 0 }},
		{` {"type":"channel_policy","event_id":"c","occurred_at":"2026-11-22T10:00:00Z","sku":7,"channel":"web","locations":[],"buffer":0,"share_pct":100} ` + "\n", ledger.ReasonNone,
			func(ev *ledger.Event) bool { return ev.Has&ledger.FieldLocations != 0 && ev.Has&ledger.FieldSKU == 0 }},
		{`{"type":"adjustment",` + head + `,"location":"dc","on_hand_delta":0,"unavailable_delta":0,"reason":"x"}`, ledger.ReasonZeroAdjustment,
			func(*ledger.Event) bool { return true }},
	} {
		var ev ledger.Event
		if r, d := ParseEventJSON([]byte(tc.line), &ev); r != ledger.ReasonNone {
			t.Errorf("%s: %s %s", tc.line, r, d)
			continue
		}
		if !tc.check(&ev) {
			t.Errorf("%s: got %+v", tc.line, ev)
		}
		if r, d := ledger.Validate(&ev); r != tc.validate {
			t.Errorf("%s: Validate says %s %s, want %s", tc.line, r, d, tc.validate)
		}
	}
	// A missing or unknown type still yields the ids, for the dead letter.
	var ev ledger.Event
	if r, _ := ParseEventJSON([]byte(`{"type":"teleport","event_id":"e-9","sku":"TEE"}`), &ev); r != ledger.ReasonUnknownType || ev.ID != "e-9" || ev.SKU != "TEE" {
		t.Errorf("unknown type: %s %+v", r, ev)
	}
	if r, _ := ledger.Validate(&ev); r != ledger.ReasonUnknownType {
		t.Errorf("Validate of the unknown type says %s", r)
	}
}

// randomJSONEvent is a random event whose times (occurred_at, expires_at)
// RFC 3339 can show.
func randomJSONEvent(rng *rand.Rand, typ ledger.EventType) ledger.Event {
	ev := randomEvent(rng, typ, eventFile(nil, typ))
	ev.OccurredAt = randomJSONTime(rng)
	if ev.Has&ledger.FieldExpiresAt != 0 {
		ev.ExpiresAt = randomJSONTime(rng)
	}
	return ev
}

func randomJSONTime(rng *rand.Rand) int64 {
	us := jsonTimeMin + rng.Int64N(jsonTimeMax-jsonTimeMin+1)
	if rng.IntN(4) == 0 {
		us -= us % 1_000_000 // whole seconds
	}
	return us
}

// The times RFC 3339 can show: years 0001 to 9999, in microseconds.
var (
	jsonTimeMin = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	jsonTimeMax = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// TestEventJSONRoundTrip: random events of every type render as JSON that
// encoding/json reads to the same values, and that ParseEventJSON reads
// back to the same event.
func TestEventJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 6))
	for _, typ := range ledger.EventTypes() {
		for range 300 {
			ev := randomJSONEvent(rng, typ)
			line := AppendEventJSON(nil, &ev)
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(string(line)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if m["type"] != typ.String() || m["event_id"] != ev.ID {
				t.Fatalf("%s: type or event_id wrong", line)
			}
			at, err := time.Parse(time.RFC3339Nano, m["occurred_at"].(string))
			if err != nil || at.UnixMicro() != ev.OccurredAt {
				t.Fatalf("%s: occurred_at %v %v, want %d", line, at, err, ev.OccurredAt)
			}
			if ev.Has&ledger.FieldQty != 0 && m["qty"].(json.Number).String() != jsonNumber(int64(ev.Qty)) {
				t.Fatalf("%s: qty", line)
			}
			if ev.Has&ledger.FieldLocation != 0 && m["location"] != ev.Location {
				t.Fatalf("%s: location", line)
			}
			var got ledger.Event
			if r, d := ParseEventJSON(line, &got); r != ledger.ReasonNone {
				t.Fatalf("%s: %s %s", line, r, d)
			}
			sameEvent(t, string(line), got, ev)
		}
	}
}

func jsonNumber(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestOutputJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	for range 500 {
		u := randomUpdate(rng)
		u.OccurredAt = randomJSONEvent(rng, ledger.TypeReceipt).OccurredAt
		var m map[string]any
		line := AppendUpdateJSON(nil, &u)
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if m["type"] != "channel_stock_update" || m["channel"] != u.Channel || m["sku"] != u.SKU || m["cause_event_id"] != u.CauseEventID {
			t.Fatalf("update %s", line)
		}
		if _, ok := m["previous"]; !ok || (m["previous"] == nil) == u.HasPrevious {
			t.Fatalf("update previous %s", line)
		}

		a := randomAlert(rng)
		line = AppendAlertJSON(nil, &a)
		m = nil
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if m["kind"] != a.Kind.String() || m["sku"] != a.SKU {
			t.Fatalf("alert %s", line)
		}
		for bit, key := range map[ledger.AlertField]string{ledger.AlertHasLocation: "location", ledger.AlertHasChannel: "channel",
			ledger.AlertHasPOID: "po_id", ledger.AlertHasOrderID: "order_id", ledger.AlertHasShortfall: "shortfall",
			ledger.AlertHasUnits: "units", ledger.AlertHasOnHand: "on_hand", ledger.AlertHasTotal: "total", ledger.AlertHasReorderPoint: "reorder_point",
			ledger.AlertHasTransferID: "transfer_id", ledger.AlertHasExpected: "expected", ledger.AlertHasReceived: "received",
			ledger.AlertHasShort: "short", ledger.AlertHasProjected: "projected", ledger.AlertHasSold28: "sold28",
			ledger.AlertHasDaysOfCover: "days_of_cover", ledger.AlertHasLeadTimeDays: "lead_time_days"} {
			if _, ok := m[key]; ok != (a.Has&bit != 0) {
				t.Fatalf("alert %s: %s present %v", line, key, ok)
			}
		}
	}
	line := string(AppendUpdateJSON(nil, &ledger.Update{Channel: "web", SKU: "TEE", Available: 8, Version: 2, CauseEventID: "r1", OccurredAt: 1_795_860_000_000_000}))
	if want := `{"type":"channel_stock_update","channel":"web","sku":"TEE","available":8,"previous":null,"version":2,"cause_event_id":"r1","occurred_at":"2026-11-28T10:00:00Z"}`; line != want {
		t.Errorf("\n got %s\nwant %s", line, want)
	}
	line = string(AppendAlertJSON(nil, &ledger.Alert{Kind: ledger.AlertOversold, SKU: "TEE", Location: "dc", Channel: "web", Shortfall: 2,
		Has: ledger.AlertHasLocation | ledger.AlertHasChannel | ledger.AlertHasShortfall, Version: 3, CauseEventID: "o1", OccurredAt: 1_795_860_000_500_000}))
	if want := `{"kind":"oversold","sku":"TEE","location":"dc","channel":"web","shortfall":2,"version":3,"cause_event_id":"o1","occurred_at":"2026-11-28T10:00:00.5Z"}`; line != want {
		t.Errorf("\n got %s\nwant %s", line, want)
	}
	testPart2OutputLines(t)
}

// testPart2OutputLines: the JSON Lines form of part 2's outputs (worked
// examples 2: a listing's update, transfer_short, reorder_due, a hold
// result), fields in the Avro schemas' order.
func testPart2OutputLines(t *testing.T) {
	const at = 1_795_773_600_000_000 // 2026-11-27T10:00:00Z
	for _, tc := range []struct{ got, want string }{
		{string(AppendUpdateJSON(nil, &ledger.Update{Channel: "web", SKU: "TEE", ListingSKU: "TEE-6PK", Available: 2, Version: 2, CauseEventID: "l1", OccurredAt: at})),
			`{"type":"channel_stock_update","channel":"web","sku":"TEE","listing_sku":"TEE-6PK","available":2,"previous":null,"version":2,"cause_event_id":"l1","occurred_at":"2026-11-27T10:00:00Z"}`},
		{string(AppendAlertJSON(nil, &ledger.Alert{Kind: ledger.AlertTransferShort, SKU: "BAG", Location: "store", TransferID: "T-1", Expected: 8, Received: 5, Short: 3,
			Has: ledger.AlertHasLocation | ledger.AlertHasTransferID | ledger.AlertHasExpected | ledger.AlertHasReceived | ledger.AlertHasShort, Version: 4, CauseEventID: "tc", OccurredAt: at})),
			`{"kind":"transfer_short","sku":"BAG","location":"store","transfer_id":"T-1","expected":8,"received":5,"short":3,"version":4,"cause_event_id":"tc","occurred_at":"2026-11-27T10:00:00Z"}`},
		{string(AppendAlertJSON(nil, &ledger.Alert{Kind: ledger.AlertReorderDue, SKU: "FAST", Projected: 7, Sold28: 33, DaysOfCover: 5, LeadTimeDays: 7,
			Has: ledger.AlertHasProjected | ledger.AlertHasSold28 | ledger.AlertHasDaysOfCover | ledger.AlertHasLeadTimeDays, Version: 4, CauseEventID: "f4", OccurredAt: at})),
			`{"kind":"reorder_due","sku":"FAST","projected":7,"sold28":33,"days_of_cover":5,"lead_time_days":7,"version":4,"cause_event_id":"f4","occurred_at":"2026-11-27T10:00:00Z"}`},
		{string(AppendHoldResultJSON(nil, &ledger.HoldResult{HoldID: "H-1", SKU: "TEE", Channel: "web", Status: ledger.HoldGranted, Requested: 3, Granted: 3, Available: 7,
			ExpiresAt: at + 900_000_000, Version: 2, CauseEventID: "h1", OccurredAt: at})),
			`{"type":"hold_result","hold_id":"H-1","sku":"TEE","channel":"web","location":null,"status":"granted","requested":3,"granted":3,"available":7,"expires_at":"2026-11-27T10:15:00Z","version":2,"cause_event_id":"h1","occurred_at":"2026-11-27T10:00:00Z"}`},
		{string(AppendHoldResultJSON(nil, &ledger.HoldResult{HoldID: "H-2", SKU: "TEE", Channel: "amazon", Location: "dc", Status: ledger.HoldExpired, Requested: 3, Available: 8,
			ExpiresAt: at + 600_000_000, Version: 5, CauseEventID: "clock/0/1795774800000", OccurredAt: at + 1_200_000_000})),
			`{"type":"hold_result","hold_id":"H-2","sku":"TEE","channel":"amazon","location":"dc","status":"expired","requested":3,"granted":0,"available":8,"expires_at":"2026-11-27T10:10:00Z","version":5,"cause_event_id":"clock/0/1795774800000","occurred_at":"2026-11-27T10:20:00Z"}`},
	} {
		if tc.got != tc.want {
			t.Errorf("\n got %s\nwant %s", tc.got, tc.want)
		}
	}
}

func TestDeadLetterJSON(t *testing.T) {
	reg := NewRegistry()
	ev := ledger.Event{Type: ledger.TypeReceipt, ID: "r-1", SKU: "TEE", Location: "dc", Qty: 0, OccurredAt: 1_795_860_000_000_000,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation | ledger.FieldQty}
	avro, err := EncodeEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		original []byte
		want     string // original_json, "" for none
	}{
		{"avro event", avro, `{"event_id":"r-1","type":"receipt","sku":"TEE","occurred_at":"2026-11-28T10:00:00Z","location":"dc","qty":0}`},
		{"json line", []byte(" {\"type\": \"teleport\",\n \"event_id\": \"x y\"}\n"), `{"type":"teleport","event_id":"x y"}`},
		{"garbage", []byte{0xC3, 0x01, 1, 2, 3}, ""},
		{"truncated avro", avro[:len(avro)-1], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DeadLetter{Original: tc.original, Reason: ledger.ReasonQuantityOutOfRange, Detail: "qty 0 not in 1..1000000000",
				Topic: "events", Partition: 3, Offset: 42, EventID: "r-1", SKU: "TEE", Type: "receipt"}
			line := reg.AppendDeadLetterJSON(nil, &d)
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			var orig string
			if err := json.Unmarshal(m["original"], &orig); err != nil {
				t.Fatal(err)
			}
			if b, err := base64.StdEncoding.DecodeString(orig); err != nil || string(b) != string(tc.original) {
				t.Errorf("original %q %v", b, err)
			}
			if got := string(m["original_json"]); got != tc.want {
				t.Errorf("original_json\n got %s\nwant %s", got, tc.want)
			}
			for key, want := range map[string]string{"type": `"dead_letter"`, "reason": `"quantity_out_of_range"`, "topic": `"events"`,
				"partition": "3", "offset": "42", "event_id": `"r-1"`, "sku": `"TEE"`, "event_type": `"receipt"`} {
				if string(m[key]) != want {
					t.Errorf("%s: %s, want %s", key, m[key], want)
				}
			}
			// AppendMessageJSON renders the Avro dead letter the same way.
			got, err := reg.AppendMessageJSON(nil, AppendDeadLetter(nil, &d))
			if err != nil || string(got) != string(line) {
				t.Errorf("AppendMessageJSON: %v\n got %s\nwant %s", err, got, line)
			}
		})
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 8))
	for range 2000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		s := string(b)
		if rng.IntN(2) == 0 {
			s = randomString(rng) + "<&>\u2028\u2029\x7f"
		}
		got := appendJSONString(nil, s)
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		wantJSON, _ := json.Marshal(s)
		_ = json.Unmarshal(wantJSON, &want)
		if back != want {
			t.Fatalf("%q: reads back as %q, encoding/json's as %q", s, back, want)
		}
	}
}

// TestParseEventJSONRefusesInvalidText: JSON text must be UTF-8 (RFC 8259),
// and encoding/json would read an invalid byte, or an escaped surrogate
// without its pair, as U+FFFD: SKUs PROD-\xff and PROD-\xfe would both
// become PROD-\uFFFD and share one stock. Such a line is refused whole,
// wherever the bad text is (a value, a key, a field nobody reads), naming
// the byte where it starts.
func TestParseEventJSONRefusesInvalidText(t *testing.T) {
	const at = `"occurred_at":"2026-11-22T10:00:00Z"`
	receipt := func(id, sku, rest string) string {
		return `{"type":"receipt","event_id":"` + id + `","sku":"` + sku + `",` + at + `,"location":"dc","qty":1` + rest + `}`
	}
	for _, tc := range []struct {
		line   string
		bad    string // the first bad text in line
		detail string
	}{
		{receipt("e-1", "PROD-\xff", ""), "\xff", "not valid UTF-8"},
		{receipt("e-1", "PROD-\xfe", ""), "\xfe", "not valid UTF-8"},
		{receipt("e-\xc3", "TEE", ""), "\xc3", "not valid UTF-8"},                              // a truncated sequence
		{receipt("e-1", "TEE", ",\"source\":\"erp-\xed\xa0\x80\""), "\xed", "not valid UTF-8"}, // an encoded surrogate
		{receipt("e-1", "TEE", ",\"colour\":\"r\xe9d\""), "\xe9", "not valid UTF-8"},           // Latin-1, in a field nobody reads
		{receipt("e-1", "TEE", ",\"c\xf6lour\":\"red\""), "\xf6", "not valid UTF-8"},           // in a key
		{"{\"type\":\"rece\x80ipt\",\"event_id\":\"e-1\"}", "\x80", "not valid UTF-8"},
		{`{"type":"sku_policy","event_id":"e-1","sku":"TEE",` + at + ",\"safety_stock\":{\"d\xffc\":1}}", "\xff", "not valid UTF-8"},
		{`{"type":"channel_policy","event_id":"e-1",` + at + ",\"channel\":\"web\",\"locations\":[\"dc\",\"st\xffore\"],\"buffer\":0,\"share_pct\":100}", "\xff", "not valid UTF-8"},
		{receipt("e-1", `PROD-\ud800`, ""), `\ud800`, "unpaired surrogate"},
		{receipt("e-1", `PROD-\udc00\ud83d`, ""), `\udc00`, "unpaired surrogate"},
		{receipt("e-1", `PROD-\uD83D`, ""), `\uD83D`, "unpaired surrogate"},
		{receipt("e-1", "TEE", `,"colour":"\ud83dx"`), `\ud83d`, "unpaired surrogate"},
	} {
		var ev ledger.Event
		r, d := ParseEventJSON([]byte(tc.line), &ev)
		wantAt := fmt.Sprintf("at byte %d", strings.Index(tc.line, tc.bad)+1)
		if r != ledger.ReasonUndecodable || !strings.Contains(d, tc.detail) || !strings.Contains(d, wantAt) {
			t.Errorf("%q:\n got %s %q\nwant undecodable, %q %s", tc.line, r, d, tc.detail, wantAt)
		}
	}
	// Text that is Unicode reads byte for byte, escaped or not; a backslash
	// before "u" is not an escape of a surrogate.
	for line, sku := range map[string]string{
		receipt("e-1", "PROD-\uFFFD", ""):       "PROD-\uFFFD",
		receipt("e-1", `PROD-\ufffd`, ""):       "PROD-\uFFFD",
		receipt("e-1", "CAFÉ-😀", ""):            "CAFÉ-😀",
		receipt("e-1", `CAFÉ-\ud83d\ude00`, ""): "CAFÉ-😀",
		receipt("e-1", `A\\ud800`, ""):          `A\ud800`,
	} {
		var ev ledger.Event
		if r, d := ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone || ev.SKU != sku {
			t.Errorf("%q: %s %s, sku %q, want %q", line, r, d, ev.SKU, sku)
		}
	}
}
