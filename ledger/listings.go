package ledger

import (
	"slices"
	"strings"
)

// Listings and per-SKU overrides: how a SKU appears on each channel.

func compareListing(l Listing, channel, listingSKU string) int {
	if c := strings.Compare(l.Channel, channel); c != 0 {
		return c
	}
	return strings.Compare(l.ListingSKU, listingSKU)
}

// Listing returns s's active listing listingSKU on channel, or nil.
func (s *SKU) Listing(channel, listingSKU string) *Listing {
	i, ok := slices.BinarySearchFunc(s.Listings, channel, func(l Listing, c string) int { return compareListing(l, c, listingSKU) })
	if !ok || s.Listings[i].Gone {
		return nil
	}
	return &s.Listings[i]
}

// listing applies a listing: adds or changes the listing, or removes it
// (its 0 is published once, then it is forgotten). Removing a listing the
// SKU does not have changes nothing.
func (a *applier) listing() {
	ev, s := a.ev, a.s
	i, ok := slices.BinarySearchFunc(s.Listings, ev.Channel, func(l Listing, c string) int { return compareListing(l, c, ev.ListingSKU) })
	switch {
	case !ev.IsActive():
		if ok && !s.Listings[i].Gone {
			s.Listings[i].Gone = true
		}
	case ok && !s.Listings[i].Gone:
		s.Listings[i].Units = ev.ListingUnits()
	case ok: // removed in this batch and not yet settled: a new listing
		s.Listings[i] = Listing{Channel: ev.Channel, ListingSKU: ev.ListingSKU, Units: ev.ListingUnits()}
	default:
		s.Listings = slices.Insert(s.Listings, i, Listing{Channel: ev.Channel, ListingSKU: ev.ListingSKU, Units: ev.ListingUnits()})
	}
}

// overrideFields are the fields of a sku_channel_policy that override.
const overrideFields = FieldExclude | FieldLocations | FieldBuffer | FieldSharePct | FieldMaxQty | FieldEndAt

// skuChannelPolicy applies a sku_channel_policy: it replaces the SKU's
// override of the channel whole; one with only the channel removes it.
func (a *applier) skuChannelPolicy() {
	ev, s := a.ev, a.s
	o := Override{Channel: ev.Channel, Has: ev.Has & overrideFields, Exclude: ev.Exclude,
		Locations: slices.Clone(ev.Locations), Buffer: ev.Buffer, SharePct: ev.SharePct,
		MaxQty: ev.MaxQty, EndAt: ev.EndAt}
	i, ok := slices.BinarySearchFunc(s.Overrides, ev.Channel, func(o Override, c string) int { return strings.Compare(o.Channel, c) })
	switch {
	case o.Has != 0 && ok:
		s.Overrides[i] = o
	case o.Has != 0:
		s.Overrides = slices.Insert(s.Overrides, i, o)
	case ok && a.p.Channel(ev.Channel) == nil:
		// The channel was the SKU's only through the override: its 0 is
		// published once (publish), then it is forgotten.
		s.Overrides[i] = Override{Channel: ev.Channel, Gone: true}
	case ok:
		s.Overrides = slices.Delete(s.Overrides, i, i+1)
	}
}
