package specmodel

// Static checks of part 2's event types and fields (ledger-semantics-2.md;
// DECISIONS.md, "Part 2 ...: choices where it is silent", table "Codes and
// limits of the new fields"), in the spec tables' field order.

import (
	"strings"
	"time"
)

// maxHoldSpan: a hold may last at most 7 days past its occurred_at.
const maxHoldSpan = 7 * 24 * time.Hour

// override is a sku_channel_policy's fields; nil / false: not given, so the
// channel policy's field stands.
type override struct {
	exclude       bool
	locations     []string
	hasLocations  bool
	buffer, share *int64
	maxQty, endAt *int64
}

// part2Fields reads the fields of part 2's new types. clock has none beyond
// the common ones.
func (p *parser) part2Fields(ev *event) {
	switch ev.typ {
	case TypeHold:
		ev.holdID, ev.hasHoldID = p.str("hold_id", true, holdIDOK)
		ev.channel, _ = p.str("channel", true, channelOK)
		ev.qty, ev.hasQty = p.qty("qty", true)
		ev.expiresAt = p.expiresAt(ev.occurredAt)
		ev.location, ev.hasLocation = p.str("location", false, code(64))
		ev.allowPartial, _ = p.boolean("allow_partial", false)
	case TypeHoldReleased:
		ev.holdID, ev.hasHoldID = p.str("hold_id", true, holdIDOK)
	case TypeListing:
		ev.channel, _ = p.str("channel", true, channelOK)
		ev.listingSKU, _ = p.str("listing_sku", true, listingSKUOK)
		ev.units = 1
		if v, ok := p.num("units", false, 1, maxUnits, ReasonQuantityOutOfRange); ok {
			ev.units = v
		}
		ev.active, _ = p.boolean("active", true)
	case TypeSKUChannelPolicy:
		ev.channel, _ = p.str("channel", true, channelOK)
		p.overrideFields(ev)
	case TypeTransferClosed:
		ev.transferID, _ = p.str("transfer_id", true, code(128))
	}
}

// overrideFields reads sku_channel_policy's optional fields, each checked as
// channel_policy's field of the same name.
func (p *parser) overrideFields(ev *event) {
	o := &ev.override
	var given bool
	if o.exclude, given = p.boolean("exclude", false); given {
		ev.hasOverrideFields = true
	}
	if p.lookup("locations") != nil {
		o.locations, o.hasLocations = p.locationList("locations"), true
	}
	o.buffer = p.optNum("buffer", 0, maxUnits, ReasonQuantityOutOfRange)
	o.share = p.optNum("share_pct", 1, 100, ReasonInvalidField)
	o.maxQty = p.optNum("max_qty", 0, maxUnits, ReasonQuantityOutOfRange)
	o.endAt = p.optNum("end_at", 0, maxUnits, ReasonQuantityOutOfRange)
	if o.hasLocations || o.buffer != nil || o.share != nil || o.maxQty != nil || o.endAt != nil {
		ev.hasOverrideFields = true
	}
}

// optNum reads an optional whole number; nil when absent, null or invalid.
func (p *parser) optNum(name string, min, max int64, rangeReason string) *int64 {
	if v, ok := p.num(name, false, min, max, rangeReason); ok {
		return &v
	}
	return nil
}

// boolean reads an optional JSON boolean; given is false when absent or null.
func (p *parser) boolean(name string, def bool) (v, given bool) {
	raw := p.lookup(name)
	if raw == nil {
		return def, false
	}
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.fail(ReasonInvalidField)
	return def, false
}

// expiresAt reads a hold's expires_at: RFC 3339, after occurred_at and at
// most 7 days after it (else invalid_field, "invalid expires_at").
// occurred is zero when occurred_at already failed, and then p has a reason.
func (p *parser) expiresAt(occurred time.Time) time.Time {
	s, ok := p.str("expires_at", true, timeOK)
	if !ok || !timeOK(s, true) {
		return time.Time{}
	}
	t := parseTime(s)
	if !t.After(occurred) || t.Sub(occurred) > maxHoldSpan {
		p.fail(ReasonInvalidField)
	}
	return t
}

// parseTime reads a timestamp timeOK accepted, kept as UTC microseconds as
// DECISIONS.md keeps occurred_at (below a microsecond is truncated).
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	return t.UTC().Truncate(time.Microsecond)
}

// holdIDOK: 1..128 bytes, each printable ASCII, no '/' (hold results are
// keyed sku/hold_id).
func holdIDOK(s string, _ bool) bool {
	if len(s) < 1 || len(s) > 128 || strings.Contains(s, "/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// listingSKUOK: a sku code with no '/' (listing updates are keyed
// channel/sku/listing_sku).
func listingSKUOK(s string, valid bool) bool {
	return codeOK(s, valid, 128) && !strings.Contains(s, "/")
}
