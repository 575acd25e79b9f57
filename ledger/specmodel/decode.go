package specmodel

// Decoding and static validation of one JSON Lines event, written from
// ledger-semantics.md and ledger/DECISIONS.md ("Codes and limits").

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Dead-letter reason codes (ledger/DECISIONS.md).
const (
	ReasonUndecodable         = "undecodable"
	ReasonUnknownSchema       = "unknown_schema"
	ReasonUnknownType         = "unknown_type"
	ReasonMissingField        = "missing_field"
	ReasonInvalidField        = "invalid_field"
	ReasonQuantityOutOfRange  = "quantity_out_of_range"
	ReasonPOExists            = "po_exists"
	ReasonOrderExists         = "order_exists"
	ReasonTransferExists      = "transfer_exists"
	ReasonUnknownPO           = "unknown_po"
	ReasonUnknownOrder        = "unknown_order"
	ReasonUnknownTransfer     = "unknown_transfer"
	ReasonZeroAdjustment      = "zero_adjustment"
	ReasonNegativeUnavailable = "negative_unavailable"

	// ReasonWrongPartition is part 2's (ledger-semantics-2.md, "Placement"):
	// a SKU's event in a partition other than its sku's, or keyed by
	// something else than its sku. See Model.ApplyRecord.
	ReasonWrongPartition = "wrong_partition"

	// Part 2's reasons (ledger-semantics-2.md; DECISIONS.md, "Part 2").
	// transfer_closed of an unknown or closed transfer is
	// ReasonUnknownTransfer.
	ReasonHoldExists        = "hold_exists"
	ReasonUnknownHold       = "unknown_hold"
	ReasonUnresolvedListing = "unresolved_listing"
)

// Event types.
const (
	TypePurchaseOrder       = "purchase_order"
	TypeReceipt             = "receipt"
	TypePurchaseOrderClosed = "purchase_order_closed"
	TypeOrder               = "order"
	TypeOrderCancelled      = "order_cancelled"
	TypeShipment            = "shipment"
	TypePOSSale             = "pos_sale"
	TypeReturn              = "return"
	TypeAdjustment          = "adjustment"
	TypeStockCount          = "stock_count"
	TypeTransferOut         = "transfer_out"
	TypeTransferIn          = "transfer_in"
	TypeSKUPolicy           = "sku_policy"
	TypeChannelPolicy       = "channel_policy"

	// part 2
	TypeClock            = "clock"
	TypeHold             = "hold"
	TypeHoldReleased     = "hold_released"
	TypeListing          = "listing"
	TypeSKUChannelPolicy = "sku_channel_policy"
	TypeTransferClosed   = "transfer_closed"
)

var knownTypes = map[string]bool{
	TypePurchaseOrder: true, TypeReceipt: true, TypePurchaseOrderClosed: true,
	TypeOrder: true, TypeOrderCancelled: true, TypeShipment: true, TypePOSSale: true,
	TypeReturn: true, TypeAdjustment: true, TypeStockCount: true, TypeTransferOut: true,
	TypeTransferIn: true, TypeSKUPolicy: true, TypeChannelPolicy: true,
	TypeClock: true, TypeHold: true, TypeHoldReleased: true, TypeListing: true,
	TypeSKUChannelPolicy: true, TypeTransferClosed: true,
}

// listingTypes may name a listing_sku (part 2, "Listings"): the tools resolve
// it to the sku before the topic, so one without a sku is unresolved_listing.
var listingTypes = map[string]bool{
	TypeOrder: true, TypeOrderCancelled: true, TypeHold: true,
	TypeHoldReleased: true, TypePOSSale: true, TypeReturn: true,
}

const maxUnits = 1_000_000_000

// event is a statically valid event. Optional fields carry a has* flag or a
// nil pointer when absent (or JSON null).
type event struct {
	id, typ, sku string

	poID, location, toLocation, channel, orderID, transferID, reason string
	hasPOID, hasLocation, hasOrderID, hasQty                         bool

	qty, counted, onHandDelta, unavailableDelta int64
	resellable                                  bool

	safety  map[string]int64
	reorder *int64

	locations     []string
	buffer, share int64
	maxQty        *int64

	// part 2
	occurredAt           time.Time // truncated to the microsecond
	holdID, listingSKU   string
	hasHoldID            bool
	expiresAt            time.Time // truncated to the microsecond
	allowPartial, active bool
	units                int64
	endAt, leadTime      *int64
	override             override // sku_channel_policy's fields
	hasOverrideFields    bool     // any field but channel given
}

// parser checks fields one after another; the first problem found wins and
// later checks do not overwrite it.
type parser struct {
	obj    map[string]json.RawMessage
	reason string
}

