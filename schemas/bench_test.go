package schemas

import (
	"encoding/binary"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

// benchEvents are one typical message of every event type, written by
// goavro: ids unique-looking, codes from a small set.
func benchEvents(b *testing.B) [][]byte {
	const has = ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldSource
	var out [][]byte
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(b, typ)
		ev := ledger.Event{Type: typ, ID: "evt-0000000042-abcdef", SKU: "TEE-RED-M-2026", OccurredAt: 1_795_860_000_123_456,
			Source: "wms-east", Location: "dc-east", ToLocation: "store-12", Channel: "amazon", POID: "PO-2026-000017",
			OrderID: "W-1001-xyz", TransferID: "T-77", Qty: 12, Counted: 40, OnHandDelta: -3, UnavailableDelta: 1,
			Reason: "damaged", Resellable: true, ReorderPoint: 20, Buffer: 5, SharePct: 80, MaxQty: 100,
			SafetyStock: []ledger.LocQty{{Location: "dc-east", Qty: 4}, {Location: "store-12", Qty: 1}},
			Locations:   []string{"dc-east", "dc-west"}, Has: has | ^ledger.Field(0)}
		m, err := sf.single(eventNative(&ev, sf))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func receiptMessage(b *testing.B) []byte { return benchEvents(b)[ledger.TypeReceipt-1] }

// BenchmarkDecodeEventFast: the hot path, a Decoder with interning.
func BenchmarkDecodeEventFast(b *testing.B) {
	reg := NewRegistry()
	b.Run("receipt", func(b *testing.B) {
		msg := receiptMessage(b)
		dec := reg.NewDecoder(DecoderConfig{})
		var ev ledger.Event
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if r, d, err := dec.Decode(msg, &ev); r != ledger.ReasonNone || err != nil {
				b.Fatal(r, d, err)
			}
		}
	})
	b.Run("all-types", func(b *testing.B) {
		msgs := benchEvents(b)
		dec := reg.NewDecoder(DecoderConfig{})
		var ev ledger.Event
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if r, d, err := dec.Decode(msgs[i%len(msgs)], &ev); r != ledger.ReasonNone || err != nil {
				b.Fatal(r, d, err)
			}
			i++
		}
	})
	b.Run("receipt-no-intern", func(b *testing.B) {
		msg := receiptMessage(b)
		var ev ledger.Event
		b.ReportAllocs()
		for b.Loop() {
			if r, d, err := reg.DecodeEvent(msg, &ev); r != ledger.ReasonNone || err != nil {
				b.Fatal(r, d, err)
			}
		}
	})
}

// BenchmarkDecodeEventGoavro: goavro's generic decoder on the same bytes,
// with the same fingerprint lookup, for comparison.
// BenchmarkDecodeEventConfluent: the same receipt in the Confluent wire
// format, its id known (registered at start-up, as writers do).
func BenchmarkDecodeEventConfluent(b *testing.B) {
	reg := NewRegistry()
	if _, err := reg.AddSchemaID(7, EventSchema(ledger.TypeReceipt)); err != nil {
		b.Fatal(err)
	}
	msg := append([]byte{0, 0, 0, 0, 7}, receiptMessage(b)[soeHeaderLen:]...)
	dec := reg.NewDecoder(DecoderConfig{})
	var ev ledger.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if r, d, err := dec.Decode(msg, &ev); r != ledger.ReasonNone || err != nil {
			b.Fatal(r, d, err)
		}
	}
}

func BenchmarkDecodeEventGoavro(b *testing.B) {
	codecs := map[uint64]*goavro.Codec{}
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(b, typ)
		codecs[binary.LittleEndian.Uint64(sf.header[2:])] = sf.codec
	}
	run := func(b *testing.B, msgs [][]byte) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			msg := msgs[i%len(msgs)]
			i++
			if _, _, err := codecs[binary.LittleEndian.Uint64(msg[2:])].NativeFromBinary(msg[10:]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("receipt", func(b *testing.B) { run(b, [][]byte{receiptMessage(b)}) })
	b.Run("all-types", func(b *testing.B) { run(b, benchEvents(b)) })
}

func BenchmarkAppendUpdate(b *testing.B) {
	u := ledger.Update{Channel: "amazon", SKU: "TEE-RED-M-2026", Available: 812, Previous: 815, HasPrevious: true,
		Version: 123456, CauseEventID: "evt-0000000042-abcdef", OccurredAt: 1_795_860_000_123_456}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendUpdate(buf[:0], &u)
	}
}

func BenchmarkAppendUpdateGoavro(b *testing.B) {
	u := ledger.Update{Channel: "amazon", SKU: "TEE-RED-M-2026", Available: 812, Previous: 815, HasPrevious: true,
		Version: 123456, CauseEventID: "evt-0000000042-abcdef", OccurredAt: 1_795_860_000_123_456}
	codec := loadSchemaFile(b, "channel_stock_update.avsc").codec
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = codec.SingleFromNative(buf[:0], updateNative(&u)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendAlert(b *testing.B) {
	a := ledger.Alert{Kind: ledger.AlertOversold, SKU: "TEE-RED-M-2026", Location: "dc-east", Channel: "amazon",
		OrderID: "W-1001-xyz", Shortfall: 2, Has: ledger.AlertHasLocation | ledger.AlertHasChannel | ledger.AlertHasOrderID | ledger.AlertHasShortfall,
		Version: 123456, CauseEventID: "evt-0000000042-abcdef", OccurredAt: 1_795_860_000_123_456}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAlert(buf[:0], &a)
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	reg := NewRegistry()
	var ev ledger.Event
	if r, d, err := reg.DecodeEvent(receiptMessage(b), &ev); r != ledger.ReasonNone || err != nil {
		b.Fatal(r, d, err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = EncodeEvent(buf[:0], &ev)
	}
}

func BenchmarkParseEventJSON(b *testing.B) {
	line := []byte(`{"event_id":"r-1","type":"receipt","sku":"TEE-RED-M","occurred_at":"2026-11-22T10:00:00Z","location":"dc-east","qty":100,"po_id":"PO-17"}`)
	var ev ledger.Event
	b.ReportAllocs()
	for b.Loop() {
		if r, d := ParseEventJSON(line, &ev); r != ledger.ReasonNone {
			b.Fatal(r, d)
		}
	}
}

func BenchmarkAppendUpdateJSON(b *testing.B) {
	u := ledger.Update{Channel: "amazon", SKU: "TEE-RED-M-2026", Available: 812, Version: 123456,
		CauseEventID: "evt-0000000042-abcdef", OccurredAt: 1_795_860_000_123_456}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendUpdateJSON(buf[:0], &u)
	}
}
