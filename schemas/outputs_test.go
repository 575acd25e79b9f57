package schemas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

func randomUpdate(rng *rand.Rand) ledger.Update {
	u := ledger.Update{
		Channel: randomCode(rng), SKU: randomString(rng), Available: ledger.Qty(randomLong(rng)),
		Version: uint64(randomLong(rng)), CauseEventID: randomString(rng), OccurredAt: randomLong(rng),
	}
	if rng.IntN(2) == 0 {
		u.Previous, u.HasPrevious = ledger.Qty(randomLong(rng)), true
	}
	if rng.IntN(2) == 0 {
		u.ListingSKU = randomString(rng) + "L" // "" is null: none
	}
	return u
}

func updateNative(u *ledger.Update) map[string]any {
	var prev any
	if u.HasPrevious {
		prev = goavro.Union("long", int64(u.Previous))
	}
	var listing any
	if u.ListingSKU != "" {
		listing = goavro.Union("string", u.ListingSKU)
	}
	return map[string]any{
		"channel": u.Channel, "sku": u.SKU, "listing_sku": listing, "available": int64(u.Available), "previous": prev,
		"version": int64(u.Version), "cause_event_id": u.CauseEventID, "occurred_at": u.OccurredAt,
	}
}

func randomAlert(rng *rand.Rand) ledger.Alert {
	kinds := ledger.AlertKinds()
	a := ledger.Alert{
		Kind: kinds[rng.IntN(len(kinds))], SKU: randomString(rng), Version: uint64(randomLong(rng)),
		CauseEventID: randomString(rng), OccurredAt: randomLong(rng), Has: ledger.AlertField(rng.UintN(1 << 17)),
	}
	// Values only where Has says so, as the ledger makes them.
	if a.Has&ledger.AlertHasLocation != 0 {
		a.Location = randomCode(rng)
	}
	if a.Has&ledger.AlertHasChannel != 0 {
		a.Channel = randomCode(rng)
	}
	if a.Has&ledger.AlertHasPOID != 0 {
		a.POID = randomString(rng)
	}
	if a.Has&ledger.AlertHasOrderID != 0 {
		a.OrderID = randomString(rng)
	}
	if a.Has&ledger.AlertHasTransferID != 0 {
		a.TransferID = randomString(rng)
	}
	for _, q := range []struct {
		bit ledger.AlertField
		dst *ledger.Qty
	}{{ledger.AlertHasShortfall, &a.Shortfall}, {ledger.AlertHasUnits, &a.Units}, {ledger.AlertHasOnHand, &a.OnHand},
		{ledger.AlertHasTotal, &a.Total}, {ledger.AlertHasReorderPoint, &a.ReorderPoint},
		{ledger.AlertHasExpected, &a.Expected}, {ledger.AlertHasReceived, &a.Received}, {ledger.AlertHasShort, &a.Short},
		{ledger.AlertHasProjected, &a.Projected}, {ledger.AlertHasSold28, &a.Sold28},
		{ledger.AlertHasDaysOfCover, &a.DaysOfCover}, {ledger.AlertHasLeadTimeDays, &a.LeadTimeDays}} {
		if a.Has&q.bit != 0 {
			*q.dst = ledger.Qty(randomLong(rng))
		}
	}
	return a
}

