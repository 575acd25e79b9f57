package schemas

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
)

// The JSON Lines form: one object a line, named by "type" (or "kind" for an
// alert), fields in the Avro schemas' order, occurred_at in RFC 3339 UTC
// with fractional seconds only when they are not zero.

// AppendEventJSON appends ev in the JSON Lines form (no newline): event_id,
// type, then the fields ev.Has marks, in the schema's order.
func AppendEventJSON(dst []byte, ev *ledger.Event) []byte {
	dst = append(dst, '{')
	w := jsonObject{dst: dst}
	if ev.Has&ledger.FieldEventID != 0 {
		w.key("event_id")
		w.dst = appendJSONString(w.dst, ev.ID)
	}
	var fields []readerField
	if int(ev.Type) < len(current.events) && current.events[ev.Type] != nil {
		w.key("type")
		w.dst = appendJSONString(w.dst, ev.Type.String())
		fields = current.events[ev.Type].fields
	} else {
		fields = current.events[ledger.TypeReceipt].fields[:4] // the common fields
	}
	for i := range fields {
		f := &fields[i]
		if f.slot == sEventID || ev.Has&f.slot.field() == 0 {
			continue
		}
		w.key(f.name)
		w.dst = appendJSONValue(w.dst, ev, f.slot)
	}
	return append(w.dst, '}')
}

