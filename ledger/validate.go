package ledger

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on codes, in bytes.
const (
	MaxEventIDBytes  = 128
	MaxSKUBytes      = 128
	MaxCodeBytes     = 64 // location and channel codes
	MaxRefBytes      = 128
	MaxSourceBytes   = 128
	MaxReasonBytes   = 256
	MaxPolicyEntries = MaxLocationsPerSKU
)

// Validate checks what can be checked of ev without state: presence,
// ranges and codes (ledger/DECISIONS.md, "Codes and limits"). It returns
// ReasonNone when ev may be applied.
func Validate(ev *Event) (Reason, string) {
	if ev.Type == TypeUnknown {
		if ev.Has&FieldType == 0 {
			return ReasonMissingField, "missing type"
		}
		return ReasonUnknownType, "unknown type"
	}
	v := validator{ev: ev}
	v.common()
	switch ev.Type {
	case TypePurchaseOrder:
		v.code(FieldPOID, ev.POID, MaxRefBytes, false)
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
	case TypeReceipt:
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
		v.code(FieldPOID, ev.POID, MaxRefBytes, true)
	case TypePurchaseOrderClosed:
		v.code(FieldPOID, ev.POID, MaxRefBytes, false)
	case TypeOrder:
		v.channel(ev.Channel)
		v.code(FieldOrderID, ev.OrderID, MaxRefBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
		v.code(FieldLocation, ev.Location, MaxCodeBytes, true)
		if ev.Has&FieldHoldID != 0 {
			v.holdID()
		}
	case TypeOrderCancelled:
		v.code(FieldOrderID, ev.OrderID, MaxRefBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, true)
	case TypeShipment:
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
		v.code(FieldOrderID, ev.OrderID, MaxRefBytes, true)
	case TypePOSSale:
		v.channel(ev.Channel)
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
	case TypeReturn:
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
	case TypeAdjustment:
		v.adjustment()
	case TypeStockCount:
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.qty(FieldCounted, ev.Counted, 0, MaxEventQty, false)
	case TypeTransferOut:
		v.code(FieldTransferID, ev.TransferID, MaxRefBytes, false)
		v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
		v.code(FieldToLocation, ev.ToLocation, MaxCodeBytes, false)
		if ev.Location == ev.ToLocation {
			v.fail(ReasonInvalidField, "to_location is the same as location")
		}
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
	case TypeTransferIn:
		v.code(FieldTransferID, ev.TransferID, MaxRefBytes, false)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
	case TypeSKUPolicy:
		v.skuPolicy()
	case TypeChannelPolicy:
		v.channelPolicy()
	default:
		v.part2()
	}
	if ev.Has&FieldListingSKU != 0 && ev.Type != TypeListing {
		v.listingSKU()
	}
	return v.reason, v.detail
}

// common checks the fields every event has: event_id, sku (events of a
// SKU's type), occurred_at and source.
func (v *validator) common() {
	ev := v.ev
	v.code(FieldEventID, ev.ID, MaxEventIDBytes, false)
	switch {
	case ev.Type.Broadcast():
	case ev.Has&FieldSKU == 0 && ev.Has&FieldListingSKU != 0 && acceptsListing(ev.Type):
		v.fail(ReasonUnresolvedListing, "listing_sku "+strconv.Quote(ev.ListingSKU)+" was not resolved to a sku before the event was written")
	default:
		v.code(FieldSKU, ev.SKU, MaxSKUBytes, false)
	}
	v.need(FieldOccurredAt)
	if ev.Has&FieldSource != 0 && len(ev.Source) > MaxSourceBytes {
		v.fail(ReasonInvalidField, "source longer than "+strconv.Itoa(MaxSourceBytes)+" bytes")
	}
}

// acceptsListing reports whether events of type t may name a channel's
// listing_sku instead of the sku (resolved by the tools that write them).
func acceptsListing(t EventType) bool {
	switch t {
	case TypeOrder, TypeOrderCancelled, TypeHold, TypeHoldReleased, TypePOSSale, TypeReturn:
		return true
	}
	return false
}

// adjustment checks an adjustment's fields.
func (v *validator) adjustment() {
	ev := v.ev
	v.code(FieldLocation, ev.Location, MaxCodeBytes, false)
	v.qty(FieldOnHandDelta, ev.OnHandDelta, -MaxEventQty, MaxEventQty, false)
	v.qty(FieldUnavailableDelta, ev.UnavailableDelta, -MaxEventQty, MaxEventQty, true)
	if v.need(FieldReason) && (len(ev.Reason) == 0 || len(ev.Reason) > MaxReasonBytes) {
		v.fail(ReasonInvalidField, "reason must be 1.."+strconv.Itoa(MaxReasonBytes)+" bytes")
	}
	if ev.OnHandDelta == 0 && ev.UnavailableDelta == 0 {
		v.fail(ReasonZeroAdjustment, "on_hand_delta and unavailable_delta are both zero")
	}
}

// skuPolicy checks a sku_policy's fields.
func (v *validator) skuPolicy() {
	ev := v.ev
	if v.need(FieldSafetyStock) {
		if len(ev.SafetyStock) > MaxPolicyEntries {
			v.fail(ReasonInvalidField, "safety_stock has more than "+strconv.Itoa(MaxPolicyEntries)+" locations")
		}
		for i, e := range ev.SafetyStock {
			v.codeValue("safety_stock location", e.Location, MaxCodeBytes)
			if e.Qty < 0 || e.Qty > MaxEventQty {
				v.fail(ReasonQuantityOutOfRange, "safety_stock["+strconv.Quote(e.Location)+"] "+rangeText(e.Qty, 0, MaxEventQty))
			}
			for _, f := range ev.SafetyStock[:i] {
				if f.Location == e.Location {
					v.fail(ReasonInvalidField, "safety_stock names "+strconv.Quote(e.Location)+" twice")
				}
			}
		}
	}
	v.qty(FieldReorderPoint, ev.ReorderPoint, 0, MaxEventQty, true)
	if ev.Has&FieldLeadTimeDays != 0 && (ev.LeadTimeDays < 1 || ev.LeadTimeDays > 365) {
		v.fail(ReasonInvalidField, "lead_time_days "+strconv.FormatInt(ev.LeadTimeDays, 10)+" not in 1..365")
	}
}

// channelPolicy checks a channel_policy's fields.
func (v *validator) channelPolicy() {
	ev := v.ev
	v.channel(ev.Channel)
	if v.need(FieldLocations) {
		v.locations()
	}
	v.qty(FieldBuffer, ev.Buffer, 0, MaxEventQty, false)
	if v.need(FieldSharePct) {
		v.sharePct()
	}
	v.qty(FieldMaxQty, ev.MaxQty, 0, MaxEventQty, true)
	v.qty(FieldEndAt, ev.EndAt, 0, MaxEventQty, true)
}

func (v *validator) locations() {
	ev := v.ev
	if len(ev.Locations) > MaxPolicyEntries {
		v.fail(ReasonInvalidField, "locations has more than "+strconv.Itoa(MaxPolicyEntries)+" entries")
	}
	for i, l := range ev.Locations {
		v.codeValue("locations entry", l, MaxCodeBytes)
		for _, m := range ev.Locations[:i] {
			if m == l {
				v.fail(ReasonInvalidField, "locations names "+strconv.Quote(l)+" twice")
			}
		}
	}
}

func (v *validator) sharePct() {
	if p := v.ev.SharePct; p < 1 || p > 100 {
		v.fail(ReasonInvalidField, "share_pct "+strconv.FormatInt(p, 10)+" not in 1..100")
	}
}

// part2 checks the fields of part 2's event types.
func (v *validator) part2() {
	ev := v.ev
	switch ev.Type {
	case TypeHold:
		v.holdID()
		v.channel(ev.Channel)
		v.qty(FieldQty, ev.Qty, 1, MaxEventQty, false)
		if v.need(FieldExpiresAt) && (ev.ExpiresAt <= ev.OccurredAt || ev.ExpiresAt-ev.OccurredAt > MaxHoldMicros) {
			v.fail(ReasonInvalidField, "invalid expires_at: it must be after occurred_at and at most 7 days after it")
		}
		v.code(FieldLocation, ev.Location, MaxCodeBytes, true)
	case TypeHoldReleased:
		v.holdID()
	case TypeListing:
		v.channel(ev.Channel)
		if v.need(FieldListingSKU) {
			v.listingSKU()
		}
		v.qty(FieldUnits, ev.Units, 1, MaxEventQty, true)
	case TypeSKUChannelPolicy:
		v.channel(ev.Channel)
		if ev.Has&FieldLocations != 0 {
			v.locations()
		}
		v.qty(FieldBuffer, ev.Buffer, 0, MaxEventQty, true)
		if ev.Has&FieldSharePct != 0 {
			v.sharePct()
		}
		v.qty(FieldMaxQty, ev.MaxQty, 0, MaxEventQty, true)
		v.qty(FieldEndAt, ev.EndAt, 0, MaxEventQty, true)
	case TypeTransferClosed:
		v.code(FieldTransferID, ev.TransferID, MaxRefBytes, false)
	}
}

// MaxHoldMicros is how far after its occurred_at a hold may expire: 7 days.
const MaxHoldMicros = 7 * 24 * 3600 * 1_000_000

func (v *validator) holdID() {
	s := v.ev.HoldID
	if !v.need(FieldHoldID) {
		return
	}
	ok := len(s) >= 1 && len(s) <= MaxRefBytes
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x20 && s[i] <= 0x7e && s[i] != '/'
	}
	if !ok {
		v.fail(ReasonInvalidField, "invalid hold_id "+strconv.Quote(s)+": 1.."+strconv.Itoa(MaxRefBytes)+" printable ASCII bytes, no '/'")
	}
}

