package schemas

import (
	"fmt"
	"strconv"

	"github.com/stockledger/stockledger/ledger"
)

// Hold results (stockledger.HoldResult, hold_result.avsc): a hold's
// decision or a change of an open hold, on the hold-results topic keyed
// sku/hold_id. Its status is a string, as an alert's kind and a dead
// letter's reason are, so a status added later does not break the decode
// of readers holding an older schema (an Avro enum would, unless every
// reader's version named a default symbol).

// AppendHoldResult appends h, single-object encoded with the current
// hold_result schema, to dst. An empty h.Location is written as null.
func AppendHoldResult(dst []byte, h *ledger.HoldResult) []byte {
	return appendHoldResultBody(append(dst, current.holdResult.header[:]...), h)
}

func appendHoldResultBody(dst []byte, h *ledger.HoldResult) []byte {
	dst = appendText(dst, h.HoldID)
	dst = appendText(dst, h.SKU)
	dst = appendText(dst, h.Channel)
	dst = appendOptString(dst, h.Location, h.Location != "")
	dst = appendString(dst, h.Status.String())
	dst = appendLong(dst, int64(h.Requested))
	dst = appendLong(dst, int64(h.Granted))
	dst = appendLong(dst, int64(h.Available))
	dst = appendLong(dst, h.ExpiresAt)
	dst = appendLong(dst, int64(h.Version))
	dst = appendText(dst, h.CauseEventID)
	return appendLong(dst, h.OccurredAt)
}

// AppendHoldResult appends h, framed by f, to dst.
func (f *Framing) AppendHoldResult(dst []byte, h *ledger.HoldResult) []byte {
	if f == nil || !f.holdResult.ok {
		return AppendHoldResult(dst, h)
	}
	return appendHoldResultBody(appendConfluentHeader(dst, f.holdResult.id), h)
}

// DecodeHoldResult decodes a hold result (single-object or Confluent
// framed). A status this version does not know (from a newer writer) is an
// error, as an alert's unknown kind is.
func (r *Registry) DecodeHoldResult(b []byte, h *ledger.HoldResult) error {
	m, err := r.decodeRecord(b, HoldResultRecordName)
	if err != nil {
		return err
	}
	*h = ledger.HoldResult{}
	status, _ := nativeString(m["status"])
	st, ok := ledger.ParseHoldStatus(status)
	if !ok {
		return fmt.Errorf("decoding hold result: unknown status %q", status)
	}
	h.Status = st
	h.HoldID, _ = nativeString(m["hold_id"])
	h.SKU, _ = nativeString(m["sku"])
	h.Channel, _ = nativeString(m["channel"])
	h.Location, _ = nativeString(m["location"])
	for _, q := range [...]struct {
		key string
		dst *ledger.Qty
	}{{"requested", &h.Requested}, {"granted", &h.Granted}, {"available", &h.Available}} {
		n, _ := nativeLong(m[q.key])
		*q.dst = ledger.Qty(n)
	}
	h.ExpiresAt, _ = nativeLong(m["expires_at"])
	n, _ := nativeLong(m["version"])
	h.Version = uint64(n)
	h.CauseEventID, _ = nativeString(m["cause_event_id"])
	h.OccurredAt, _ = nativeLong(m["occurred_at"])
	return nil
}

// AppendHoldResultJSON appends h in the JSON Lines form:
// {"type":"hold_result",...}, the fields in the schema's order, location
// null when the hold names none, times in RFC 3339 UTC.
func AppendHoldResultJSON(dst []byte, h *ledger.HoldResult) []byte {
	w := jsonObject{dst: append(dst, '{')}
	w.str("type", "hold_result")
	w.str("hold_id", h.HoldID)
	w.str("sku", h.SKU)
	w.str("channel", h.Channel)
	w.key("location")
	if h.Location != "" {
		w.dst = appendJSONString(w.dst, h.Location)
	} else {
		w.dst = append(w.dst, "null"...)
	}
	w.str("status", h.Status.String())
	w.int("requested", int64(h.Requested))
	w.int("granted", int64(h.Granted))
	w.int("available", int64(h.Available))
	w.time("expires_at", h.ExpiresAt)
	w.key("version")
	w.dst = strconv.AppendUint(w.dst, h.Version, 10)
	w.str("cause_event_id", h.CauseEventID)
	w.time("occurred_at", h.OccurredAt)
	return append(w.dst, '}')
}
