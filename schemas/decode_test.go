package schemas

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/stockledger/stockledger/ledger"
)

func TestSlotsFollowLedgerFields(t *testing.T) {
	for s := slot(0); s < numSlots; s++ {
		if name := s.field().String(); name == "unknown" {
			t.Fatalf("slot %d names no ledger field", s)
		}
	}
	if ledger.Field(1<<numSlots).String() != "unknown" {
		t.Fatal("ledger has fields past the slots")
	}
	for name, f := range map[string]ledger.Field{
		"event_id": ledger.FieldEventID, "type": ledger.FieldType, "location": ledger.FieldLocation,
		"qty": ledger.FieldQty, "locations": ledger.FieldLocations, "max_qty": ledger.FieldMaxQty,
	} {
		if slotByName[name].field() != f {
			t.Errorf("slot of %s is %v, want %v", name, slotByName[name].field(), f)
		}
	}
}

func TestSchemasHaveDocsAndShape(t *testing.T) {
	check := func(path, wantName string, sku bool) {
		sf := loadSchemaFile(t, path)
		if !strings.Contains(sf.text, `"namespace"`) {
			t.Errorf("%s: no namespace", path)
		}
		if n := sf.codec.Schema(); !strings.Contains(n, wantName) {
			t.Errorf("%s: want record %s", path, wantName)
		}
		if strings.Count(sf.text, `"doc"`) < len(sf.fields)+1 {
			t.Errorf("%s: every field and the record need a doc", path)
		}
		var names []string
		for _, f := range sf.fields {
			names = append(names, f.name)
		}
		if sku {
			if strings.Join(names[:4], ",") != "event_id,sku,occurred_at,source" {
				t.Errorf("%s: common fields are %v", path, names[:4])
			}
		}
	}
	for _, typ := range ledger.EventTypes() {
		camel := ""
		for _, p := range strings.Split(typ.String(), "_") {
			camel += strings.ToUpper(p[:1]) + p[1:]
		}
		check("events/"+typ.String()+".avsc", `"`+camel+`"`, !typ.Broadcast())
	}
	check("channel_stock_update.avsc", "ChannelStockUpdate", false)
	check("alert.avsc", "Alert", false)
	check("dead_letter.avsc", "DeadLetter", false)
	check("hold_result.avsc", "HoldResult", false)
	check("listing_binding.avsc", "ListingBinding", false)
}

// TestDecodeMatchesGoavro: random events of every type, encoded by goavro,
// decode through the fast path to the event they came from and to what
// goavro's own decoder reads.
func TestDecodeMatchesGoavro(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	reg := NewRegistry()
	dec := reg.NewDecoder(DecoderConfig{InternMaxStrings: 8}) // small: exercise the reset
	// A caller's sku strings, with interning off: every other string is
	// the decoder's own.
	held := map[string]string{}
	hooked := reg.NewDecoder(DecoderConfig{InternMaxStrings: -1, SKU: func(b []byte) string {
		s, ok := held[string(b)]
		if !ok {
			s = string(b)
			held[s] = s
		}
		return s
	}})
	var got ledger.Event
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		for i := range 300 {
			want := randomEvent(rng, typ, sf)
			b, err := sf.single(eventNative(&want, sf))
			if err != nil {
				t.Fatalf("%s: goavro encode: %v", typ, err)
			}
			if r, d, err := reg.DecodeEvent(b, &got); r != ledger.ReasonNone || err != nil {
				t.Fatalf("%s #%d: %s: %s (err %v)", typ, i, r, d, err)
			}
			sameEvent(t, typ.String()+" vs source", got, want)

			native, rest, err := sf.native(b)
			if err != nil || len(rest) != 0 {
				t.Fatalf("goavro decode: %v (rest %d)", err, len(rest))
			}
			sameEvent(t, typ.String()+" vs goavro", got, nativeEvent(typ, native))

			if r, d, err := dec.Decode(b, &got); r != ledger.ReasonNone || err != nil {
				t.Fatalf("%s: Decoder: %s: %s (err %v)", typ, r, d, err)
			}
			sameEvent(t, typ.String()+" Decoder vs source", got, want)

			if r, d, err := hooked.Decode(b, &got); r != ledger.ReasonNone || err != nil {
				t.Fatalf("%s: Decoder with SKU: %s: %s (err %v)", typ, r, d, err)
			}
			sameEvent(t, typ.String()+" Decoder with SKU vs source", got, want)
			if h, ok := held[got.SKU]; got.Has&ledger.FieldSKU != 0 && (!ok || unsafe.StringData(h) != unsafe.StringData(got.SKU)) {
				t.Fatalf("%s: sku %q is not the string the SKU func returned", typ, got.SKU)
			}
		}
	}
}