func (v *validator) listingSKU() {
	s := v.ev.ListingSKU
	if !ValidCode(s, MaxSKUBytes) || strings.IndexByte(s, '/') >= 0 {
		v.fail(ReasonInvalidField, "listing_sku "+strconv.Quote(s)+" is not a valid code (no '/')")
	}
}

// validator records the first problem found.
type validator struct {
	ev     *Event
	reason Reason
	detail string
}

func (v *validator) fail(r Reason, detail string) {
	if v.reason == ReasonNone {
		v.reason, v.detail = r, detail
	}
}

// need reports whether f is present, failing with missing_field if not.
func (v *validator) need(f Field) bool {
	if v.ev.Has&f == 0 {
		v.fail(ReasonMissingField, "missing "+f.String())
		return false
	}
	return true
}

func (v *validator) code(f Field, s string, maxBytes int, optional bool) {
	if optional && v.ev.Has&f == 0 {
		return
	}
	if v.need(f) && !ValidCode(s, maxBytes) {
		v.fail(ReasonInvalidField, f.String()+" "+strconv.Quote(s)+" is not a valid code")
	}
}

func (v *validator) codeValue(what, s string, maxBytes int) {
	if !ValidCode(s, maxBytes) {
		v.fail(ReasonInvalidField, what+" "+strconv.Quote(s)+" is not a valid code")
	}
}

