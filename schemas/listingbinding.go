package schemas

import (
	"errors"
	"strconv"

	"github.com/stockledger/stockledger/ledger"
)

// Listing bindings (stockledger.ListingBinding, listing_binding.avsc): the
// listing events the ledger applied, on the listings topic keyed
// channel/listing_sku/sku. The tools that write events read it to resolve
// a channel's listing_sku to the master SKU and its pack size before an
// event enters the events topic (ledger-semantics-2, Listings).

// ListingBinding is one applied listing event: ListingSKU on Channel bound
// to SKU with Units per listing (Active), or removed from it (!Active).
type ListingBinding struct {
	Channel      string
	ListingSKU   string
	SKU          string
	Units        ledger.Qty
	Active       bool
	Version      uint64 // the SKU's version after the listing event
	CauseEventID string
	OccurredAt   int64
}

// Key is the binding's record key on the listings topic:
// channel/listing_sku/sku. Neither channel nor listing_sku holds a '/'
// (ledger/DECISIONS.md), so the key splits back even when the sku does.
func (b *ListingBinding) Key(dst []byte) []byte {
	dst = append(append(append(dst, b.Channel...), '/'), b.ListingSKU...)
	return append(append(dst, '/'), b.SKU...)
}

// AppendListingBinding appends b, single-object encoded with the current
// listing_binding schema, to dst.
func AppendListingBinding(dst []byte, b *ListingBinding) []byte {
	return appendListingBindingBody(append(dst, current.listingBinding.header[:]...), b)
}

func appendListingBindingBody(dst []byte, b *ListingBinding) []byte {
	dst = appendText(dst, b.Channel)
	dst = appendText(dst, b.ListingSKU)
	dst = appendText(dst, b.SKU)
	dst = appendLong(dst, int64(b.Units))
	if b.Active {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = appendLong(dst, int64(b.Version))
	dst = appendText(dst, b.CauseEventID)
	return appendLong(dst, b.OccurredAt)
}

// AppendListingBinding appends b, framed by f, to dst.
func (f *Framing) AppendListingBinding(dst []byte, b *ListingBinding) []byte {
	if f == nil || !f.listingBinding.ok {
		return AppendListingBinding(dst, b)
	}
	return appendListingBindingBody(appendConfluentHeader(dst, f.listingBinding.id), b)
}

// DecodeListingBinding decodes a listing binding (single-object or
// Confluent framed).
func (r *Registry) DecodeListingBinding(data []byte, b *ListingBinding) error {
	m, err := r.decodeRecord(data, ListingBindingRecordName)
	if err != nil {
		return err
	}
	*b = ListingBinding{}
	b.Channel, _ = nativeString(m["channel"])
	b.ListingSKU, _ = nativeString(m["listing_sku"])
	b.SKU, _ = nativeString(m["sku"])
	units, _ := nativeLong(m["units"])
	b.Units = ledger.Qty(units)
	active, ok := m["active"].(bool)
	if !ok {
		return errors.New("decoding listing binding: active is not a boolean")
	}
	b.Active = active
	n, _ := nativeLong(m["version"])
	b.Version = uint64(n)
	b.CauseEventID, _ = nativeString(m["cause_event_id"])
	b.OccurredAt, _ = nativeLong(m["occurred_at"])
	return nil
}

// AppendListingBindingJSON appends b in the JSON Lines form:
// {"type":"listing_binding",...}, the fields in the schema's order, times
// in RFC 3339 UTC.
func AppendListingBindingJSON(dst []byte, b *ListingBinding) []byte {
	w := jsonObject{dst: append(dst, '{')}
	w.str("type", "listing_binding")
	w.str("channel", b.Channel)
	w.str("listing_sku", b.ListingSKU)
	w.str("sku", b.SKU)
	w.int("units", int64(b.Units))
	w.key("active")
	w.dst = strconv.AppendBool(w.dst, b.Active)
	w.key("version")
	w.dst = strconv.AppendUint(w.dst, b.Version, 10)
	w.str("cause_event_id", b.CauseEventID)
	w.time("occurred_at", b.OccurredAt)
	return append(w.dst, '}')
}