// TestEncodeEventMatchesGoavro: EncodeEvent's bytes decode in goavro to the
// event, and equal goavro's own encoding when map order cannot differ.
func TestEncodeEventMatchesGoavro(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		for range 300 {
			ev := randomEvent(rng, typ, sf)
			b, err := EncodeEvent([]byte("prefix"), &ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatal("EncodeEvent dropped dst")
			}
			b = b[len("prefix"):]
			native, rest, err := sf.native(b)
			if err != nil || len(rest) != 0 {
				t.Fatalf("%s: goavro cannot decode EncodeEvent's bytes: %v (rest %d)", typ, err, len(rest))
			}
			sameEvent(t, typ.String(), nativeEvent(typ, native), ev)
			if len(ev.SafetyStock) <= 1 {
				want, err := sf.single(eventNative(&ev, sf))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, want) {
					t.Fatalf("%s: EncodeEvent\n got %x\nwant %x", typ, b, want)
				}
			}
		}
	}
}

func TestEncodeEventRefuses(t *testing.T) {
	ev := ledger.Event{Type: ledger.TypeReceipt, Has: ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation}
	if _, err := EncodeEvent(nil, &ev); err == nil || !strings.Contains(err.Error(), "qty") {
		t.Errorf("receipt without qty: err %v", err)
	}
	ev.Type = ledger.TypeUnknown
	if _, err := EncodeEvent(nil, &ev); err == nil {
		t.Error("unknown type encoded")
	}
}

// TestEncodeEventDefaults: an absent resellable is written as true, an
// absent unavailable_delta as 0.
func TestEncodeEventDefaults(t *testing.T) {
	reg := NewRegistry()
	ev := ledger.Event{Type: ledger.TypeReturn, ID: "r", SKU: "S", Location: "dc", Qty: 1,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation | ledger.FieldQty}
	b, err := EncodeEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	native, _, err := eventFile(t, ledger.TypeReturn).native(b)
	if err != nil || native.(map[string]any)["resellable"] != true {
		t.Fatalf("resellable: %v %v", native, err)
	}
	var got ledger.Event
	if r, d, err := reg.DecodeEvent(b, &got); r != ledger.ReasonNone || err != nil || !got.IsResellable() {
		t.Fatalf("%s %s (err %v) %+v", r, d, err, got)
	}
}

func TestDecodeProblems(t *testing.T) {
	reg := NewRegistry()
	sf := eventFile(t, ledger.TypeReceipt)
	ev := ledger.Event{ID: "e", SKU: "S", Location: "dc", Qty: 5, POID: "PO", OccurredAt: 1,
		Has: ledger.FieldEventID | ledger.FieldSKU | ledger.FieldLocation | ledger.FieldQty | ledger.FieldOccurredAt | ledger.FieldPOID}
	good, err := sf.single(eventNative(&ev, sf))
	if err != nil {
		t.Fatal(err)
	}
	unknownFP := bytes.Clone(good)
	binary.LittleEndian.PutUint64(unknownFP[2:], 12345)
	update := AppendUpdate(nil, &ledger.Update{Channel: "web", SKU: "S", Version: 1})
	badUnion := bytes.Clone(good)
	badUnion[len(badUnion)-len("PO")-2] = 4 // po_id union index 2
	for _, tc := range []struct {
		name   string
		b      []byte
		reason ledger.Reason
		detail string
	}{
		{"empty", nil, ledger.ReasonUndecodable, "shorter than"},
		{"short", good[:9], ledger.ReasonUndecodable, "shorter than"},
		{"bad magic", append([]byte{0xC3, 0x02}, good[2:]...), ledger.ReasonUndecodable, "single-object marker"},
		{"json", []byte(`{"event_id":"x","type":"receipt"}`), ledger.ReasonUndecodable, "single-object marker"},
		{"unknown fingerprint", unknownFP, ledger.ReasonUnknownSchema, "0000000000003039"},
		{"header only", good[:10], ledger.ReasonUndecodable, "event_id"},
		{"trailing byte", append(bytes.Clone(good), 0), ledger.ReasonUndecodable, "1 bytes after"},
		{"union index", badUnion, ledger.ReasonUndecodable, "po_id: index 2 out of range"},
		{"not an event", update, ledger.ReasonUnknownType, "stockledger.ChannelStockUpdate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got ledger.Event
			for _, decode := range []func([]byte, *ledger.Event) (ledger.Reason, string, error){
				reg.DecodeEvent, reg.NewDecoder(DecoderConfig{}).Decode,
			} {
				r, d, err := decode(tc.b, &got)
				if r != tc.reason || !strings.Contains(d, tc.detail) || err != nil {
					t.Fatalf("got %s %q (err %v), want %s containing %q", r, d, err, tc.reason, tc.detail)
				}
			}
		})
	}
	// Every truncation of a good message is undecodable, never a panic.
	for n := range len(good) {
		var got ledger.Event
		if r, d, err := reg.DecodeEvent(good[:n], &got); r != ledger.ReasonUndecodable || err != nil {
			t.Fatalf("truncated to %d: %s %s (err %v)", n, r, d, err)
		}
	}
}