func alertNative(a *ledger.Alert) map[string]any {
	m := map[string]any{"kind": a.Kind.String(), "sku": a.SKU, "version": int64(a.Version),
		"cause_event_id": a.CauseEventID, "occurred_at": a.OccurredAt}
	opt := func(key string, bit ledger.AlertField, kind string, v any) {
		m[key] = nil
		if a.Has&bit != 0 {
			m[key] = goavro.Union(kind, v)
		}
	}
	opt("location", ledger.AlertHasLocation, "string", a.Location)
	opt("channel", ledger.AlertHasChannel, "string", a.Channel)
	opt("po_id", ledger.AlertHasPOID, "string", a.POID)
	opt("order_id", ledger.AlertHasOrderID, "string", a.OrderID)
	opt("shortfall", ledger.AlertHasShortfall, "long", int64(a.Shortfall))
	opt("units", ledger.AlertHasUnits, "long", int64(a.Units))
	opt("on_hand", ledger.AlertHasOnHand, "long", int64(a.OnHand))
	opt("total", ledger.AlertHasTotal, "long", int64(a.Total))
	opt("reorder_point", ledger.AlertHasReorderPoint, "long", int64(a.ReorderPoint))
	opt("transfer_id", ledger.AlertHasTransferID, "string", a.TransferID)
	opt("expected", ledger.AlertHasExpected, "long", int64(a.Expected))
	opt("received", ledger.AlertHasReceived, "long", int64(a.Received))
	opt("short", ledger.AlertHasShort, "long", int64(a.Short))
	opt("projected", ledger.AlertHasProjected, "long", int64(a.Projected))
	opt("sold28", ledger.AlertHasSold28, "long", int64(a.Sold28))
	opt("days_of_cover", ledger.AlertHasDaysOfCover, "long", int64(a.DaysOfCover))
	opt("lead_time_days", ledger.AlertHasLeadTimeDays, "long", int64(a.LeadTimeDays))
	return m
}

func randomHoldResult(rng *rand.Rand) ledger.HoldResult {
	h := ledger.HoldResult{
		HoldID: randomString(rng), SKU: randomString(rng), Channel: randomCode(rng),
		Status:    ledger.HoldStatus(rng.IntN(int(ledger.HoldConverted) + 1)),
		Requested: ledger.Qty(randomLong(rng)), Granted: ledger.Qty(randomLong(rng)), Available: ledger.Qty(randomLong(rng)),
		ExpiresAt: randomLong(rng), Version: uint64(randomLong(rng)), CauseEventID: randomString(rng), OccurredAt: randomLong(rng),
	}
	if rng.IntN(2) == 0 {
		h.Location = randomCode(rng) + "l" // "" is null: none
	}
	return h
}

func holdResultNative(h *ledger.HoldResult) map[string]any {
	var loc any
	if h.Location != "" {
		loc = goavro.Union("string", h.Location)
	}
	return map[string]any{"hold_id": h.HoldID, "sku": h.SKU, "channel": h.Channel, "location": loc,
		"status": h.Status.String(), "requested": int64(h.Requested), "granted": int64(h.Granted),
		"available": int64(h.Available), "expires_at": h.ExpiresAt, "version": int64(h.Version),
		"cause_event_id": h.CauseEventID, "occurred_at": h.OccurredAt}
}

func randomDeadLetter(rng *rand.Rand) DeadLetter {
	reasons := ledger.Reasons()
	d := DeadLetter{
		Original: []byte(randomString(rng)), Reason: reasons[rng.IntN(len(reasons))], Detail: randomString(rng),
		Topic: randomCode(rng), Partition: int32(rng.Uint32()), Offset: randomLong(rng),
	}
	if rng.IntN(2) == 0 {
		d.EventID, d.SKU, d.Type = randomString(rng)+"e", randomString(rng)+"s", "receipt"
	}
	return d
}

func deadLetterNative(d *DeadLetter) map[string]any {
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return goavro.Union("string", s)
	}
	return map[string]any{"original": d.Original, "reason": d.Reason.String(), "detail": d.Detail,
		"topic": d.Topic, "partition": d.Partition, "offset": d.Offset,
		"event_id": opt(d.EventID), "sku": opt(d.SKU), "type": opt(d.Type)}
}