func (v *validator) channel(s string) {
	v.code(FieldChannel, s, MaxCodeBytes, false)
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			v.fail(ReasonInvalidField, "channel "+strconv.Quote(s)+" contains '/'")
			return
		}
	}
}

func (v *validator) qty(f Field, q, lo, hi Qty, optional bool) {
	if optional && v.ev.Has&f == 0 {
		return
	}
	if v.need(f) && (q < lo || q > hi) {
		v.fail(ReasonQuantityOutOfRange, f.String()+" "+rangeText(q, lo, hi))
	}
}

func rangeText(q, lo, hi Qty) string {
	return strconv.FormatInt(int64(q), 10) + " not in " + strconv.FormatInt(int64(lo), 10) + ".." + strconv.FormatInt(int64(hi), 10)
}

// ValidCode reports whether s is 1..maxBytes bytes of valid UTF-8 with no
// control characters and no leading or trailing space.
func ValidCode(s string, maxBytes int) bool {
	if len(s) == 0 || len(s) > maxBytes {
		return false
	}
	if printableASCII(s) {
		return s[0] != ' ' && s[len(s)-1] != ' '
	}
	if !utf8.ValidString(s) {
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

// printableASCII reports whether s is only printable ASCII (space
// included): the codes retailers use, checked without decoding runes,
// eight bytes at a time (every code of every event is checked: a byte
// loop was 4% of a replay's CPU).
func printableASCII(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// With no byte's high bit set, no per-byte sum below carries into
		// the next byte: c+0x60 has its high bit set iff c >= 0x20, and
		// c+0x01 iff c >= 0x7f.
		if x&high != 0 || (x+0x60*ones)&high != high || (x+ones)&high != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