// TestDecodeGarbage: mutated messages never panic, and are undecodable
// exactly when goavro cannot decode them; when both decode, they agree.
func TestDecodeGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	reg := NewRegistry()
	dec := reg.NewDecoder(DecoderConfig{})
	withGoavroLimits(t)
	var ev ledger.Event
	decoded, total := 0, 0
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		for range 2000 {
			src := randomEvent(rng, typ, sf)
			b, err := sf.single(eventNative(&src, sf))
			if err != nil {
				t.Fatal(err)
			}
			b = mutate(rng, b)
			total++
			if checkAgainstGoavro(t, reg, sf, typ, b, &ev) {
				decoded++
			}
			r, _, err := dec.Decode(b, &ev)
			if err != nil {
				t.Fatal(err)
			}
			checkPeek(t, dec, b, r, &ev)
		}
	}
	t.Logf("%d of %d mutated messages decoded", decoded, total)
	if decoded == 0 || decoded == total {
		t.Error("the comparison is one-sided")
	}
}

// mutate changes one to three bytes of a message's body (or its length).
func mutate(rng *rand.Rand, b []byte) []byte {
	for range 1 + rng.IntN(3) {
		if len(b) <= soeHeaderLen {
			break
		}
		i := soeHeaderLen + rng.IntN(len(b)-soeHeaderLen)
		switch rng.IntN(5) {
		case 0:
			b[i] = byte(rng.UintN(256))
		case 1:
			b[i] = byte(rng.UintN(4)) // small: lengths, indexes, booleans
		case 2:
			b[i] ^= 0x80 // continue or end a varint
		case 3:
			b = b[:i]
		case 4:
			b = append(b[:i:i], append([]byte{byte(rng.UintN(256))}, b[i:]...)...)
		}
	}
	return b
}

// checkAgainstGoavro decodes b both ways and insists they agree on whether
// it decodes and, when it does, on the event. It reports whether it did.
func checkAgainstGoavro(t testing.TB, reg *Registry, sf *schemaFile, typ ledger.EventType, b []byte, ev *ledger.Event) bool {
	t.Helper()
	r, d, err := reg.DecodeEvent(b, ev)
	if err != nil {
		t.Fatalf("%x: %v", b, err)
	}
	native, rest, err := sf.native(b)
	goavroOK := err == nil && len(rest) == 0
	switch {
	case goavroOK && r != ledger.ReasonNone:
		t.Fatalf("%x: goavro decodes it, we say %s: %s", b, r, d)
	case !goavroOK && r != ledger.ReasonUndecodable:
		t.Fatalf("%x: goavro fails (%v, rest %d), we say %s", b, err, len(rest), r)
	case goavroOK:
		sameEvent(t, "garbage", *ev, nativeEvent(typ, native))
	}
	return goavroOK
}

// TestDecodeAllocations: with interning, an event whose codes were seen
// before allocates only its event_id and sku.
func TestDecodeAllocations(t *testing.T) {
	reg := NewRegistry()
	sf := eventFile(t, ledger.TypePOSSale)
	ev := ledger.Event{Type: ledger.TypePOSSale, ID: "sale-000000001", SKU: "TEE-RED-M-2026", Source: "pos-system", Channel: "pos-store-12",
		Location: "store-12", Qty: 1, OccurredAt: 1_795_860_000_123_456,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldSource | ledger.FieldChannel | ledger.FieldLocation | ledger.FieldQty}
	msg, err := sf.single(eventNative(&ev, sf))
	if err != nil {
		t.Fatal(err)
	}
	dec := reg.NewDecoder(DecoderConfig{})
	var got ledger.Event
	allocs := testing.AllocsPerRun(1000, func() {
		if r, d, err := dec.Decode(msg, &got); r != ledger.ReasonNone || err != nil {
			t.Fatal(r, d, err)
		}
	})
	if allocs > 2 {
		t.Errorf("%.1f allocations per decode, want 2 (event_id, sku)", allocs)
	}
	sameEvent(t, "pos_sale", got, ev)

	// A caller that holds the sku's name (DecoderConfig.SKU) saves its
	// allocation.
	name := ev.SKU
	dec = reg.NewDecoder(DecoderConfig{SKU: func(b []byte) string {
		if string(b) == name {
			return name
		}
		return string(b)
	}})
	allocs = testing.AllocsPerRun(1000, func() {
		if r, d, err := dec.Decode(msg, &got); r != ledger.ReasonNone || err != nil {
			t.Fatal(r, d, err)
		}
	})
	if allocs > 1 {
		t.Errorf("%.1f allocations per decode with the SKU func, want 1 (event_id)", allocs)
	}
	sameEvent(t, "pos_sale with the SKU func", got, ev)
}

