package schemas

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

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
	return u
}

func updateNative(u *ledger.Update) map[string]any {
	var prev any
	if u.HasPrevious {
		prev = goavro.Union("long", int64(u.Previous))
	}
	return map[string]any{
		"channel": u.Channel, "sku": u.SKU, "available": int64(u.Available), "previous": prev,
		"version": int64(u.Version), "cause_event_id": u.CauseEventID, "occurred_at": u.OccurredAt,
	}
}

func randomAlert(rng *rand.Rand) ledger.Alert {
	kinds := ledger.AlertKinds()
	a := ledger.Alert{
		Kind: kinds[rng.IntN(len(kinds))], SKU: randomString(rng), Version: uint64(randomLong(rng)),
		CauseEventID: randomString(rng), OccurredAt: randomLong(rng), Has: ledger.AlertField(rng.UintN(1 << 9)),
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
	for _, q := range []struct {
		bit ledger.AlertField
		dst *ledger.Qty
	}{{ledger.AlertHasShortfall, &a.Shortfall}, {ledger.AlertHasUnits, &a.Units}, {ledger.AlertHasOnHand, &a.OnHand},
		{ledger.AlertHasTotal, &a.Total}, {ledger.AlertHasReorderPoint, &a.ReorderPoint}} {
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
	return m
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

// TestOutputEncodersMatchGoavro: the hand-written encoders write exactly
// goavro's bytes (with the specification's fingerprint in the header), and
// the tail decoders read them back.
func TestOutputEncodersMatchGoavro(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 5))
	reg := NewRegistry()
	updates := loadSchemaFile(t, "channel_stock_update.avsc")
	alerts := loadSchemaFile(t, "alert.avsc")
	deadLetters := loadSchemaFile(t, "dead_letter.avsc")
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
		if r, _ := reg.DecodeEvent(got, &ev); r != ledger.ReasonUnknownType {
			t.Fatalf("an update decoded as an event: %s", r)
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
