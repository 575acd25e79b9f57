package schemas

import (
	"errors"
	"fmt"
	"time"

	"github.com/stockledger/stockledger/ledger"
)

// Decoding the outputs is for tools (the tail command), not the hot path:
// it uses goavro's generic decoder with the writer's schema and maps the
// fields by name, so any registered version of an output schema reads.
// Fields the writer lacks are left zero (absent); fields it adds are
// ignored.

// DecodeUpdate decodes a channel stock update (single-object or Confluent
// framed).
func (r *Registry) DecodeUpdate(b []byte, u *ledger.Update) error {
	m, err := r.decodeRecord(b, UpdateRecordName)
	if err != nil {
		return err
	}
	*u = ledger.Update{}
	u.Channel, _ = nativeString(m["channel"])
	u.SKU, _ = nativeString(m["sku"])
	u.ListingSKU, _ = nativeString(m["listing_sku"])
	n, _ := nativeLong(m["available"])
	u.Available = ledger.Qty(n)
	n, u.HasPrevious = nativeLong(m["previous"])
	u.Previous = ledger.Qty(n)
	n, _ = nativeLong(m["version"])
	u.Version = uint64(n)
	u.CauseEventID, _ = nativeString(m["cause_event_id"])
	u.OccurredAt, _ = nativeLong(m["occurred_at"])
	return nil
}

// DecodeAlert decodes an alert (single-object or Confluent framed).
func (r *Registry) DecodeAlert(b []byte, a *ledger.Alert) error {
	m, err := r.decodeRecord(b, AlertRecordName)
	if err != nil {
		return err
	}
	*a = ledger.Alert{}
	kind, _ := nativeString(m["kind"])
	k, ok := ledger.ParseAlertKind(kind)
	if !ok {
		return fmt.Errorf("decoding alert: unknown kind %q", kind)
	}
	a.Kind = k
	a.SKU, _ = nativeString(m["sku"])
	for _, f := range [...]struct {
		key string
		dst *string
		bit ledger.AlertField
	}{
		{"location", &a.Location, ledger.AlertHasLocation},
		{"channel", &a.Channel, ledger.AlertHasChannel},
		{"po_id", &a.POID, ledger.AlertHasPOID},
		{"order_id", &a.OrderID, ledger.AlertHasOrderID},
		{"transfer_id", &a.TransferID, ledger.AlertHasTransferID},
	} {
		if s, ok := nativeString(m[f.key]); ok {
			*f.dst, a.Has = s, a.Has|f.bit
		}
	}
	for _, f := range [...]struct {
		key string
		dst *ledger.Qty
		bit ledger.AlertField
	}{
		{"shortfall", &a.Shortfall, ledger.AlertHasShortfall},
		{"units", &a.Units, ledger.AlertHasUnits},
		{"on_hand", &a.OnHand, ledger.AlertHasOnHand},
		{"total", &a.Total, ledger.AlertHasTotal},
		{"reorder_point", &a.ReorderPoint, ledger.AlertHasReorderPoint},
		{"expected", &a.Expected, ledger.AlertHasExpected},
		{"received", &a.Received, ledger.AlertHasReceived},
		{"short", &a.Short, ledger.AlertHasShort},
		{"projected", &a.Projected, ledger.AlertHasProjected},
		{"sold28", &a.Sold28, ledger.AlertHasSold28},
		{"days_of_cover", &a.DaysOfCover, ledger.AlertHasDaysOfCover},
		{"lead_time_days", &a.LeadTimeDays, ledger.AlertHasLeadTimeDays},
	} {
		if n, ok := nativeLong(m[f.key]); ok {
			*f.dst, a.Has = ledger.Qty(n), a.Has|f.bit
		}
	}
	n, _ := nativeLong(m["version"])
	a.Version = uint64(n)
	a.CauseEventID, _ = nativeString(m["cause_event_id"])
	a.OccurredAt, _ = nativeLong(m["occurred_at"])
	return nil
}