// TestOutputEncodersMatchGoavro: the hand-written encoders (updates,
// alerts, dead letters, hold results) write exactly goavro's bytes (with the specification's fingerprint in the header), and
// the tail decoders read them back.
func TestOutputEncodersMatchGoavro(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 5))
	reg := NewRegistry()
	updates := loadSchemaFile(t, "channel_stock_update.avsc")
	alerts := loadSchemaFile(t, "alert.avsc")
	deadLetters := loadSchemaFile(t, "dead_letter.avsc")
	holdResults := loadSchemaFile(t, "hold_result.avsc")
	var ev ledger.Event
	for range 2000 {
		u := randomUpdate(rng)
		got := AppendUpdate([]byte("x"), &u)[1:]
		want, err := updates.single(updateNative(&u))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendUpdate %+v\n got %x\nwant %x", u, got, want)
		}
		var u2 ledger.Update
		if err := reg.DecodeUpdate(got, &u2); err != nil || u2 != u {
			t.Fatalf("DecodeUpdate: %v\n got %+v\nwant %+v", err, u2, u)
		}
		if r, _, err := reg.DecodeEvent(got, &ev); r != ledger.ReasonUnknownType || err != nil {
			t.Fatalf("an update decoded as an event: %s (err %v)", r, err)
		}

		a := randomAlert(rng)
		got = AppendAlert(nil, &a)
		if want, err = alerts.single(alertNative(&a)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("AppendAlert %+v (%v)\n got %x\nwant %x", a, err, got, want)
		}
		var a2 ledger.Alert
		if err := reg.DecodeAlert(got, &a2); err != nil || a2 != a {
			t.Fatalf("DecodeAlert: %v\n got %+v\nwant %+v", err, a2, a)
		}

		d := randomDeadLetter(rng)
		got = AppendDeadLetter(nil, &d)
		if want, err = deadLetters.single(deadLetterNative(&d)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("AppendDeadLetter %+v (%v)\n got %x\nwant %x", d, err, got, want)
		}
		var d2 DeadLetter
		err = reg.DecodeDeadLetter(got, &d2)
		if len(d.Original) == 0 {
			d.Original = nil // empty either way
		}
		if err != nil || !reflect.DeepEqual(d2, d) {
			t.Fatalf("DecodeDeadLetter: %v\n got %+v\nwant %+v", err, d2, d)
		}

		h := randomHoldResult(rng)
		got = AppendHoldResult(nil, &h)
		if want, err = holdResults.single(holdResultNative(&h)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("AppendHoldResult %+v (%v)\n got %x\nwant %x", h, err, got, want)
		}
		var h2 ledger.HoldResult
		if err := reg.DecodeHoldResult(got, &h2); err != nil || h2 != h {
			t.Fatalf("DecodeHoldResult: %v\n got %+v\nwant %+v", err, h2, h)
		}
	}
}

func TestOutputDecodersRefuse(t *testing.T) {
	reg := NewRegistry()
	var u ledger.Update
	if err := reg.DecodeUpdate(AppendAlert(nil, &ledger.Alert{}), &u); err == nil || !strings.Contains(err.Error(), "stockledger.Alert") {
		t.Errorf("an alert as an update: %v", err)
	}
	b := AppendUpdate(nil, &ledger.Update{Channel: "web"})
	if err := reg.DecodeUpdate(b[:len(b)-1], &u); err == nil {
		t.Error("a truncated update decoded")
	}
	if err := reg.DecodeUpdate(append(b, 0), &u); err == nil {
		t.Error("an update with a trailing byte decoded")
	}
	if err := reg.DecodeUpdate([]byte("nope"), &u); err == nil {
		t.Error("garbage decoded")
	}
}

// unicodeText is s as a reader of Unicode text gets it: each byte that is
// not part of valid UTF-8 becomes U+FFFD (Go's conversion to runes, as
// encoding/json writes such bytes).
func unicodeText(s string) string { return string([]rune(s)) }

// textField is a text field of an output: its name in the Avro schema and
// the JSON form, what the ledger handed the encoder, and whether it is set
// (an optional field that is not set is null, or absent from the JSON).
type textField struct {
	avro, json string
	in         string
	set        bool
}

