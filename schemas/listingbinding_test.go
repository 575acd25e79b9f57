package schemas

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stockledger/stockledger/ledger"
)

func randomListingBinding(rng *rand.Rand) ListingBinding {
	return ListingBinding{
		Channel: randomCode(rng), ListingSKU: randomString(rng), SKU: randomString(rng),
		Units: 1 + ledger.Qty(rng.Int64N(1_000_000_000)), Active: rng.IntN(2) == 0,
		Version: uint64(randomLong(rng)), CauseEventID: randomString(rng), OccurredAt: randomLong(rng),
	}
}

func listingBindingNative(b *ListingBinding) map[string]any {
	return map[string]any{"channel": b.Channel, "listing_sku": b.ListingSKU, "sku": b.SKU,
		"units": int64(b.Units), "active": b.Active, "version": int64(b.Version),
		"cause_event_id": b.CauseEventID, "occurred_at": b.OccurredAt}
}

// TestListingBindingMatchesGoavro: the hand-written encoder writes exactly
// goavro's bytes (with the specification's fingerprint in the header), the
// decoder reads them back, and neither an event nor another output decodes
// as a binding.
func TestListingBindingMatchesGoavro(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 11))
	reg := NewRegistry()
	sf := loadSchemaFile(t, "listing_binding.avsc")
	for range 2000 {
		b := randomListingBinding(rng)
		got := AppendListingBinding([]byte("x"), &b)[1:]
		want, err := sf.single(listingBindingNative(&b))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("AppendListingBinding %+v (%v)\n got %x\nwant %x", b, err, got, want)
		}
		var b2 ListingBinding
		if err := reg.DecodeListingBinding(got, &b2); err != nil || b2 != b {
			t.Fatalf("DecodeListingBinding: %v\n got %+v\nwant %+v", err, b2, b)
		}
	}
	var b ListingBinding
	if err := reg.DecodeListingBinding(AppendHoldResult(nil, &ledger.HoldResult{}), &b); err == nil || !strings.Contains(err.Error(), HoldResultRecordName) {
		t.Errorf("a hold result as a listing binding: %v", err)
	}
	good := AppendListingBinding(nil, &ListingBinding{Channel: "web", ListingSKU: "TEE-6PK", SKU: "TEE", Units: 6, Active: true})
	if err := reg.DecodeListingBinding(good[:len(good)-1], &b); err == nil {
		t.Error("a truncated binding decoded")
	}
}

// TestListingBindingJSONAndKey: the JSON Lines form (what tail prints) and
// the record key.
func TestListingBindingJSONAndKey(t *testing.T) {
	b := ListingBinding{Channel: "web", ListingSKU: "TEE-6PK", SKU: "TEE/RED", Units: 6, Active: true, Version: 3,
		CauseEventID: "l1", OccurredAt: 1795773600000000}
	want := `{"type":"listing_binding","channel":"web","listing_sku":"TEE-6PK","sku":"TEE/RED","units":6,"active":true,"version":3,"cause_event_id":"l1","occurred_at":"2026-11-27T10:00:00Z"}`
	if got := string(AppendListingBindingJSON(nil, &b)); got != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	reg := NewRegistry()
	got, err := reg.AppendMessageJSON(nil, AppendListingBinding(nil, &b))
	if err != nil || string(got) != want {
		t.Errorf("AppendMessageJSON: %v\n got %s\nwant %s", err, got, want)
	}
	if k := string(b.Key(nil)); k != "web/TEE-6PK/TEE/RED" {
		t.Errorf("key %q", k)
	}
}
