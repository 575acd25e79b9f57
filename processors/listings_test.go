package processors_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestListingResolverFollowsLive: a processor on kfake applies listing
// events and publishes them on the listings topic; a resolver started
// before any of them follows each change live (a 6-pack bound, a listing
// removed, a race that binds one listing_sku to two SKUs, undone by a
// removal, a pack size changed), ignores an older copy of a binding read after a newer one,
// and a resolver started afterwards reads the same view from the topic.
func TestListingResolverFollowsLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("listings", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	live, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := live.Stop(); err != nil {
			t.Errorf("processor: %v", err)
		}
	}()
	r, err := processors.NewListingResolver(ctx, processors.ListingResolverConfig{Brokers: cl.Brokers, Topic: cl.Topics().Listings})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, ok := r.Resolve("web", "TEE-6PK"); ok {
		t.Fatal("a listing resolved before any was applied")
	}

	produce := func(lines ...string) {
		t.Helper()
		b := make([][]byte, len(lines))
		for i, l := range lines {
			b[i] = []byte(l)
		}
		if err := e2etest.ProduceLines(ctx, cl, 4, b); err != nil {
			t.Fatal(err)
		}
	}
	// waitFor polls the resolver (no Sync: it follows by itself).
	waitFor := func(what string, want []processors.ActiveListing, channel, listing string) {
		t.Helper()
		for !reflect.DeepEqual(r.ActiveBindings(channel, listing), want) {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %s/%s is active on %v, want %v", what, channel, listing, r.ActiveBindings(channel, listing), want)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	const at = `"occurred_at":"2026-11-27T10:00:00Z"`
	produce(`{"event_id":"p-web","type":"channel_policy",`+at+`,"channel":"web","locations":[],"buffer":0,"share_pct":100}`,
		`{"event_id":"r1","type":"receipt",`+at+`,"sku":"TEE","location":"dc","qty":14}`,
		`{"event_id":"l1","type":"listing",`+at+`,"sku":"TEE","channel":"web","listing_sku":"TEE-6PK","units":6}`,
		`{"event_id":"l2","type":"listing",`+at+`,"sku":"MUG","channel":"web","listing_sku":"GIFT-SET","units":2}`)
	waitFor("bound", []processors.ActiveListing{{SKU: "TEE", Units: 6}}, "web", "TEE-6PK")
	if sku, units, ok := r.Resolve("web", "TEE-6PK"); sku != "TEE" || units != 6 || !ok {
		t.Errorf("Resolve(web, TEE-6PK) = %q, %d, %v", sku, units, ok)
	}
	if _, _, ok := r.Resolve("amazon", "TEE-6PK"); ok {
		t.Error("a listing resolved on a channel it is not on")
	}

	produce(`{"event_id":"l3","type":"listing",` + at + `,"sku":"TEE","channel":"web","listing_sku":"TEE-6PK","active":false}`)
	waitFor("removed", nil, "web", "TEE-6PK")
	if sku, ok := r.ActiveOn("web", "TEE-6PK"); ok {
		t.Errorf("a removed listing is active on %q", sku)
	}

	// A race the tools cannot see: GIFT-SET bound to TEE while MUG has it.
	produce(`{"event_id":"l4","type":"listing",` + at + `,"sku":"TEE","channel":"web","listing_sku":"GIFT-SET","units":3}`)
	both := []processors.ActiveListing{{SKU: "MUG", Units: 2}, {SKU: "TEE", Units: 3}}
	waitFor("raced", both, "web", "GIFT-SET")
	if _, _, ok := r.Resolve("web", "GIFT-SET"); ok {
		t.Error("a listing active on two SKUs resolved")
	}
	if sku, ok := r.ActiveOn("web", "GIFT-SET"); sku != "MUG" || !ok {
		t.Errorf("ActiveOn(web, GIFT-SET) = %q, %v", sku, ok)
	}
	produce(`{"event_id":"l5","type":"listing",` + at + `,"sku":"TEE","channel":"web","listing_sku":"GIFT-SET","active":false}`)
	waitFor("race undone", []processors.ActiveListing{{SKU: "MUG", Units: 2}}, "web", "GIFT-SET")

	// MUG's pack grows to 4 (its version 2); an older copy of its first
	// binding (as a batch published again after a crash would be) read
	// after it changes nothing.
	produce(`{"event_id":"l6","type":"listing",` + at + `,"sku":"MUG","channel":"web","listing_sku":"GIFT-SET","units":4}`)
	waitFor("units changed", []processors.ActiveListing{{SKU: "MUG", Units: 4}}, "web", "GIFT-SET")
	writeBinding(ctx, t, cl, schemas.ListingBinding{Channel: "web", ListingSKU: "GIFT-SET", SKU: "MUG", Units: 2, Active: false, Version: 1})
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if sku, units, ok := r.Resolve("web", "GIFT-SET"); sku != "MUG" || units != 4 || !ok {
		t.Errorf("after an older record: Resolve(web, GIFT-SET) = %q, %d, %v", sku, units, ok)
	}

	checkListingsTopic(ctx, t, cl)
	again, err := processors.NewListingResolver(ctx, processors.ListingResolverConfig{Brokers: cl.Brokers, Topic: cl.Topics().Listings})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, k := range [][2]string{{"web", "TEE-6PK"}, {"web", "GIFT-SET"}} {
		if got, want := again.ActiveBindings(k[0], k[1]), r.ActiveBindings(k[0], k[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("a resolver started afterwards: %s/%s active on %v, the live one %v", k[0], k[1], got, want)
		}
	}
}

// writeBinding writes b to the listings topic as the processor would.
func writeBinding(ctx context.Context, t *testing.T, cl *e2etest.Cluster, b schemas.ListingBinding) {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := &kgo.Record{Topic: cl.Topics().Listings, Key: b.Key(nil), Value: schemas.AppendListingBinding(nil, &b)}
	if err := c.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// checkListingsTopic reads the listings topic and checks each applied
// listing event's record: key channel/listing_sku/sku, the binding, the
// SKU's version (TEE: receipt 1, l1 2, l3 3, l4 4, l5 5; MUG: l2 1, l6 2).
func checkListingsTopic(ctx context.Context, t *testing.T, cl *e2etest.Cluster) {
	t.Helper()
	reg := schemas.NewRegistry()
	var got []string
	err := processors.Tail(ctx, cl.Brokers, cl.Topics().Listings, processors.TailOptions{FromBeginning: true, ExitAtEnd: true}, func(r *kgo.Record) error {
		var b schemas.ListingBinding
		if err := reg.DecodeListingBinding(r.Value, &b); err != nil {
			return err
		}
		if b.CauseEventID == "" { // the older copy writeBinding wrote
			return nil
		}
		got = append(got, fmt.Sprintf("%s %s %d %v v%d %s", r.Key, b.CauseEventID, b.Units, b.Active, b.Version,
			time.UnixMicro(b.OccurredAt).UTC().Format(time.RFC3339)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"web/TEE-6PK/TEE l1 6 true v2 2026-11-27T10:00:00Z",
		"web/GIFT-SET/MUG l2 2 true v1 2026-11-27T10:00:00Z",
		"web/TEE-6PK/TEE l3 1 false v3 2026-11-27T10:00:00Z",
		"web/GIFT-SET/TEE l4 3 true v4 2026-11-27T10:00:00Z",
		"web/GIFT-SET/TEE l5 1 false v5 2026-11-27T10:00:00Z",
		"web/GIFT-SET/MUG l6 4 true v2 2026-11-27T10:00:00Z",
	}
	if !sameSet(got, want) {
		t.Errorf("listings topic:\n%s\nwant (in any order across keys):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}

// TestListingInputResolves: resolution of one input against a view and the
// input's own listing events (no Kafka: the view is a map).
func TestListingInputResolves(t *testing.T) {
	view := mapView{"web/GIFT-SET": {{SKU: "TEE", Units: 1}}, "web/TEE-6PK": {{SKU: "TEE", Units: 6}},
		"web/RACED": {{SKU: "A", Units: 1}, {SKU: "B", Units: 1}}}
	in := processors.NewListingInput(view)
	order := func(listing string, qty ledger.Qty) *ledger.Event {
		return &ledger.Event{Type: ledger.TypeOrder, Channel: "web", ListingSKU: listing, Qty: qty,
			Has: ledger.FieldType | ledger.FieldChannel | ledger.FieldListingSKU | ledger.FieldQty}
	}
	listing := func(sku, ls string, units ledger.Qty, active bool) *ledger.Event {
		return &ledger.Event{Type: ledger.TypeListing, SKU: sku, Channel: "web", ListingSKU: ls, Units: units, Active: active,
			Has: ledger.FieldType | ledger.FieldSKU | ledger.FieldChannel | ledger.FieldListingSKU | ledger.FieldUnits | ledger.FieldActive}
	}
	ev := order("TEE-6PK", 2)
	if err := in.Resolve(ev, "web"); err != nil || ev.SKU != "TEE" || ev.Qty != 12 || ev.ListingSKU != "TEE-6PK" || ev.Has&ledger.FieldSKU == 0 {
		t.Errorf("6-pack: %v %+v", err, ev)
	}
	if err := in.Resolve(ev, "web"); err != nil || ev.Qty != 12 {
		t.Errorf("a resolved event resolved again: %v qty %d", err, ev.Qty)
	}
	for _, tc := range []struct {
		ev      *ledger.Event
		channel string
		want    string
	}{
		{order("NOPE", 1), "web", `unknown listing "NOPE" on channel "web"`},
		{order("TEE-6PK", 1), "", `names no channel`},
		{order("RACED", 1), "web", `active on SKUs "A", "B": remove it from all but one`},
		{order("TEE-6PK", 200_000_000), "web", `more than 1000000000`},
		{listing("MUG", "GIFT-SET", 2, true), "", `active on SKU "TEE": remove it there first`},
		{listing("MUG", "GIFT-SET", 1, false), "", `active on SKU "TEE", not on "MUG": remove it there`},
	} {
		err := in.Resolve(tc.ev, tc.channel)
		if err == nil {
			err = in.Check(tc.ev)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.ev.Type, tc.ev.ListingSKU, err, tc.want)
		}
	}
	// The input's own events, in order: TEE removes GIFT-SET, MUG binds it,
	// and an order of it then resolves to MUG.
	for _, ev := range []*ledger.Event{listing("TEE", "GIFT-SET", 1, false), listing("MUG", "GIFT-SET", 2, true), listing("B", "RACED", 1, false)} {
		if err := in.Check(ev); err != nil {
			t.Fatalf("%s on %s: %v", ev.ListingSKU, ev.SKU, err)
		}
		in.Accept(ev)
	}
	for listing, want := range map[string]string{"GIFT-SET": "MUG 4", "RACED": "A 2"} {
		ev := order(listing, 2)
		if err := in.Resolve(ev, "web"); err != nil || fmt.Sprintf("%s %d", ev.SKU, ev.Qty) != want {
			t.Errorf("%s after the input's listings: %v %s %d, want %s", listing, err, ev.SKU, ev.Qty, want)
		}
	}
}

type mapView map[string][]processors.ActiveListing

func (m mapView) ActiveBindings(channel, listingSKU string) []processors.ActiveListing {
	return m[channel+"/"+listingSKU]
}
