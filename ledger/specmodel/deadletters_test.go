package specmodel

// One table row per dead-letter reason and check, built from
// ledger-semantics.md ("Events", "Dead letter") and ledger/DECISIONS.md
// ("Codes and limits", "Dead-letter reasons").

import (
	"strings"
	"testing"
)

const ts = `"occurred_at":"2026-11-27T10:00:00Z"`

// e builds an event line: common fields then the given body.
func e(id, typ, body string) string {
	s := `{"event_id":"` + id + `","type":"` + typ + `",` + ts
	if typ != TypeChannelPolicy {
		s += `,"sku":"S"`
	}
	if body != "" {
		s += "," + body
	}
	return s + "}"
}

// setup gives SKU S a location dc with 15 on hand, an open PO PO-1 (dc, 5), a
// closed, fully received PO PO-2, an open order O-1 (dc, 2), a transfer T-1 (dc -> store, 1),
// and one channel policy (web, all locations).
var setup = []string{
	e("cp", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`),
	e("s1", TypeReceipt, `"location":"dc","qty":10`),
	e("s2", TypePurchaseOrder, `"po_id":"PO-1","location":"dc","qty":5`),
	e("s3", TypePurchaseOrder, `"po_id":"PO-2","location":"dc","qty":5`),
	e("s3b", TypeReceipt, `"po_id":"PO-2","location":"dc","qty":5`),
	e("s4", TypePurchaseOrderClosed, `"po_id":"PO-2"`), // fully received: no po_short
	e("s5", TypeOrder, `"channel":"web","order_id":"O-1","qty":2,"location":"dc"`),
	e("s6", TypeTransferOut, `"transfer_id":"T-1","location":"dc","to_location":"store","qty":1`),
}

func setupModel(t *testing.T) *Model {
	t.Helper()
	m := New()
	for _, l := range setup {
		m.Apply([]byte(l))
	}
	if len(m.DeadLetters()) != 0 || len(m.Alerts()) != 0 {
		t.Fatalf("setup: dead %+v alerts %+v", m.DeadLetters(), m.Alerts())
	}
	return m
}

func TestDeadLetterReasons(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name   string
		line   string
		reason string
		id     string // expected DeadLetter.EventID
	}{
		// undecodable
		{"not json", `hello`, ReasonUndecodable, ""},
		{"truncated", `{"event_id":"a","type":"receipt"`, ReasonUndecodable, ""},
		{"empty line", ``, ReasonUndecodable, ""},
		{"array", `[{"event_id":"a"}]`, ReasonUndecodable, ""},
		{"string", `"receipt"`, ReasonUndecodable, ""},
		{"null", `null`, ReasonUndecodable, ""},
		{"trailing object", e("a", TypeReceipt, `"location":"dc","qty":1`) + ` {}`, ReasonUndecodable, ""},
		{"trailing junk", e("a", TypeReceipt, `"location":"dc","qty":1`) + `x`, ReasonUndecodable, ""},
		{"raw control char in string", "{\"event_id\":\"a\",\"type\":\"receipt\",\"sku\":\"S\x01\"}", ReasonUndecodable, ""},

		// not Unicode text (DECISIONS.md): bad UTF-8 bytes anywhere, or an
		// escaped lone surrogate in any string, refuse the whole line with no
		// event_id, even where no field rule would look.
		{"sku bad byte", `{"event_id":"a","type":"receipt","sku":"S` + "\xff" + `",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku truncated sequence", `{"event_id":"a","type":"receipt","sku":"S` + "\xc3" + `",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku overlong NUL", `{"event_id":"a","type":"receipt","sku":"S` + "\xc0\x80" + `",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku surrogate as UTF-8 bytes", `{"event_id":"a","type":"receipt","sku":"S` + "\xed\xa0\x80" + `",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"event_id bad byte", e("a\xff", TypeReceipt, `"location":"dc","qty":1`), ReasonUndecodable, ""},
		{"source bad byte", e("a", TypeReceipt, `"source":"pos`+"\xfe"+`","location":"dc","qty":1`), ReasonUndecodable, ""},
		{"unknown field bad byte", e("a", TypeReceipt, `"location":"dc","qty":1,"colour":"r`+"\xff"+`d"`), ReasonUndecodable, ""},
		{"nested unknown field bad byte", e("a", TypeReceipt, `"location":"dc","qty":1,"extra":{"x":["`+"\xff"+`"]}`), ReasonUndecodable, ""},
		{"key bad byte", e("a", TypeReceipt, `"location":"dc","qty":1,"col`+"\xff"+`our":"red"`), ReasonUndecodable, ""},
		{"safety_stock key bad byte", e("a", TypeSKUPolicy, `"safety_stock":{"d`+"\xff"+`":1}`), ReasonUndecodable, ""},
		{"type bad byte", e("a", TypeReceipt+"\xff", `"location":"dc","qty":1`), ReasonUndecodable, ""},
		{"bad byte between tokens", e("a", TypeReceipt, `"location":"dc","qty":1 `+"\xff"), ReasonUndecodable, ""},
		{"sku lone high surrogate", `{"event_id":"a","type":"receipt","sku":"S\ud800",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku lone low surrogate", `{"event_id":"a","type":"receipt","sku":"S\udc00",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku lone high surrogate, upper case", `{"event_id":"a","type":"receipt","sku":"S\uD800",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku high surrogate then non-surrogate", `{"event_id":"a","type":"receipt","sku":"\ud800\u0041",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku high surrogate then raw text", `{"event_id":"a","type":"receipt","sku":"\ud83dx",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"sku surrogate pair reversed", `{"event_id":"a","type":"receipt","sku":"\ude00\ud83d",` + ts + `,"location":"dc","qty":1}`, ReasonUndecodable, ""},
		{"event_id lone surrogate", e(`a\ud800`, TypeReceipt, `"location":"dc","qty":1`), ReasonUndecodable, ""},
		{"source lone surrogate", e("a", TypeReceipt, `"source":"\udfff","location":"dc","qty":1`), ReasonUndecodable, ""},
		{"unknown field lone surrogate", e("a", TypeReceipt, `"location":"dc","qty":1,"colour":"\udbff"`), ReasonUndecodable, ""},
		{"key lone surrogate", e("a", TypeReceipt, `"location":"dc","qty":1,"\ud800":"red"`), ReasonUndecodable, ""},
		{"type lone surrogate", e("a", `receipt\ud800`, `"location":"dc","qty":1`), ReasonUndecodable, ""},
		{"location lone surrogate", e("a", TypeReceipt, `"location":"dc\ud800","qty":1`), ReasonUndecodable, ""},
		{"locations entry lone surrogate", e("a", TypeChannelPolicy, `"channel":"c","locations":["\udc00"],"buffer":0,"share_pct":100`), ReasonUndecodable, ""},
		{"lone surrogate after escaped quote", e("a", TypeReceipt, `"location":"dc","qty":1,"note":"say \"\ud800\""`), ReasonUndecodable, ""},

		// type
		{"type missing", `{"event_id":"a","sku":"S",` + ts + `}`, ReasonMissingField, "a"},
		{"type null", `{"event_id":"a","type":null,"sku":"S",` + ts + `}`, ReasonMissingField, "a"},
		{"type number", `{"event_id":"a","type":7,"sku":"S",` + ts + `}`, ReasonInvalidField, "a"},
		{"type unknown", e("a", "teleport", `"location":"dc","qty":1`), ReasonUnknownType, "a"},
		{"type empty", e("a", "", ""), ReasonUnknownType, "a"},
		{"type wrong case", e("a", "Receipt", `"location":"dc","qty":1`), ReasonUnknownType, "a"},
		{"type before event_id", `{"type":"nope"}`, ReasonUnknownType, ""},
		{"missing type before event_id", `{"sku":"S"}`, ReasonMissingField, ""},

		// event_id
		{"event_id missing", `{"type":"receipt","sku":"S",` + ts + `,"location":"dc","qty":1}`, ReasonMissingField, ""},
		{"event_id null", `{"event_id":null,"type":"receipt","sku":"S",` + ts + `,"location":"dc","qty":1}`, ReasonMissingField, ""},
		{"event_id number", `{"event_id":12,"type":"receipt","sku":"S",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, ""},
		{"event_id empty", e("", TypeReceipt, `"location":"dc","qty":1`), ReasonInvalidField, ""},
		{"event_id 129 bytes", e(long(129), TypeReceipt, `"location":"dc","qty":1`), ReasonInvalidField, long(129)},
		{"event_id before qty", e("", TypeReceipt, `"location":"dc","qty":0`), ReasonInvalidField, ""},

		// sku
		{"sku missing", `{"event_id":"a","type":"receipt",` + ts + `,"location":"dc","qty":1}`, ReasonMissingField, "a"},
		{"sku null", `{"event_id":"a","type":"receipt","sku":null,` + ts + `,"location":"dc","qty":1}`, ReasonMissingField, "a"},
		{"sku number", `{"event_id":"a","type":"receipt","sku":5,` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku empty", `{"event_id":"a","type":"receipt","sku":"",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku 129 bytes", `{"event_id":"a","type":"receipt","sku":"` + long(129) + `",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku leading space", `{"event_id":"a","type":"receipt","sku":" S",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku trailing space", `{"event_id":"a","type":"receipt","sku":"S ",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku escaped newline", `{"event_id":"a","type":"receipt","sku":"S\n1",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku escaped bell", `{"event_id":"a","type":"receipt","sku":"S\u0007",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku DEL", `{"event_id":"a","type":"receipt","sku":"S\u007f",` + ts + `,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"sku before qty", `{"event_id":"a","type":"receipt",` + ts + `,"location":"dc","qty":0}`, ReasonMissingField, "a"},

		// occurred_at
		{"occurred_at missing", `{"event_id":"a","type":"receipt","sku":"S","location":"dc","qty":1}`, ReasonMissingField, "a"},
		{"occurred_at not a time", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":"yesterday","location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"occurred_at no zone", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":"2026-11-27T10:00:00","location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"occurred_at space separator", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":"2026-11-27 10:00:00Z","location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"occurred_at month 13", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":"2026-13-27T10:00:00Z","location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"occurred_at Feb 30", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":"2026-02-30T10:00:00Z","location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"occurred_at number", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":1764237600,"location":"dc","qty":1}`, ReasonInvalidField, "a"},
		{"occurred_at before source", `{"event_id":"a","type":"receipt","sku":"S","source":5,"location":"dc","qty":1}`, ReasonMissingField, "a"},

		// source
		{"source number", e("a", TypeReceipt, `"source":5,"location":"dc","qty":1`), ReasonInvalidField, "a"},
		{"source 129 bytes", e("a", TypeReceipt, `"source":"`+long(129)+`","location":"dc","qty":1`), ReasonInvalidField, "a"},
		{"source before qty", e("a", TypeReceipt, `"source":5,"location":"dc","qty":0`), ReasonInvalidField, "a"},

		// purchase_order: po_id, location, qty
		{"po po_id missing", e("a", TypePurchaseOrder, `"location":"dc","qty":1`), ReasonMissingField, "a"},
		{"po po_id 129 bytes", e("a", TypePurchaseOrder, `"po_id":"`+long(129)+`","location":"dc","qty":1`), ReasonInvalidField, "a"},
		{"po location missing", e("a", TypePurchaseOrder, `"po_id":"P","qty":1`), ReasonMissingField, "a"},
		{"po location 65 bytes", e("a", TypePurchaseOrder, `"po_id":"P","location":"`+long(65)+`","qty":1`), ReasonInvalidField, "a"},
		{"po qty missing", e("a", TypePurchaseOrder, `"po_id":"P","location":"dc"`), ReasonMissingField, "a"},
		{"po qty 0", e("a", TypePurchaseOrder, `"po_id":"P","location":"dc","qty":0`), ReasonQuantityOutOfRange, "a"},
		{"po po_id before qty", e("a", TypePurchaseOrder, `"po_id":"","location":"dc","qty":0`), ReasonInvalidField, "a"},

		// qty rules (receipt: location, qty, po_id?)
		{"qty negative", e("a", TypeReceipt, `"location":"dc","qty":-1`), ReasonQuantityOutOfRange, "a"},
		{"qty over 1e9", e("a", TypeReceipt, `"location":"dc","qty":1000000001`), ReasonQuantityOutOfRange, "a"},
		{"qty beyond int64", e("a", TypeReceipt, `"location":"dc","qty":99999999999999999999`), ReasonInvalidField, "a"},
		{"qty written 5.0", e("a", TypeReceipt, `"location":"dc","qty":5.0`), ReasonInvalidField, "a"},
		{"qty written 5e0", e("a", TypeReceipt, `"location":"dc","qty":5e0`), ReasonInvalidField, "a"},
		{"qty 1.5", e("a", TypeReceipt, `"location":"dc","qty":1.5`), ReasonInvalidField, "a"},
		{"qty 1e-1", e("a", TypeReceipt, `"location":"dc","qty":1e-1`), ReasonInvalidField, "a"},
		{"qty string", e("a", TypeReceipt, `"location":"dc","qty":"5"`), ReasonInvalidField, "a"},
		{"qty bool", e("a", TypeReceipt, `"location":"dc","qty":true`), ReasonInvalidField, "a"},
		{"qty object", e("a", TypeReceipt, `"location":"dc","qty":{}`), ReasonInvalidField, "a"},
		{"qty null", e("a", TypeReceipt, `"location":"dc","qty":null`), ReasonMissingField, "a"},
		{"receipt location missing", e("a", TypeReceipt, `"qty":1`), ReasonMissingField, "a"},
		{"receipt location number", e("a", TypeReceipt, `"location":1,"qty":1`), ReasonInvalidField, "a"},
		{"receipt location trailing space", e("a", TypeReceipt, `"location":"dc ","qty":1`), ReasonInvalidField, "a"},
		{"receipt location before qty", e("a", TypeReceipt, `"location":"","qty":0`), ReasonInvalidField, "a"},
		{"receipt qty before po_id", e("a", TypeReceipt, `"location":"dc","qty":0,"po_id":""`), ReasonQuantityOutOfRange, "a"},
		{"receipt po_id empty", e("a", TypeReceipt, `"location":"dc","qty":1,"po_id":""`), ReasonInvalidField, "a"},
		{"receipt po_id number", e("a", TypeReceipt, `"location":"dc","qty":1,"po_id":17`), ReasonInvalidField, "a"},

		// purchase_order_closed
		{"close po_id missing", e("a", TypePurchaseOrderClosed, ``), ReasonMissingField, "a"},

		// order: channel, order_id, qty, location?
		{"order channel missing", e("a", TypeOrder, `"order_id":"O","qty":1`), ReasonMissingField, "a"},
		{"order channel with slash", e("a", TypeOrder, `"channel":"a/b","order_id":"O","qty":1`), ReasonInvalidField, "a"},
		{"order channel 65 bytes", e("a", TypeOrder, `"channel":"`+long(65)+`","order_id":"O","qty":1`), ReasonInvalidField, "a"},
		{"order order_id missing", e("a", TypeOrder, `"channel":"web","qty":1`), ReasonMissingField, "a"},
		{"order order_id control", e("a", TypeOrder, `"channel":"web","order_id":"O\t1","qty":1`), ReasonInvalidField, "a"},
		{"order qty missing", e("a", TypeOrder, `"channel":"web","order_id":"O"`), ReasonMissingField, "a"},
		{"order location empty", e("a", TypeOrder, `"channel":"web","order_id":"O","qty":1,"location":""`), ReasonInvalidField, "a"},
		{"order order_id before qty", e("a", TypeOrder, `"channel":"web","order_id":"","qty":0`), ReasonInvalidField, "a"},
		{"order qty before location", e("a", TypeOrder, `"channel":"web","order_id":"O","qty":0,"location":""`), ReasonQuantityOutOfRange, "a"},

		// order_cancelled: order_id, qty?
		{"cancel order_id missing", e("a", TypeOrderCancelled, ``), ReasonMissingField, "a"},
		{"cancel qty 0", e("a", TypeOrderCancelled, `"order_id":"O-1","qty":0`), ReasonQuantityOutOfRange, "a"},
		{"cancel qty string", e("a", TypeOrderCancelled, `"order_id":"O-1","qty":"all"`), ReasonInvalidField, "a"},

		// shipment: location, qty, order_id?
		{"shipment location missing", e("a", TypeShipment, `"qty":1`), ReasonMissingField, "a"},
		{"shipment qty missing", e("a", TypeShipment, `"location":"dc"`), ReasonMissingField, "a"},
		{"shipment order_id empty", e("a", TypeShipment, `"location":"dc","qty":1,"order_id":""`), ReasonInvalidField, "a"},

		// pos_sale: channel, location, qty
		{"pos_sale channel missing", e("a", TypePOSSale, `"location":"dc","qty":1`), ReasonMissingField, "a"},
		{"pos_sale location missing", e("a", TypePOSSale, `"channel":"pos","qty":1`), ReasonMissingField, "a"},
		{"pos_sale qty 0", e("a", TypePOSSale, `"channel":"pos","location":"dc","qty":0`), ReasonQuantityOutOfRange, "a"},
		{"pos_sale channel before location", e("a", TypePOSSale, `"channel":"","qty":1`), ReasonInvalidField, "a"},

		// return: location, qty, resellable
		{"return qty missing", e("a", TypeReturn, `"location":"dc"`), ReasonMissingField, "a"},
		{"return resellable string", e("a", TypeReturn, `"location":"dc","qty":1,"resellable":"no"`), ReasonInvalidField, "a"},
		{"return resellable number", e("a", TypeReturn, `"location":"dc","qty":1,"resellable":0`), ReasonInvalidField, "a"},

		// adjustment: location, on_hand_delta, unavailable_delta, reason
		{"adjustment location missing", e("a", TypeAdjustment, `"on_hand_delta":1,"reason":"r"`), ReasonMissingField, "a"},
		{"adjustment on_hand_delta missing", e("a", TypeAdjustment, `"location":"dc","reason":"r"`), ReasonMissingField, "a"},
		{"adjustment on_hand_delta over", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1000000001,"reason":"r"`), ReasonQuantityOutOfRange, "a"},
		{"adjustment on_hand_delta under", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":-1000000001,"reason":"r"`), ReasonQuantityOutOfRange, "a"},
		{"adjustment unavailable_delta under", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1,"unavailable_delta":-1000000001,"reason":"r"`), ReasonQuantityOutOfRange, "a"},
		{"adjustment unavailable_delta float", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1,"unavailable_delta":0.5,"reason":"r"`), ReasonInvalidField, "a"},
		{"adjustment reason missing", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1`), ReasonMissingField, "a"},
		{"adjustment reason empty", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1,"reason":""`), ReasonInvalidField, "a"},
		{"adjustment reason 257 bytes", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1,"reason":"`+long(257)+`"`), ReasonInvalidField, "a"},
		{"adjustment deltas before reason", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1000000001`), ReasonQuantityOutOfRange, "a"},
		{"zero adjustment", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":0,"unavailable_delta":0,"reason":"r"`), ReasonZeroAdjustment, "a"},
		{"zero adjustment default unavailable", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":0,"reason":"r"`), ReasonZeroAdjustment, "a"},
		{"negative unavailable", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":0,"unavailable_delta":-1,"reason":"r"`), ReasonNegativeUnavailable, "a"},
		{"negative unavailable new location", e("a", TypeAdjustment, `"location":"nowhere","on_hand_delta":5,"unavailable_delta":-1,"reason":"r"`), ReasonNegativeUnavailable, "a"},

		// stock_count: location, counted
		{"count counted missing", e("a", TypeStockCount, `"location":"dc"`), ReasonMissingField, "a"},
		{"count counted negative", e("a", TypeStockCount, `"location":"dc","counted":-1`), ReasonQuantityOutOfRange, "a"},
		{"count counted over", e("a", TypeStockCount, `"location":"dc","counted":1000000001`), ReasonQuantityOutOfRange, "a"},
		{"count counted string", e("a", TypeStockCount, `"location":"dc","counted":"4"`), ReasonInvalidField, "a"},

		// transfer_out: transfer_id, location, to_location, qty
		{"transfer_out id missing", e("a", TypeTransferOut, `"location":"dc","to_location":"st","qty":1`), ReasonMissingField, "a"},
		{"transfer_out to_location missing", e("a", TypeTransferOut, `"transfer_id":"T","location":"dc","qty":1`), ReasonMissingField, "a"},
		{"transfer_out same location", e("a", TypeTransferOut, `"transfer_id":"T","location":"dc","to_location":"dc","qty":1`), ReasonInvalidField, "a"},
		{"transfer_out qty 0", e("a", TypeTransferOut, `"transfer_id":"T","location":"dc","to_location":"st","qty":0`), ReasonQuantityOutOfRange, "a"},
		{"transfer_out id before location", e("a", TypeTransferOut, `"transfer_id":"","to_location":"st","qty":1`), ReasonInvalidField, "a"},

		// transfer_in: transfer_id, qty
		{"transfer_in id missing", e("a", TypeTransferIn, `"qty":1`), ReasonMissingField, "a"},
		{"transfer_in qty missing", e("a", TypeTransferIn, `"transfer_id":"T-1"`), ReasonMissingField, "a"},

		// sku_policy: safety_stock, reorder_point?
		{"sku_policy safety_stock missing", e("a", TypeSKUPolicy, `"reorder_point":5`), ReasonMissingField, "a"},
		{"sku_policy safety_stock array", e("a", TypeSKUPolicy, `"safety_stock":[]`), ReasonInvalidField, "a"},
		{"sku_policy safety_stock empty key", e("a", TypeSKUPolicy, `"safety_stock":{"":1}`), ReasonInvalidField, "a"},
		{"sku_policy safety_stock long key", e("a", TypeSKUPolicy, `"safety_stock":{"`+long(65)+`":1}`), ReasonInvalidField, "a"},
		{"sku_policy safety_stock string value", e("a", TypeSKUPolicy, `"safety_stock":{"dc":"4"}`), ReasonInvalidField, "a"},
		{"sku_policy safety_stock null value", e("a", TypeSKUPolicy, `"safety_stock":{"dc":null}`), ReasonInvalidField, "a"},
		{"sku_policy safety_stock negative", e("a", TypeSKUPolicy, `"safety_stock":{"dc":-1}`), ReasonQuantityOutOfRange, "a"},
		{"sku_policy safety_stock over", e("a", TypeSKUPolicy, `"safety_stock":{"dc":1000000001}`), ReasonQuantityOutOfRange, "a"},
		{"sku_policy reorder_point negative", e("a", TypeSKUPolicy, `"safety_stock":{},"reorder_point":-1`), ReasonQuantityOutOfRange, "a"},
		{"sku_policy reorder_point string", e("a", TypeSKUPolicy, `"safety_stock":{},"reorder_point":"5"`), ReasonInvalidField, "a"},
		{"sku_policy safety before reorder", e("a", TypeSKUPolicy, `"safety_stock":{"dc":-1},"reorder_point":"x"`), ReasonQuantityOutOfRange, "a"},

		// channel_policy: channel, locations, buffer, share_pct, max_qty?
		{"channel_policy channel missing", e("a", TypeChannelPolicy, `"locations":[],"buffer":0,"share_pct":100`), ReasonMissingField, "a"},
		{"channel_policy channel slash", e("a", TypeChannelPolicy, `"channel":"web/eu","locations":[],"buffer":0,"share_pct":100`), ReasonInvalidField, "a"},
		{"channel_policy locations missing", e("a", TypeChannelPolicy, `"channel":"web","buffer":0,"share_pct":100`), ReasonMissingField, "a"},
		{"channel_policy locations string", e("a", TypeChannelPolicy, `"channel":"web","locations":"dc","buffer":0,"share_pct":100`), ReasonInvalidField, "a"},
		{"channel_policy locations repeated", e("a", TypeChannelPolicy, `"channel":"web","locations":["dc","st","dc"],"buffer":0,"share_pct":100`), ReasonInvalidField, "a"},
		{"channel_policy locations empty entry", e("a", TypeChannelPolicy, `"channel":"web","locations":[""],"buffer":0,"share_pct":100`), ReasonInvalidField, "a"},
		{"channel_policy locations number entry", e("a", TypeChannelPolicy, `"channel":"web","locations":[1],"buffer":0,"share_pct":100`), ReasonInvalidField, "a"},
		{"channel_policy buffer missing", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"share_pct":100`), ReasonMissingField, "a"},
		{"channel_policy buffer negative", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":-1,"share_pct":100`), ReasonQuantityOutOfRange, "a"},
		{"channel_policy buffer over", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":1000000001,"share_pct":100`), ReasonQuantityOutOfRange, "a"},
		{"channel_policy share missing", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0`), ReasonMissingField, "a"},
		{"channel_policy share 0", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":0`), ReasonInvalidField, "a"},
		{"channel_policy share 101", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":101`), ReasonInvalidField, "a"},
		{"channel_policy share 50.5", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":50.5`), ReasonInvalidField, "a"},
		{"channel_policy max_qty negative", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100,"max_qty":-1`), ReasonQuantityOutOfRange, "a"},
		{"channel_policy max_qty string", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100,"max_qty":"10"`), ReasonInvalidField, "a"},
		{"channel_policy buffer before share", e("a", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":-1,"share_pct":0`), ReasonQuantityOutOfRange, "a"},
		{"channel_policy event_id missing", `{"type":"channel_policy",` + ts + `,"channel":"web","locations":[],"buffer":0,"share_pct":100}`, ReasonMissingField, ""},

		// state checks against the setup
		{"po exists (open)", e("a", TypePurchaseOrder, `"po_id":"PO-1","location":"dc","qty":1`), ReasonPOExists, "a"},
		{"po exists (closed)", e("a", TypePurchaseOrder, `"po_id":"PO-2","location":"dc","qty":1`), ReasonPOExists, "a"},
		{"unknown po on close", e("a", TypePurchaseOrderClosed, `"po_id":"PO-9"`), ReasonUnknownPO, "a"},
		{"close of closed po", e("a", TypePurchaseOrderClosed, `"po_id":"PO-2"`), ReasonUnknownPO, "a"},
		{"order exists", e("a", TypeOrder, `"channel":"web","order_id":"O-1","qty":1`), ReasonOrderExists, "a"},
		{"unknown order on cancel", e("a", TypeOrderCancelled, `"order_id":"O-9"`), ReasonUnknownOrder, "a"},
		{"transfer exists", e("a", TypeTransferOut, `"transfer_id":"T-1","location":"dc","to_location":"store","qty":1`), ReasonTransferExists, "a"},
		{"unknown transfer", e("a", TypeTransferIn, `"transfer_id":"T-9","qty":1`), ReasonUnknownTransfer, "a"},
		{"orders are per sku", `{"event_id":"a","type":"order_cancelled","sku":"OTHER",` + ts + `,"order_id":"O-1"}`, ReasonUnknownOrder, "a"},
		{"pos are per sku", `{"event_id":"a","type":"purchase_order_closed","sku":"OTHER",` + ts + `,"po_id":"PO-1"}`, ReasonUnknownPO, "a"},
		{"transfers are per sku", `{"event_id":"a","type":"transfer_in","sku":"OTHER",` + ts + `,"transfer_id":"T-1","qty":1}`, ReasonUnknownTransfer, "a"},
		{"static check before state check", e("a", TypePurchaseOrder, `"po_id":"PO-1","location":"dc","qty":0`), ReasonQuantityOutOfRange, "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := setupModel(t)
			before, _ := m.SKU("S")
			nUpdates := len(m.Updates())
			m.Apply([]byte(c.line))
			dead := m.DeadLetters()
			if len(dead) != 1 {
				t.Fatalf("dead letters = %+v, want one %s", dead, c.reason)
			}
			if dead[0].Reason != c.reason {
				t.Errorf("reason = %s, want %s", dead[0].Reason, c.reason)
			}
			if dead[0].EventID != c.id {
				t.Errorf("event id = %q, want %q", dead[0].EventID, c.id)
			}
			if string(dead[0].Line) != c.line {
				t.Errorf("line = %q, want the original bytes", dead[0].Line)
			}
			// a dead letter changes nothing else
			after, _ := m.SKU("S")
			if after.Version != before.Version || after.Unassigned != before.Unassigned || len(after.Locations) != len(before.Locations) {
				t.Errorf("state changed: %+v -> %+v", before, after)
			}
			for l, v := range before.Locations {
				if after.Locations[l] != v {
					t.Errorf("location %s changed: %+v -> %+v", l, v, after.Locations[l])
				}
			}
			if len(m.Updates()) != nUpdates || len(m.Alerts()) != 0 || m.Duplicates() != 0 {
				t.Errorf("dead letter published: updates %d -> %d, alerts %v, dups %d", nUpdates, len(m.Updates()), m.Alerts(), m.Duplicates())
			}
			if got := m.SKUs(); len(got) != 1 || got[0] != "S" {
				t.Errorf("SKUs = %v", got)
			}
		})
	}
}

// Lines that sit at the edge of a limit and must be applied.
func TestAcceptedAtTheLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("y", n) }
	cases := []struct{ name, line string }{
		{"qty 1e9", e("a", TypeReceipt, `"location":"dc","qty":1000000000`)},
		{"qty 1", e("a", TypeReceipt, `"location":"dc","qty":1`)},
		{"event_id 128 bytes", e(long(128), TypeReceipt, `"location":"dc","qty":1`)},
		{"sku 128 bytes", `{"event_id":"a","type":"receipt","sku":"` + long(128) + `",` + ts + `,"location":"dc","qty":1}`},
		{"sku with inner space and unicode", `{"event_id":"a","type":"receipt","sku":"Tee shirt \u00e9t\u00e9 😀",` + ts + `,"location":"dc","qty":1}`},
		{"location 64 bytes", e("a", TypeReceipt, `"location":"`+long(64)+`","qty":1`)},
		{"source empty", e("a", TypeReceipt, `"source":"","location":"dc","qty":1`)},
		{"source null", e("a", TypeReceipt, `"source":null,"location":"dc","qty":1`)},
		{"source 128 bytes", e("a", TypeReceipt, `"source":"`+long(128)+`","location":"dc","qty":1`)},
		{"po_id null on receipt", e("a", TypeReceipt, `"location":"dc","qty":1,"po_id":null`)},
		{"unknown fields ignored", e("a", TypeReceipt, `"location":"dc","qty":1,"colour":"red","extra":{"x":[1,2]}`)},
		{"occurred_at with offset and fraction", `{"event_id":"a","type":"receipt","sku":"S","occurred_at":"2026-11-27T10:00:00.123456+01:00","location":"dc","qty":1}`},
		{"counted 0", e("a", TypeStockCount, `"location":"dc","counted":0`)},
		{"counted 1e9", e("a", TypeStockCount, `"location":"dc","counted":1000000000`)},
		{"adjustment -1e9", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":-1000000000,"reason":"r"`)},
		{"adjustment only unavailable", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":0,"unavailable_delta":1,"reason":"r"`)},
		{"reason 256 bytes", e("a", TypeAdjustment, `"location":"dc","on_hand_delta":1,"reason":"`+long(256)+`"`)},
		{"share 1", e("a", TypeChannelPolicy, `"channel":"c","locations":["dc"],"buffer":0,"share_pct":1`)},
		{"buffer and max_qty 1e9", e("a", TypeChannelPolicy, `"channel":"c","locations":[],"buffer":1000000000,"share_pct":100,"max_qty":1000000000`)},
		{"max_qty 0", e("a", TypeChannelPolicy, `"channel":"c","locations":[],"buffer":0,"share_pct":100,"max_qty":0`)},
		{"max_qty null", e("a", TypeChannelPolicy, `"channel":"c","locations":[],"buffer":0,"share_pct":100,"max_qty":null`)},
		{"sku on channel_policy ignored", `{"event_id":"a","type":"channel_policy","sku":"","occurred_at":"2026-11-27T10:00:00Z","channel":"c","locations":[],"buffer":0,"share_pct":100}`},
		{"safety_stock values at limits", e("a", TypeSKUPolicy, `"safety_stock":{"dc":0,"store":1000000000},"reorder_point":0`)},
		{"reorder_point null", e("a", TypeSKUPolicy, `"safety_stock":{},"reorder_point":null`)},
		{"resellable true", e("a", TypeReturn, `"location":"dc","qty":1,"resellable":true`)},
		{"resellable null", e("a", TypeReturn, `"location":"dc","qty":1,"resellable":null`)},
		{"cancel qty beyond open", e("a", TypeOrderCancelled, `"order_id":"O-1","qty":50`)},
		{"shipment of unknown order", e("a", TypeShipment, `"location":"dc","qty":1,"order_id":"O-404"`)},
		{"transfer_in beyond expected", e("a", TypeTransferIn, `"transfer_id":"T-1","qty":5`)},
		{"receipt on unknown po", e("a", TypeReceipt, `"location":"dc","qty":1,"po_id":"PO-404"`)},
		{"whitespace around the object", "  " + e("a", TypeReceipt, `"location":"dc","qty":1`) + " \r\n"},

		// Unicode text the rule for a JSON line allows (DECISIONS.md): a
		// surrogate pair escape is one character, U+FFFD is a character like
		// any other, and an escaped backslash before "ud800" is no escape.
		{"sku surrogate pair", `{"event_id":"a","type":"receipt","sku":"S\ud83d\ude00",` + ts + `,"location":"dc","qty":1}`},
		{"sku surrogate pair, upper case", `{"event_id":"a","type":"receipt","sku":"S\uD83D\uDE00",` + ts + `,"location":"dc","qty":1}`},
		{"event_id surrogate pair", e(`a\ud83d\ude00`, TypeReceipt, `"location":"dc","qty":1`)},
		{"source surrogate pair", e("a", TypeReceipt, `"source":"\ud83d\ude00","location":"dc","qty":1`)},
		{"unknown field surrogate pair", e("a", TypeReceipt, `"location":"dc","qty":1,"colour":"\ud83d\ude00"`)},
		{"key surrogate pair", e("a", TypeReceipt, `"location":"dc","qty":1,"\ud83d\ude00":"red"`)},
		{"location surrogate pair", e("a", TypeReceipt, `"location":"dc\ud83d\ude00","qty":1`)},
		{"sku U+FFFD escaped", `{"event_id":"a","type":"receipt","sku":"S\ufffd",` + ts + `,"location":"dc","qty":1}`},
		{"sku U+FFFD as UTF-8", `{"event_id":"a","type":"receipt","sku":"S` + "\uFFFD" + `",` + ts + `,"location":"dc","qty":1}`},
		{"sku escaped backslash then ud800", `{"event_id":"a","type":"receipt","sku":"S\\ud800",` + ts + `,"location":"dc","qty":1}`},
		{"unknown field ends in escaped backslash", e("a", TypeReceipt, `"location":"dc","qty":1,"note":"x\\","colour":"\ud83d\ude00"`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := setupModel(t)
			m.Apply([]byte(c.line))
			if d := m.DeadLetters(); len(d) != 0 {
				t.Fatalf("dead-lettered: %+v", d)
			}
		})
	}
}

func TestCheckOrderStaticThenDuplicateThenState(t *testing.T) {
	// A retried event that now fails a static check is dead-lettered, not
	// counted as a duplicate.
	m := setupModel(t)
	m.Apply([]byte(e("s1", TypeReceipt, `"location":"dc","qty":0`)))
	checkDead(t, m, [2]string{"s1", ReasonQuantityOutOfRange})
	if m.Duplicates() != 0 {
		t.Errorf("duplicates = %d", m.Duplicates())
	}

	// A retried order is a duplicate, not order_exists.
	m = setupModel(t)
	m.Apply([]byte(e("s5", TypeOrder, `"channel":"web","order_id":"O-1","qty":2,"location":"dc"`)))
	checkDead(t, m)
	if m.Duplicates() != 1 {
		t.Errorf("duplicates = %d, want 1", m.Duplicates())
	}
	v, _ := m.SKU("S")
	if v.Version != 7 || v.Locations["dc"].Reserved != 2 {
		t.Errorf("state after duplicate: %+v", v)
	}

	// A dead-lettered event is not remembered as applied: the same id can
	// apply later.
	m = setupModel(t)
	m.Apply([]byte(e("c9", TypeOrderCancelled, `"order_id":"O-2"`)))
	m.Apply([]byte(e("o2", TypeOrder, `"channel":"web","order_id":"O-2","qty":3`)))
	m.Apply([]byte(e("c9", TypeOrderCancelled, `"order_id":"O-2"`)))
	checkDead(t, m, [2]string{"c9", ReasonUnknownOrder})
	v, _ = m.SKU("S")
	if m.Duplicates() != 0 || v.Unassigned != 0 || v.Version != 9 {
		t.Errorf("dups %d, state %+v", m.Duplicates(), v)
	}

	// Duplicates are per SKU: the same event id applies to another SKU.
	m = setupModel(t)
	m.Apply([]byte(`{"event_id":"s1","type":"receipt","sku":"T",` + ts + `,"location":"dc","qty":4}`))
	if m.Duplicates() != 0 {
		t.Errorf("duplicates = %d", m.Duplicates())
	}
	if v, ok := m.SKU("T"); !ok || v.Locations["dc"].OnHand != 4 {
		t.Errorf("T = %+v", v)
	}
}

func TestDeadLetteredFirstEventDoesNotCreateSKU(t *testing.T) {
	m := run(t, `
{"event_id":"cp","type":"channel_policy",`+ts+`,"channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"c1","type":"order_cancelled","sku":"NEW",`+ts+`,"order_id":"X"}
`)
	if _, ok := m.SKU("NEW"); ok || len(m.SKUs()) != 0 || len(m.Updates()) != 0 || len(m.Final()) != 0 {
		t.Errorf("dead letter created SKU: %v %v", m.SKUs(), m.Updates())
	}
}

// DECISIONS.md's example: read as U+FFFD, PROD-\xff and PROD-\xfe would share
// one stock with PROD-\uFFFD. Refused whole, they leave that SKU alone.
func TestBadTextDoesNotShareAStock(t *testing.T) {
	receipt := func(id, sku string, qty string) []byte {
		return []byte(`{"event_id":"` + id + `","type":"receipt","sku":"` + sku + `",` + ts + `,"location":"dc","qty":` + qty + `}`)
	}
	m := New()
	m.Apply(receipt("r1", "PROD-\xff", "1"))
	m.Apply(receipt("r2", "PROD-\xfe", "2"))
	m.Apply(receipt("r3", `PROD-\ud800`, "4"))
	m.Apply(receipt("r4", `PROD-\ufffd`, "8"))
	checkDead(t, m, [2]string{"", ReasonUndecodable}, [2]string{"", ReasonUndecodable}, [2]string{"", ReasonUndecodable})
	if got := m.SKUs(); len(got) != 1 || got[0] != "PROD-\uFFFD" {
		t.Fatalf("SKUs = %q, want only PROD-\\uFFFD", got)
	}
	if v, _ := m.SKU("PROD-\uFFFD"); v.Locations["dc"].OnHand != 8 {
		t.Errorf("PROD-\\uFFFD on hand = %d, want 8", v.Locations["dc"].OnHand)
	}
}

// A surrogate pair escape is one character: the same SKU and event id as the
// character written as UTF-8.
func TestSurrogatePairIsOneCharacter(t *testing.T) {
	m := New()
	m.Apply([]byte(`{"event_id":"a\ud83d\ude00","type":"receipt","sku":"S\ud83d\ude00",` + ts + `,"location":"dc","qty":3}`))
	m.Apply([]byte(`{"event_id":"b","type":"receipt","sku":"S😀",` + ts + `,"location":"dc","qty":4}`))
	m.Apply([]byte(`{"event_id":"a😀","type":"receipt","sku":"S😀",` + ts + `,"location":"dc","qty":5}`)) // a retry of the first
	m.Apply([]byte(`{"event_id":"c\uD83D\uDE00","type":"receipt","sku":"S😀",` + ts + `,"location":"dc","qty":0}`))
	checkDead(t, m, [2]string{"c😀", ReasonQuantityOutOfRange})
	if m.Duplicates() != 1 {
		t.Errorf("duplicates = %d, want 1", m.Duplicates())
	}
	if got := m.SKUs(); len(got) != 1 || got[0] != "S😀" {
		t.Fatalf("SKUs = %q, want only S😀", got)
	}
	if v, _ := m.SKU("S😀"); v.Locations["dc"].OnHand != 7 {
		t.Errorf("on hand = %d, want 7", v.Locations["dc"].OnHand)
	}
}
