package schemas

import (
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
)

// FuzzDecodeEvent: the decoder never panics on arbitrary bytes, agrees with
// goavro on whether a message decodes (and on the event when it does), and
// the Registry and Decoder paths agree with each other.
func FuzzDecodeEvent(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	addDecodeSeeds(f, rng)

	// Who goavro says wrote a fingerprint: an event type's schema (under the
	// specification's and goavro's fingerprints), or an output's.
	type writer struct {
		sf  *schemaFile
		typ ledger.EventType // TypeUnknown: not an event
	}
	writers := map[uint64]writer{}
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(f, typ)
		writers[binary.LittleEndian.Uint64(sf.header[2:])] = writer{sf, typ}
		writers[sf.codec.Rabin] = writer{sf, typ}
	}
	for _, p := range []string{"channel_stock_update.avsc", "alert.avsc", "dead_letter.avsc", "hold_result.avsc", "listing_binding.avsc"} {
		sf := loadSchemaFile(f, filepath.Clean(p))
		writers[binary.LittleEndian.Uint64(sf.header[2:])] = writer{sf, ledger.TypeUnknown}
		writers[sf.codec.Rabin] = writer{sf, ledger.TypeUnknown}
	}
	// Schema registry ids: writer i has id 100+i (Confluent framing).
	reg := NewRegistry()
	byID := map[uint32]writer{}
	for _, w := range writers {
		id := uint32(100 + len(byID))
		if _, err := reg.AddSchemaID(id, w.sf.text); err != nil {
			f.Fatal(err)
		}
		byID[id] = w
		if w.typ != ledger.TypeUnknown {
			ev := randomEvent(rng, w.typ, w.sf)
			body, err := w.sf.codec.BinaryFromNative(nil, eventNative(&ev, w.sf))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(append(binary.BigEndian.AppendUint32([]byte{0}, id), body...))
		}
	}
	dec := reg.NewDecoder(DecoderConfig{})
	withGoavroLimits(f)

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			t.Skip("longer than the goavro block limit the test sets")
		}
		var ev, ev2 ledger.Event
		r, d, err := reg.DecodeEvent(b, &ev)
		r2, d2, err2 := dec.Decode(b, &ev2)
		if r != r2 || d != d2 || err != nil || err2 != nil {
			t.Fatalf("Registry: %s %q (err %v); Decoder: %s %q (err %v)", r, d, err, r2, d2, err2)
		}
		if r == ledger.ReasonNone {
			sameEvent(t, "Registry vs Decoder", ev, ev2)
		}
		checkPeek(t, dec, b, r2, &ev2)
		var w writer
		var ok bool
		hdr := 10
		switch {
		case len(b) >= 5 && b[0] == 0: // Confluent: 0, a 4-byte id
			hdr = 5
			w, ok = byID[binary.BigEndian.Uint32(b[1:])]
		case len(b) < 10 || b[0] != 0xC3 || b[1] != 0x01:
			if r != ledger.ReasonUndecodable {
				t.Fatalf("bad framing: %s %q", r, d)
			}
			return
		default:
			w, ok = writers[binary.LittleEndian.Uint64(b[2:])]
		}
		switch {
		case !ok:
			if r != ledger.ReasonUnknownSchema {
				t.Fatalf("unknown fingerprint: %s %q", r, d)
			}
		case w.typ == ledger.TypeUnknown:
			if r != ledger.ReasonUnknownType {
				t.Fatalf("an output schema: %s %q", r, d)
			}
		default:
			native, rest, err := w.sf.codec.NativeFromBinary(b[hdr:])
			goavroOK := err == nil && len(rest) == 0
			switch {
			case goavroOK && r != ledger.ReasonNone:
				t.Fatalf("goavro decodes it, we say %s: %s", r, d)
			case !goavroOK && r != ledger.ReasonUndecodable:
				t.Fatalf("goavro fails (%v, rest %d), we say %s", err, len(rest), r)
			case goavroOK:
				sameEvent(t, "vs goavro", ev, nativeEvent(w.typ, native))
			}
		}
	})
}

// addDecodeSeeds seeds FuzzDecodeEvent: random events of every type (under
// the specification's and goavro's fingerprints), a null sku, framing edge
// cases and an output.
func addDecodeSeeds(f *testing.F, rng *rand.Rand) {
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(f, typ)
		for range 3 {
			ev := randomEvent(rng, typ, sf)
			b, err := sf.single(eventNative(&ev, sf))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
		ev := randomEvent(rng, typ, sf)
		goavroHeaded, err := sf.codec.SingleFromNative(nil, eventNative(&ev, sf))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(goavroHeaded)
	}
	f.Add([]byte{})
	f.Add([]byte{0xC3, 0x01})
	f.Add(AppendUpdate(nil, &ledger.Update{Channel: "web", SKU: "TEE"}))
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0, 0, 0, 0x7f, 0x7f, 2})
	unresolved := ledger.Event{Type: ledger.TypeHoldReleased, ID: "r", HoldID: "H-1", ListingSKU: "TEE-6PK",
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldOccurredAt | ledger.FieldHoldID | ledger.FieldListingSKU}
	if b, err := EncodeEvent(nil, &unresolved); err == nil {
		f.Add(b) // a null sku
	}
}

// FuzzParseEventJSON: the JSON parser never panics, accepts only UTF-8,
// and what it accepts renders to a line it reads back the same.
func FuzzParseEventJSON(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, typ := range ledger.EventTypes() {
		ev := randomJSONEvent(rng, typ)
		f.Add(AppendEventJSON(nil, &ev))
	}
	f.Add([]byte(`{"type":"receipt","qty":1e3}`))
	f.Add([]byte(`{"event_id":"o2","type":"order","occurred_at":"2026-11-27T10:00:00Z","channel":"web","order_id":"W-8","qty":1,"listing_sku":"TEE-6PK"}`))
	f.Add([]byte(`{"event_id":"h","type":"hold","sku":"T","occurred_at":"2026-11-27T10:00:00Z","hold_id":"H","channel":"w","qty":1,"expires_at":"9999-12-31T23:59:59.999999-01:00","allow_partial":false}`))
	f.Add([]byte("{\"type\":\"receipt\",\"event_id\":\"e\",\"sku\":\"PROD-\xff\",\"occurred_at\":\"2026-11-22T10:00:00Z\",\"location\":\"dc\",\"qty\":5}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev, again ledger.Event
		if r, _ := ParseEventJSON(line, &ev); r != ledger.ReasonNone {
			return
		}
		if !utf8.Valid(line) {
			t.Fatalf("accepted %q, which is not UTF-8", line)
		}
		ledger.Validate(&ev)
		for _, us := range []int64{ev.OccurredAt, ev.ExpiresAt} {
			if us < jsonTimeMin || us > jsonTimeMax {
				return // past year 9999 after a time zone shift: RFC 3339 cannot show it
			}
		}
		out := AppendEventJSON(nil, &ev)
		if r, d := ParseEventJSON(out, &again); r != ledger.ReasonNone {
			t.Fatalf("%s -> %s: %s %s", line, out, r, d)
		}
		sameEvent(t, string(out), again, ev)
	})
}