func (p *parser) fail(reason string) {
	if p.reason == "" {
		p.reason = reason
	}
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// lookup returns the raw value of a field, or nil if it is absent or null.
func (p *parser) lookup(name string) json.RawMessage {
	raw, ok := p.obj[name]
	if !ok || isNull(raw) {
		return nil
	}
	return bytes.TrimSpace(raw)
}

// codeOK: 1..max bytes of valid UTF-8, no control characters, no leading or
// trailing space (the rule for sku, location, channel, po_id, ...). A string
// that is not valid UTF-8 never gets here (its line is undecodable, see
// unicodeText); the check stays so the rule reads as DECISIONS.md states it.
func codeOK(s string, valid bool, max int) bool {
	if !valid || len(s) < 1 || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !unicode.IsSpace(first) && !unicode.IsSpace(last)
}

// str checks a string field. rule is applied to the decoded value.
func (p *parser) str(name string, required bool, rule func(s string, valid bool) bool) (string, bool) {
	raw := p.lookup(name)
	if raw == nil {
		if required {
			p.fail(ReasonMissingField)
		}
		return "", false
	}
	s, valid, ok := decodeString(raw)
	if !ok {
		p.fail(ReasonInvalidField)
		return "", false
	}
	if !rule(s, valid) {
		p.fail(ReasonInvalidField)
	}
	return s, true
}

func code(max int) func(string, bool) bool {
	return func(s string, valid bool) bool { return codeOK(s, valid, max) }
}

func byteLen(min, max int) func(string, bool) bool {
	return func(s string, _ bool) bool { return len(s) >= min && len(s) <= max }
}

func channelOK(s string, valid bool) bool {
	return codeOK(s, valid, 64) && !strings.Contains(s, "/")
}

func (p *parser) num(name string, required bool, min, max int64, rangeReason string) (int64, bool) {
	raw := p.lookup(name)
	if raw == nil {
		if required {
			p.fail(ReasonMissingField)
		}
		return 0, false
	}
	v, reason := numberValue(raw, min, max, rangeReason)
	if reason != "" {
		p.fail(reason)
		return 0, false
	}
	return v, true
}

func (p *parser) qty(name string, required bool) (int64, bool) {
	return p.num(name, required, 1, maxUnits, ReasonQuantityOutOfRange)
}

var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`)

func timeOK(s string, _ bool) bool {
	if !rfc3339.MatchString(s) {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	return err == nil
}

// stringEventID returns the event's event_id if it is a JSON string, valid
// code or not, so that a dead letter can name it; "" otherwise.
func stringEventID(obj map[string]json.RawMessage) string {
	if raw := obj["event_id"]; raw != nil {
		if s, _, ok := decodeString(raw); ok {
			return s
		}
	}
	return ""
}

// knownType reads the type, the first check of all: missing, not a string,
// or not one of the spec's types gives the reason.
func (p *parser) knownType() (typ, reason string) {
	typ, _ = p.str("type", true, func(string, bool) bool { return true })
	if p.reason != "" {
		return "", p.reason
	}
	if !knownTypes[typ] {
		return "", ReasonUnknownType
	}
	return typ, ""
}

// hasSKU reports whether events of a (known) type carry a sku: every type
// but channel_policy, which reaches every SKU, and clock, which reaches every
// SKU of its partition (a sku on a clock is ignored).
func hasSKU(typ string) bool { return typ != TypeChannelPolicy && typ != TypeClock }

// parse decodes and statically checks one line. On failure it returns the
// reason and the event_id if the line had a string one.
func parse(line []byte) (ev event, reason string, eventID string) {
	obj, ok := decodeObject(line)
	if !ok {
		return ev, ReasonUndecodable, ""
	}
	eventID = stringEventID(obj)
	p := &parser{obj: obj}

	// type
	typ, reason := p.knownType()
	if reason != "" {
		return ev, reason, eventID
	}
	ev.typ = typ

	// common fields
	ev.id, _ = p.str("event_id", true, byteLen(1, 128))
	if hasSKU(typ) {
		if p.lookup("sku") == nil && listingTypes[typ] && p.lookup("listing_sku") != nil {
			p.fail(ReasonUnresolvedListing) // where a missing sku would be
		}
		ev.sku, _ = p.str("sku", true, code(128))
	}
	if at, ok := p.str("occurred_at", true, timeOK); ok && timeOK(at, true) {
		ev.occurredAt = parseTime(at)
	}
	p.str("source", false, byteLen(0, 128))

	// the type's fields, in the spec table's order
	if !p.part1Fields(&ev) {
		p.part2Fields(&ev)
	}
	// listing_sku is part 2's addition to these types, after their own fields
	if listingTypes[typ] {
		ev.listingSKU, _ = p.str("listing_sku", false, listingSKUOK)
	}
	return ev, p.reason, eventID
}

// part1Fields reads the fields of part 1's types (with the fields part 2 adds
// to them, after theirs); false for part 2's types.
func (p *parser) part1Fields(ev *event) bool {
	switch ev.typ {
	case TypePurchaseOrder:
		ev.poID, _ = p.str("po_id", true, code(128))
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.qty, ev.hasQty = p.qty("qty", true)
	case TypeReceipt:
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.qty, ev.hasQty = p.qty("qty", true)
		ev.poID, ev.hasPOID = p.str("po_id", false, code(128))
	case TypePurchaseOrderClosed:
		ev.poID, ev.hasPOID = p.str("po_id", true, code(128))
	case TypeOrder:
		ev.channel, _ = p.str("channel", true, channelOK)
		ev.orderID, ev.hasOrderID = p.str("order_id", true, code(128))
		ev.qty, ev.hasQty = p.qty("qty", true)
		ev.location, ev.hasLocation = p.str("location", false, code(64))
		ev.holdID, ev.hasHoldID = p.str("hold_id", false, holdIDOK)
	case TypeOrderCancelled:
		ev.orderID, ev.hasOrderID = p.str("order_id", true, code(128))
		ev.qty, ev.hasQty = p.qty("qty", false)
	case TypeShipment:
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.qty, ev.hasQty = p.qty("qty", true)
		ev.orderID, ev.hasOrderID = p.str("order_id", false, code(128))
	case TypePOSSale:
		ev.channel, _ = p.str("channel", true, channelOK)
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.qty, ev.hasQty = p.qty("qty", true)
	case TypeReturn:
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.qty, ev.hasQty = p.qty("qty", true)
		ev.resellable, _ = p.boolean("resellable", true)
	default:
		return p.stockAndPolicyFields(ev)
	}
	return true
}

// stockAndPolicyFields reads the fields of part 1's adjustments, counts,
// transfers and policies (with the fields part 2 adds to them).
func (p *parser) stockAndPolicyFields(ev *event) bool {
	switch ev.typ {
	case TypeAdjustment:
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.onHandDelta, _ = p.num("on_hand_delta", true, -maxUnits, maxUnits, ReasonQuantityOutOfRange)
		ev.unavailableDelta, _ = p.num("unavailable_delta", false, -maxUnits, maxUnits, ReasonQuantityOutOfRange)
		ev.reason, _ = p.str("reason", true, byteLen(1, 256))
		if ev.onHandDelta == 0 && ev.unavailableDelta == 0 {
			p.fail(ReasonZeroAdjustment)
		}
	case TypeStockCount:
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.counted, _ = p.num("counted", true, 0, maxUnits, ReasonQuantityOutOfRange)
	case TypeTransferOut:
		ev.transferID, _ = p.str("transfer_id", true, code(128))
		ev.location, ev.hasLocation = p.str("location", true, code(64))
		ev.toLocation, _ = p.str("to_location", true, func(s string, valid bool) bool {
			return codeOK(s, valid, 64) && s != ev.location
		})
		ev.qty, ev.hasQty = p.qty("qty", true)
	case TypeTransferIn:
		ev.transferID, _ = p.str("transfer_id", true, code(128))
		ev.qty, ev.hasQty = p.qty("qty", true)
	case TypeSKUPolicy:
		ev.safety = p.safetyStock("safety_stock")
		if v, ok := p.num("reorder_point", false, 0, maxUnits, ReasonQuantityOutOfRange); ok {
			ev.reorder = &v
		}
		ev.leadTime = p.optNum("lead_time_days", 1, 365, ReasonInvalidField)
	case TypeChannelPolicy:
		ev.channel, _ = p.str("channel", true, channelOK)
		ev.locations = p.locationList("locations")
		ev.buffer, _ = p.num("buffer", true, 0, maxUnits, ReasonQuantityOutOfRange)
		ev.share, _ = p.num("share_pct", true, 1, 100, ReasonInvalidField)
		if v, ok := p.num("max_qty", false, 0, maxUnits, ReasonQuantityOutOfRange); ok {
			ev.maxQty = &v
		}
		ev.endAt = p.optNum("end_at", 0, maxUnits, ReasonQuantityOutOfRange)
	default:
		return false
	}
	return true
}

// safetyStock reads a {location: units} object, checking entries in document
// order (key, then value).
func (p *parser) safetyStock(name string) map[string]int64 {
	raw := p.lookup(name)
	if raw == nil {
		p.fail(ReasonMissingField)
		return nil
	}
	if raw[0] != '{' {
		p.fail(ReasonInvalidField)
		return nil
	}
	out := map[string]int64{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		p.fail(ReasonInvalidField)
		return nil
	}
	for dec.More() {
		start := dec.InputOffset()
		if _, err := dec.Token(); err != nil {
			p.fail(ReasonInvalidField)
			return nil
		}
		keyRaw := bytes.TrimLeft(raw[start:dec.InputOffset()], " \t\r\n,")
		key, valid, ok := decodeString(keyRaw)
		if !ok || !codeOK(key, valid, 64) {
			p.fail(ReasonInvalidField)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			p.fail(ReasonInvalidField)
			return nil
		}
		if isNull(val) {
			p.fail(ReasonInvalidField)
			continue
		}
		units, reason := numberValue(val, 0, maxUnits, ReasonQuantityOutOfRange)
		if reason != "" {
			p.fail(reason)
			continue
		}
		out[key] = units
	}
	return out
}

// locationList reads a JSON array of distinct location codes.
func (p *parser) locationList(name string) []string {
	raw := p.lookup(name)
	if raw == nil {
		p.fail(ReasonMissingField)
		return nil
	}
	var items []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		p.fail(ReasonInvalidField)
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, item := range items {
		s, valid, ok := decodeString(item)
		if !ok || !codeOK(s, valid, 64) || seen[s] {
			p.fail(ReasonInvalidField)
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