// TestInternerRecent: codes that share a slot of the interner's recent
// strings (same length, same first, middle and last bytes) come back as
// their own bytes, whatever was handed out before, through table resets.
func TestInternerRecent(t *testing.T) {
	in := &interner{m: map[string]string{}, maxStrings: 16, maxBytes: 128}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100_000 {
		b := []byte("aa-a-aa")
		b[1] = "xyz"[rng.IntN(3)]
		b[4] = "xyz"[rng.IntN(3)]
		b[5] = "xyz"[rng.IntN(3)]
		if rng.IntN(10) == 0 {
			b = b[:rng.IntN(len(b))]
		}
		want := string(b)
		if got := in.get(b); got != want {
			t.Fatalf("get(%q) = %q", want, got)
		}
	}
}

// checkPeek insists that what PeekSKU says of b agrees with b's decode
// (reason r, into ev): a sku it finds is the one the decode read.
func checkPeek(t testing.TB, dec *Decoder, b []byte, r ledger.Reason, ev *ledger.Event) {
	t.Helper()
	sku, ok := dec.PeekSKU(b)
	if !ok {
		return
	}
	if r == ledger.ReasonNone && ev.Has&ledger.FieldSKU == 0 {
		t.Fatalf("%x: PeekSKU found %q, the decode no sku", b, sku)
	}
	if ev.Has&ledger.FieldSKU != 0 && ev.SKU != string(sku) {
		t.Fatalf("%x: PeekSKU found %q, the decode %q", b, sku, ev.SKU)
	}
}

// TestPeekSKU: PeekSKU finds the sku of every event of the current
// schemas that has one (a string, or a union's string branch), none in
// channel_policy, clock or a null sku, and agrees with the decode.
func TestPeekSKU(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 11))
	reg := NewRegistry()
	dec := reg.NewDecoder(DecoderConfig{})
	var ev ledger.Event
	for _, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		for range 500 {
			src := randomEvent(rng, typ, sf)
			b, err := sf.single(eventNative(&src, sf))
			if err != nil {
				t.Fatal(err)
			}
			r, d, err := dec.Decode(b, &ev)
			if err != nil {
				t.Fatal(err)
			}
			sku, ok := dec.PeekSKU(b)
			switch {
			case src.Has&ledger.FieldSKU == 0: // channel_policy, clock, a null sku
				if ok {
					t.Fatalf("PeekSKU found %q in a %s without one", sku, typ)
				}
				continue
			case !ok:
				t.Fatalf("%s: PeekSKU found no sku (decode: %s %q)", typ, r, d)
			case string(sku) != src.SKU:
				t.Fatalf("%s: PeekSKU found %q, want %q", typ, sku, src.SKU)
			}
			checkPeek(t, dec, b, r, &ev)
		}
	}
	for _, b := range [][]byte{nil, {0xC3, 0x01}, headerFP(12345), {0, 0, 0, 0, 1, 2}} {
		if sku, ok := dec.PeekSKU(b); ok {
			t.Fatalf("%x: PeekSKU found %q", b, sku)
		}
	}
	// Confluent framing: found once the registry holds the schema id, and
	// never by asking a schema registry (none is configured here).
	for i, typ := range ledger.EventTypes() {
		sf := eventFile(t, typ)
		src := randomEvent(rng, typ, sf)
		body, err := sf.codec.BinaryFromNative(nil, eventNative(&src, sf))
		if err != nil {
			t.Fatal(err)
		}
		id := uint32(200 + i)
		b := append(binary.BigEndian.AppendUint32([]byte{0}, id), body...)
		if sku, ok := dec.PeekSKU(b); ok {
			t.Fatalf("%s: PeekSKU found %q under schema id %d, which the registry does not hold", typ, sku, id)
		}
		if _, err := reg.AddSchemaID(id, sf.text); err != nil {
			t.Fatal(err)
		}
		sku, ok := dec.PeekSKU(b)
		if want := src.Has&ledger.FieldSKU != 0; ok != want || ok && string(sku) != src.SKU {
			t.Fatalf("%s, Confluent-framed: PeekSKU %q %v, want %q %v", typ, sku, ok, src.SKU, want)
		}
		r, _, err := dec.Decode(b, &ev)
		if err != nil {
			t.Fatal(err)
		}
		checkPeek(t, dec, b, r, &ev)
	}
}
