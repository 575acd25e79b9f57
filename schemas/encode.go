package schemas

import (
	"errors"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
)

// DeadLetter is an event that could not be applied, as published on the
// dead-letter topic. An empty EventID, SKU or Type is written as null.
type DeadLetter struct {
	Original  []byte // the event's bytes, exactly as read
	Reason    ledger.Reason
	Detail    string
	Topic     string
	Partition int32
	Offset    int64
	EventID   string // when it could be read
	SKU       string // when it could be read
	Type      string // the event's type name, when it could be read
}

// The encoders below write the current output schemas field by field, in
// the schemas' order; the tests hold them byte-identical to goavro's
// SingleFromNative.

// AppendUpdate appends u, single-object encoded with the current
// channel_stock_update schema, to dst. An empty u.ListingSKU is written as
// null (an update of the SKU itself).
func AppendUpdate(dst []byte, u *ledger.Update) []byte {
	return appendUpdateBody(append(dst, current.update.header[:]...), u)
}

func appendUpdateBody(dst []byte, u *ledger.Update) []byte {
	dst = appendText(dst, u.Channel)
	dst = appendText(dst, u.SKU)
	dst = appendOptString(dst, u.ListingSKU, u.ListingSKU != "")
	dst = appendLong(dst, int64(u.Available))
	dst = appendOptLong(dst, int64(u.Previous), u.HasPrevious)
	dst = appendLong(dst, int64(u.Version))
	dst = appendText(dst, u.CauseEventID)
	return appendLong(dst, u.OccurredAt)
}

// AppendAlert appends a, single-object encoded with the current alert
// schema, to dst. Fields a.Has does not mark are null.
func AppendAlert(dst []byte, a *ledger.Alert) []byte {
	return appendAlertBody(append(dst, current.alert.header[:]...), a)
}

func appendAlertBody(dst []byte, a *ledger.Alert) []byte {
	dst = appendString(dst, a.Kind.String())
	dst = appendText(dst, a.SKU)
	for _, f := range alertOptionals(a) {
		if f.isText {
			dst = appendOptString(dst, f.s, a.Has&f.bit != 0)
		} else {
			dst = appendOptLong(dst, int64(f.q), a.Has&f.bit != 0)
		}
	}
	dst = appendLong(dst, int64(a.Version))
	dst = appendText(dst, a.CauseEventID)
	return appendLong(dst, a.OccurredAt)
}

// AppendDeadLetter appends d, single-object encoded with the current
// dead_letter schema, to dst.
func AppendDeadLetter(dst []byte, d *DeadLetter) []byte {
	return appendDeadLetterBody(append(dst, current.deadLetter.header[:]...), d)
}

func appendDeadLetterBody(dst []byte, d *DeadLetter) []byte {
	dst = appendBytes(dst, d.Original)
	dst = appendString(dst, d.Reason.String())
	dst = appendText(dst, d.Detail)
	dst = appendText(dst, d.Topic)
	dst = appendInt(dst, d.Partition)
	dst = appendLong(dst, d.Offset)
	dst = appendOptString(dst, d.EventID, d.EventID != "")
	dst = appendOptString(dst, d.SKU, d.SKU != "")
	return appendOptString(dst, d.Type, d.Type != "")
}

// appendOptString and appendOptLong write a ["null", T] union: branch 0
// (null) or branch 1 and the value.
func appendOptString(dst []byte, s string, ok bool) []byte {
	if !ok {
		return append(dst, 0)
	}
	return appendText(append(dst, 2), s)
}

// appendText writes s as an output's Avro string. An Avro string is UTF-8,
// and strict readers (fastavro, Java) fail on a message holding anything
// else; but an output's text can come from an event's bytes (a dead
// letter's sku, event_id, type, and its detail quoting them). So each byte
// that is not part of valid UTF-8 is written as U+FFFD, as encoding/json
// (and so the JSON Lines form) writes it. A dead letter's original keeps
// the bytes whole.
func appendText(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return appendString(dst, s)
	}
	n := 0
	for _, r := range s {
		n += utf8.RuneLen(r) // an invalid byte is utf8.RuneError here
	}
	dst = appendLong(dst, int64(n))
	for _, r := range s {
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

func appendOptLong(dst []byte, v int64, ok bool) []byte {
	if !ok {
		return append(dst, 0)
	}
	return appendLong(append(dst, 2), v)
}

// EncodeEvent appends ev, single-object encoded with the current schema of
// its type, to dst. An optional field ev.Has does not mark is written as
// null (resellable and unavailable_delta as their defaults, true and 0);
// a required one it does not mark is an error, as is an unknown type.
// safety_stock entries keep their order, so the bytes are deterministic.
func EncodeEvent(dst []byte, ev *ledger.Event) ([]byte, error) {
	rd, err := encodable(ev)
	if err != nil {
		return dst, err
	}
	return appendEventBody(append(dst, rd.header[:]...), ev, rd), nil
}

// encodable checks that ev can be encoded and returns its current schema.
func encodable(ev *ledger.Event) (*readerEvent, error) {
	if int(ev.Type) >= len(current.events) || current.events[ev.Type] == nil {
		return nil, errors.New("encoding event: unknown type " + ev.Type.String())
	}
	rd := current.events[ev.Type]
	for _, f := range rd.fields {
		if ev.Has&f.slot.field() == 0 && !f.optional && !f.hasDef {
			return nil, errors.New("encoding " + ev.Type.String() + " event: required field " + f.name + " is absent")
		}
	}
	return rd, nil
}

func appendEventBody(out []byte, ev *ledger.Event, rd *readerEvent) []byte {
	for i := range rd.fields {
		out = appendEventField(out, ev, &rd.fields[i])
	}
	return out
}

func appendEventField(dst []byte, ev *ledger.Event, f *readerField) []byte {
	present := ev.Has&f.slot.field() != 0
	if f.optional {
		if !present {
			return append(dst, 0)
		}
		dst = append(dst, 2)
	}
	switch slotKinds[f.slot] {
	case valString:
		s := getString(ev, f.slot)
		if !present && f.hasDef {
			s = f.defStr
		}
		return appendString(dst, s)
	case valLong:
		v := getLong(ev, f.slot)
		if !present && f.hasDef {
			v = f.defLong
		}
		return appendLong(dst, v)
	case valBool:
		v := getBool(ev, f.slot)
		if !present {
			v = f.defBool
		}
		if v {
			return append(dst, 1)
		}
		return append(dst, 0)
	case valLocQtys:
		if n := len(ev.SafetyStock); n > 0 {
			dst = appendLong(dst, int64(n))
			for _, e := range ev.SafetyStock {
				dst = appendLong(appendString(dst, e.Location), int64(e.Qty))
			}
		}
		return append(dst, 0)
	case valStrings:
		if n := len(ev.Locations); n > 0 {
			dst = appendLong(dst, int64(n))
			for _, l := range ev.Locations {
				dst = appendString(dst, l)
			}
		}
		return append(dst, 0)
	}
	return dst
}