func appendJSONValue(dst []byte, ev *ledger.Event, s slot) []byte {
	switch slotKinds[s] {
	case valString:
		return appendJSONString(dst, getString(ev, s))
	case valLong:
		if s.isTime() {
			return appendJSONTime(dst, getLong(ev, s))
		}
		return strconv.AppendInt(dst, getLong(ev, s), 10)
	case valBool:
		return strconv.AppendBool(dst, getBool(ev, s))
	case valLocQtys:
		dst = append(dst, '{')
		for i, e := range ev.SafetyStock {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendJSONString(dst, e.Location), ':')
			dst = strconv.AppendInt(dst, int64(e.Qty), 10)
		}
		return append(dst, '}')
	case valStrings:
		dst = append(dst, '[')
		for i, l := range ev.Locations {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, l)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

// AppendUpdateJSON appends u in the JSON Lines form:
// {"type":"channel_stock_update",...}, previous null the first time.
// listing_sku appears only on a listing's update, so the lines of updates
// of a SKU itself stay as they were before listings.
func AppendUpdateJSON(dst []byte, u *ledger.Update) []byte {
	w := jsonObject{dst: append(dst, '{')}
	w.str("type", "channel_stock_update")
	w.str("channel", u.Channel)
	w.str("sku", u.SKU)
	if u.ListingSKU != "" {
		w.str("listing_sku", u.ListingSKU)
	}
	w.int("available", int64(u.Available))
	w.key("previous")
	if u.HasPrevious {
		w.dst = strconv.AppendInt(w.dst, int64(u.Previous), 10)
	} else {
		w.dst = append(w.dst, "null"...)
	}
	w.dst = strconv.AppendUint(append(w.dst, `,"version":`...), u.Version, 10)
	w.str("cause_event_id", u.CauseEventID)
	w.time("occurred_at", u.OccurredAt)
	return append(w.dst, '}')
}

// AppendAlertJSON appends a in the JSON Lines form: {"kind":...}, with only
// the optional fields a.Has marks (ledger/DECISIONS.md, Alerts).
func AppendAlertJSON(dst []byte, a *ledger.Alert) []byte {
	w := jsonObject{dst: append(dst, '{')}
	w.str("kind", a.Kind.String())
	w.str("sku", a.SKU)
	for _, f := range alertOptionals(a) {
		switch {
		case a.Has&f.bit == 0:
		case f.isText:
			w.str(f.key, f.s)
		default:
			w.int(f.key, int64(f.q))
		}
	}
	w.dst = strconv.AppendUint(append(w.dst, `,"version":`...), a.Version, 10)
	w.str("cause_event_id", a.CauseEventID)
	w.time("occurred_at", a.OccurredAt)
	return append(w.dst, '}')
}

// alertOptional is one optional field of an alert: text or a quantity.
type alertOptional struct {
	bit    ledger.AlertField
	key    string
	isText bool
	s      string
	q      ledger.Qty
}

// alertOptionals lists a's optional fields in the alert schema's order,
// so the JSON form keeps the Avro form's field order.
func alertOptionals(a *ledger.Alert) [17]alertOptional {
	text := func(bit ledger.AlertField, key, s string) alertOptional {
		return alertOptional{bit: bit, key: key, isText: true, s: s}
	}
	qty := func(bit ledger.AlertField, key string, q ledger.Qty) alertOptional {
		return alertOptional{bit: bit, key: key, q: q}
	}
	return [...]alertOptional{
		text(ledger.AlertHasLocation, "location", a.Location),
		text(ledger.AlertHasChannel, "channel", a.Channel),
		text(ledger.AlertHasPOID, "po_id", a.POID),
		text(ledger.AlertHasOrderID, "order_id", a.OrderID),
		qty(ledger.AlertHasShortfall, "shortfall", a.Shortfall),
		qty(ledger.AlertHasUnits, "units", a.Units),
		qty(ledger.AlertHasOnHand, "on_hand", a.OnHand),
		qty(ledger.AlertHasTotal, "total", a.Total),
		qty(ledger.AlertHasReorderPoint, "reorder_point", a.ReorderPoint),
		text(ledger.AlertHasTransferID, "transfer_id", a.TransferID),
		qty(ledger.AlertHasExpected, "expected", a.Expected),
		qty(ledger.AlertHasReceived, "received", a.Received),
		qty(ledger.AlertHasShort, "short", a.Short),
		qty(ledger.AlertHasProjected, "projected", a.Projected),
		qty(ledger.AlertHasSold28, "sold28", a.Sold28),
		qty(ledger.AlertHasDaysOfCover, "days_of_cover", a.DaysOfCover),
		qty(ledger.AlertHasLeadTimeDays, "lead_time_days", a.LeadTimeDays),
	}
}

// AppendDeadLetterJSON appends d in the JSON Lines form:
// {"type":"dead_letter","reason":...,"original":"<base64>"}. event_id, sku
// and event_type (the event's type) appear when known. original_json holds
// the original event as a JSON object when its bytes decode as a known Avro
// event, or verbatim when they are themselves a JSON object (an event read
// from JSON Lines). When the schema registry cannot be asked about the
// original's schema id, original_json is left out, as for an id it does
// not have: the dead letter itself is whole, and a tool reading it should
// not lose the line for a field that only repeats original.
func (r *Registry) AppendDeadLetterJSON(dst []byte, d *DeadLetter) []byte {
	w := jsonObject{dst: append(dst, '{')}
	w.str("type", "dead_letter")
	w.str("reason", d.Reason.String())
	w.str("detail", d.Detail)
	w.str("topic", d.Topic)
	w.int("partition", int64(d.Partition))
	w.int("offset", d.Offset)
	if d.EventID != "" {
		w.str("event_id", d.EventID)
	}
	if d.SKU != "" {
		w.str("sku", d.SKU)
	}
	if d.Type != "" {
		w.str("event_type", d.Type)
	}
	w.key("original")
	w.dst = append(w.dst, '"')
	w.dst = base64.StdEncoding.AppendEncode(w.dst, d.Original)
	w.dst = append(w.dst, '"')
	w.dst = r.appendOriginalJSON(w.dst, d.Original)
	return append(w.dst, '}')
}

func (r *Registry) appendOriginalJSON(dst, original []byte) []byte {
	var ev ledger.Event
	reason, _, err := r.DecodeEvent(original, &ev)
	if err != nil {
		return dst // the registry could not be asked: see AppendDeadLetterJSON
	}
	switch reason {
	case ledger.ReasonUndecodable, ledger.ReasonUnknownSchema, ledger.ReasonUnknownType:
		if i := firstNonSpace(original); i < len(original) && original[i] == '{' && json.Valid(original) {
			dst = append(dst, `,"original_json":`...)
			return appendCompactJSON(dst, original)
		}
		return dst
	}
	return AppendEventJSON(append(dst, `,"original_json":`...), &ev)
}

func firstNonSpace(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// appendCompactJSON appends valid JSON b without insignificant space. A
// byte that is not part of valid UTF-8 (json.Valid lets it through inside
// a string) is written as \ufffd, as appendJSONString writes it, so the
// line stays UTF-8 for strict readers; the dead letter's original keeps it.
func appendCompactJSON(dst, b []byte) []byte {
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, b[i:i+size]...)
				i += size - 1
			}
			escaped = false
			continue
		}
		switch {
		case inString:
			inString = escaped || c != '"'
			escaped = !escaped && c == '\\'
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// jsonObject writes the members of an object whose '{' is already out.
type jsonObject struct {
	dst     []byte
	started bool
}

func (w *jsonObject) key(k string) {
	if w.started {
		w.dst = append(w.dst, ',')
	}
	w.started = true
	w.dst = append(appendJSONString(w.dst, k), ':')
}

func (w *jsonObject) str(k, v string) {
	w.key(k)
	w.dst = appendJSONString(w.dst, v)
}

func (w *jsonObject) int(k string, v int64) {
	w.key(k)
	w.dst = strconv.AppendInt(w.dst, v, 10)
}

func (w *jsonObject) time(k string, us int64) {
	w.key(k)
	w.dst = appendJSONTime(w.dst, us)
}

// appendJSONTime writes microseconds since the epoch as a quoted RFC 3339
// UTC time, with fractional seconds only when they are not zero.
func appendJSONTime(dst []byte, us int64) []byte {
	dst = append(dst, '"')
	dst = time.UnixMicro(us).UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaping as encoding/json
// does but leaving <, > and & alone; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}