// FuzzOutputEncoders: whatever bytes an output's text fields hold (a dead
// letter's event_id, sku and type are read from an event that may not be
// UTF-8), every output decodes with a second Avro library (goavro) and with
// encoding/json to valid UTF-8 equal to the input with invalid bytes as
// U+FFFD, in single-object and Confluent framing, Avro and JSON Lines (as
// written directly, and by tail from the Avro); a dead letter's original
// bytes come back whole. fastavro and other strict readers fail on a
// string that is not UTF-8 (TestPythonDecodesInvalidUTF8DeadLetter).
func FuzzOutputEncoders(f *testing.F) {
	f.Add([]byte("PROD-\xff"), []byte("e-\xfe"), []byte("receipt"), []byte("{\"sku\":\"PROD-\xff\"}"))
	f.Add([]byte("\xc3"), []byte("\xed\xa0\x80"), []byte("caf\xe9"), []byte("\xc3\x01\xff"))
	f.Add([]byte("TEE-RED-M"), []byte("dc-east"), []byte("\xf0\x9f\x98"), []byte{})
	f.Add([]byte("web"), []byte("SKU-\u00e9\U0001F600"), []byte("o-1"), []byte("plain bytes"))
	reg := NewRegistry()
	fr := &Framing{update: schemaID{101, true}, alert: schemaID{102, true}, deadLetter: schemaID{103, true}, holdResult: schemaID{104, true}}
	f.Fuzz(func(t *testing.T, b1, b2, b3, original []byte) {
		s1, s2, s3 := string(b1), string(b2), string(b3)
		u := ledger.Update{Channel: s1, SKU: s2, Available: 3, Version: 7, CauseEventID: s3, OccurredAt: 1}
		uf := []textField{{"channel", "channel", s1, true}, {"sku", "sku", s2, true}, {"cause_event_id", "cause_event_id", s3, true}}
		checkOutput(t, reg, "channel_stock_update.avsc", uf, nil, AppendUpdate(nil, &u), fr.AppendUpdate(nil, &u), AppendUpdateJSON(nil, &u))

		a := ledger.Alert{Kind: ledger.AlertKinds()[len(s1)%len(ledger.AlertKinds())], SKU: s1, Location: s2, Channel: s3,
			POID: s2 + s1, OrderID: s3 + s2, CauseEventID: s1 + s3, Version: 2, OccurredAt: 1,
			Has: ledger.AlertHasLocation | ledger.AlertHasChannel | ledger.AlertHasPOID | ledger.AlertHasOrderID}
		af := []textField{{"sku", "sku", a.SKU, true}, {"location", "location", a.Location, true}, {"channel", "channel", a.Channel, true},
			{"po_id", "po_id", a.POID, true}, {"order_id", "order_id", a.OrderID, true}, {"cause_event_id", "cause_event_id", a.CauseEventID, true}}
		checkOutput(t, reg, "alert.avsc", af, nil, AppendAlert(nil, &a), fr.AppendAlert(nil, &a), AppendAlertJSON(nil, &a))

		d := DeadLetter{Original: original, Reason: ledger.ReasonInvalidField, Detail: "sku " + s1 + " is not a valid code",
			Topic: s2 + s3, Partition: 1, Offset: 2, EventID: s3, SKU: s1, Type: s2}
		df := []textField{{"detail", "detail", d.Detail, true}, {"topic", "topic", d.Topic, true},
			{"event_id", "event_id", s3, s3 != ""}, {"sku", "sku", s1, s1 != ""}, {"type", "event_type", s2, s2 != ""}}
		checkOutput(t, reg, "dead_letter.avsc", df, original, AppendDeadLetter(nil, &d), fr.AppendDeadLetter(nil, &d), reg.AppendDeadLetterJSON(nil, &d))

		lu := ledger.Update{Channel: s1, SKU: s2, ListingSKU: s3 + s1, Available: 1, Version: 8, CauseEventID: s2, OccurredAt: 1}
		luf := []textField{{"channel", "channel", s1, true}, {"sku", "sku", s2, true}, {"listing_sku", "listing_sku", lu.ListingSKU, lu.ListingSKU != ""}}
		checkOutput(t, reg, "channel_stock_update.avsc", luf, nil, AppendUpdate(nil, &lu), fr.AppendUpdate(nil, &lu), AppendUpdateJSON(nil, &lu))

		ta := ledger.Alert{Kind: ledger.AlertTransferShort, SKU: s2, TransferID: s1 + s3, Expected: 8, Short: 3, Version: 2, OccurredAt: 1,
			Has: ledger.AlertHasTransferID | ledger.AlertHasExpected | ledger.AlertHasShort}
		taf := []textField{{"sku", "sku", s2, true}, {"transfer_id", "transfer_id", ta.TransferID, true}}
		checkOutput(t, reg, "alert.avsc", taf, nil, AppendAlert(nil, &ta), fr.AppendAlert(nil, &ta), AppendAlertJSON(nil, &ta))

		h := ledger.HoldResult{HoldID: s1, SKU: s2, Channel: s3, Location: s2 + s3, Status: ledger.HoldPartial, Requested: 2, Granted: 1,
			ExpiresAt: 2, Version: 3, CauseEventID: s3 + s1, OccurredAt: 1}
		hf := []textField{{"hold_id", "hold_id", s1, true}, {"sku", "sku", s2, true}, {"channel", "channel", s3, true},
			{"location", "location", h.Location, h.Location != ""}, {"cause_event_id", "cause_event_id", h.CauseEventID, true}}
		checkOutput(t, reg, "hold_result.avsc", hf, nil, AppendHoldResult(nil, &h), fr.AppendHoldResult(nil, &h), AppendHoldResultJSON(nil, &h))
	})
}

