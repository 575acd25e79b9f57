package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

// TestFingerprintsMatchFastavro: every schema's fingerprint, and the header
// every encoder writes, is the one fastavro (and Java) computes.
func TestFingerprintsMatchFastavro(t *testing.T) {
	for path, want := range fastavroFingerprints() {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fp, err := Fingerprint(string(text))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := headerFP(fp)[2:]; !bytes.Equal(got, want) {
			t.Errorf("%s: fingerprint %x, fastavro %x", path, got, want)
		}
	}
	for _, typ := range ledger.EventTypes() {
		ev := ledger.Event{Type: typ, Has: ^ledger.Field(0)}
		b, err := EncodeEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if want := eventFile(t, typ).header; !bytes.HasPrefix(b, want) {
			t.Errorf("%s: EncodeEvent header %x, want %x", typ, b[:10], want)
		}
	}
	for _, tc := range []struct {
		path string
		b    []byte
	}{
		{"channel_stock_update.avsc", AppendUpdate(nil, &ledger.Update{})},
		{"alert.avsc", AppendAlert(nil, &ledger.Alert{})},
		{"dead_letter.avsc", AppendDeadLetter(nil, &DeadLetter{})},
		{"hold_result.avsc", AppendHoldResult(nil, &ledger.HoldResult{})},
		{"listing_binding.avsc", AppendListingBinding(nil, &ListingBinding{})},
	} {
		if want := loadSchemaFile(t, tc.path).header; !bytes.HasPrefix(tc.b, want) {
			t.Errorf("%s: header %x, want %x", tc.path, tc.b[:10], want)
		}
	}
}

// stripLogicalTypes removes every logicalType annotation from a schema.
func stripLogicalTypes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "logicalType")
		for k, x := range v {
			v[k] = stripLogicalTypes(x)
		}
	case []any:
		for i, x := range v {
			v[i] = stripLogicalTypes(x)
		}
	}
	return v
}

// TestCanonicalFormMatchesGoavro: where goavro follows the specification
// (no logical types, no short-name references), our canonical form and
// Rabin fingerprint equal its.
func TestCanonicalFormMatchesGoavro(t *testing.T) {
	for path := range fastavroFingerprints() {
		if path == "testdata/receipt_v2.avsc" {
			continue // a short-name reference: goavro's form varies run to run
		}
		var v any
		if err := json.Unmarshal([]byte(loadSchemaFile(t, path).text), &v); err != nil {
			t.Fatal(err)
		}
		text, _ := json.Marshal(stripLogicalTypes(v))
		codec, err := goavro.NewCodec(string(text))
		if err != nil {
			t.Fatal(err)
		}
		st, err := parseSchema(string(text))
		if err != nil {
			t.Fatal(err)
		}
		if got := canonicalForm(st); got != codec.CanonicalSchema() {
			t.Errorf("%s:\n got %s\nwant %s", path, got, codec.CanonicalSchema())
		}
		if got := rabin(canonicalForm(st)); got != codec.Rabin {
			t.Errorf("%s: rabin %x, goavro %x", path, got, codec.Rabin)
		}
	}
	// The specification's form of a logical type is its primitive.
	st, err := parseSchema(`{"type":"record","name":"T","namespace":"n","fields":[{"name":"a","type":{"type":"long","logicalType":"timestamp-micros"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonicalForm(st), `{"name":"n.T","type":"record","fields":[{"name":"a","type":"long"}]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestGoavroHeaderAccepted: a message headed with goavro's own fingerprint
// (goavro's SingleFromNative) decodes too.
func TestGoavroHeaderAccepted(t *testing.T) {
	reg := NewRegistry()
	sf := eventFile(t, ledger.TypeReceipt)
	if bytes.Equal(headerFP(sf.codec.Rabin), sf.header) {
		t.Fatal("goavro now computes the specification's fingerprint: drop the alias")
	}
	ev := ledger.Event{Type: ledger.TypeReceipt, ID: "r", SKU: "S", Location: "dc", Qty: 1, OccurredAt: 5,
		Has: ledger.FieldType | ledger.FieldEventID | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldLocation | ledger.FieldQty}
	b, err := sf.codec.SingleFromNative(nil, eventNative(&ev, sf))
	if err != nil {
		t.Fatal(err)
	}
	var got ledger.Event
	if r, d, err := reg.NewDecoder(DecoderConfig{}).Decode(b, &got); r != ledger.ReasonNone || err != nil {
		t.Fatalf("%s %s (err %v)", r, d, err)
	}
	sameEvent(t, "goavro header", got, ev)
	if name, err := reg.RecordName(b); err != nil || !strings.HasSuffix(name, ".Receipt") {
		t.Errorf("RecordName: %q %v", name, err)
	}
}