// DecodeDeadLetter decodes a dead letter (single-object or Confluent
// framed).
func (r *Registry) DecodeDeadLetter(b []byte, d *DeadLetter) error {
	m, err := r.decodeRecord(b, DeadLetterRecordName)
	if err != nil {
		return err
	}
	*d = DeadLetter{}
	switch v := m["original"].(type) {
	case []byte:
		d.Original = append([]byte(nil), v...)
	case string:
		d.Original = []byte(v)
	}
	reason, _ := nativeString(m["reason"])
	d.Reason = parseReason(reason)
	d.Detail, _ = nativeString(m["detail"])
	d.Topic, _ = nativeString(m["topic"])
	p, _ := nativeLong(m["partition"])
	d.Partition = int32(p)
	d.Offset, _ = nativeLong(m["offset"])
	d.EventID, _ = nativeString(m["event_id"])
	d.SKU, _ = nativeString(m["sku"])
	d.Type, _ = nativeString(m["type"])
	return nil
}

// parseReason maps a reason code back; an unknown code (from a newer
// writer) is ReasonNone.
func parseReason(s string) ledger.Reason {
	for _, r := range ledger.Reasons() {
		if r.String() == s {
			return r
		}
	}
	return ledger.ReasonNone
}

// decodeRecord decodes message b, which must be a version of record name.
func (r *Registry) decodeRecord(b []byte, name string) (map[string]any, error) {
	e, hdr, reason, detail, err := r.frame(b)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	if reason != ledger.ReasonNone {
		return nil, fmt.Errorf("decoding %s: %s: %s", name, reason, detail)
	}
	if e.name != name {
		return nil, fmt.Errorf("decoding %s: message is a %s", name, e.describe())
	}
	native, rest, err := e.codec.NativeFromBinary(b[hdr:])
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decoding %s: %d bytes after the record", name, len(rest))
	}
	m, ok := native.(map[string]any)
	if !ok {
		return nil, errors.New("decoding " + name + ": not a record")
	}
	return m, nil
}

// nativeString reads a goavro string or ["null","string"] value.
func nativeString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case map[string]any:
		for _, x := range v {
			return nativeString(x)
		}
	}
	return "", false
}

// nativeLong reads a goavro long, int, timestamp or ["null", T] value.
func nativeLong(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case time.Time:
		return v.UnixMicro(), true
	case map[string]any:
		for _, x := range v {
			return nativeLong(x)
		}
	}
	return 0, false
}

// AppendMessageJSON appends any message the registry can decode (an event,
// update, alert, dead letter, hold result or listing binding) in the JSON Lines form, for
// tools.
func (r *Registry) AppendMessageJSON(dst, b []byte) ([]byte, error) {
	name, err := r.RecordName(b)
	if err != nil {
		return dst, err
	}
	switch name {
	case UpdateRecordName:
		var u ledger.Update
		if err := r.DecodeUpdate(b, &u); err != nil {
			return dst, err
		}
		return AppendUpdateJSON(dst, &u), nil
	case AlertRecordName:
		var a ledger.Alert
		if err := r.DecodeAlert(b, &a); err != nil {
			return dst, err
		}
		return AppendAlertJSON(dst, &a), nil
	case DeadLetterRecordName:
		var d DeadLetter
		if err := r.DecodeDeadLetter(b, &d); err != nil {
			return dst, err
		}
		return r.AppendDeadLetterJSON(dst, &d), nil
	case HoldResultRecordName:
		var h ledger.HoldResult
		if err := r.DecodeHoldResult(b, &h); err != nil {
			return dst, err
		}
		return AppendHoldResultJSON(dst, &h), nil
	case ListingBindingRecordName:
		var lb ListingBinding
		if err := r.DecodeListingBinding(b, &lb); err != nil {
			return dst, err
		}
		return AppendListingBindingJSON(dst, &lb), nil
	}
	var ev ledger.Event
	reason, detail, err := r.DecodeEvent(b, &ev)
	if err != nil {
		return dst, fmt.Errorf("decoding event: %w", err)
	}
	switch reason {
	case ledger.ReasonUndecodable, ledger.ReasonUnknownSchema, ledger.ReasonUnknownType:
		return dst, fmt.Errorf("decoding event: %s: %s", reason, detail)
	}
	return AppendEventJSON(dst, &ev), nil
}