// checkOutput decodes one output in every form it is written in and
// checks its text fields (and original, for a dead letter).
func checkOutput(t *testing.T, reg *Registry, schema string, fields []textField, original []byte, single, confluent, line []byte) {
	t.Helper()
	sf := loadSchemaFile(t, schema)
	if len(confluent) < 5 || confluent[0] != 0 {
		t.Fatalf("%s: not Confluent framed: %x", schema, confluent)
	}
	for form, body := range map[string][]byte{"single-object": single[len(sf.header):], "confluent": confluent[5:]} {
		if !bytes.HasPrefix(single, sf.header) {
			t.Fatalf("%s: header %x", schema, single)
		}
		native, rest, err := sf.codec.NativeFromBinary(body)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%s %s: goavro: %v (%d bytes left)", schema, form, err, len(rest))
		}
		m := native.(map[string]any)
		for _, f := range fields {
			checkDecodedText(t, schema+" "+form+" "+f.avro, avroText(m[f.avro]), f)
		}
		if original != nil && !bytes.Equal(m["original"].([]byte), original) {
			t.Fatalf("%s %s: original %q, want %q", schema, form, m["original"], original)
		}
	}
	checkJSONOutput(t, schema+" JSON", line, fields, original)
	fromAvro, err := reg.AppendMessageJSON(nil, single)
	if err != nil {
		t.Fatalf("%s: tail's JSON: %v", schema, err)
	}
	checkJSONOutput(t, schema+" tail's JSON", fromAvro, fields, original)
}

// avroText reads a goavro string, or ["null","string"] value; nil for null.
func avroText(v any) any {
	if m, ok := v.(map[string]any); ok {
		return m["string"]
	}
	return v
}

func checkDecodedText(t *testing.T, what string, got any, f textField) {
	t.Helper()
	if !f.set {
		if got != nil {
			t.Fatalf("%s: %q, want null", what, got)
		}
		return
	}
	s, ok := got.(string)
	if !ok {
		t.Fatalf("%s: %#v, want a string", what, got)
	}
	if !utf8.ValidString(s) || s != unicodeText(f.in) {
		t.Fatalf("%s: %q (valid UTF-8: %v) from %q, want %q", what, s, utf8.ValidString(s), f.in, unicodeText(f.in))
	}
}

func checkJSONOutput(t *testing.T, what string, line []byte, fields []textField, original []byte) {
	t.Helper()
	if !utf8.Valid(line) {
		t.Fatalf("%s is not UTF-8: %q", what, line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v: %s", what, err, line)
	}
	for _, f := range fields {
		checkDecodedText(t, what+" "+f.json, m[f.json], f)
	}
	if original == nil {
		return
	}
	b, err := base64.StdEncoding.DecodeString(m["original"].(string))
	if err != nil || !bytes.Equal(b, original) {
		t.Fatalf("%s: original %q (%v), want %q", what, b, err, original)
	}
}
