package processors

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stockledger/stockledger/ledger"
)

// Resolving listings before the topic (ledger-semantics-2, Listings): an
// event may name a channel's listing_sku instead of its sku; the tool that
// writes it replaces it with the master SKU and multiplies qty by the
// listing's units, so the topic holds resolved events and every fold of
// it is deterministic.

// ListingView is what resolution reads: the SKUs a channel's listing_sku
// is active on (a ListingResolver).
type ListingView interface {
	ActiveBindings(channel, listingSKU string) []ActiveListing
}

// ListingInput resolves the events of one input (a file, a request) in
// order: against a view of the listings the ledger applied, and the
// listing events of the input accepted before them, which the ledger has
// not applied yet but will before the later events of their SKU.
type ListingInput struct {
	view ListingView
	own  map[listingKey][]listingState // the input's accepted listing events, sorted by SKU
}

// NewListingInput starts an input resolved against view (nil: no listing
// was applied).
func NewListingInput(view ListingView) *ListingInput {
	return &ListingInput{view: view, own: map[listingKey][]listingState{}}
}

// NeedsListings reports whether ev is resolved or checked against the
// listings: a listing event, or an event naming a listing_sku and no sku.
func NeedsListings(ev *ledger.Event) bool {
	return ev.Type == ledger.TypeListing || unresolved(ev)
}

func unresolved(ev *ledger.Event) bool {
	return ev.Type.AcceptsListing() && ev.Has&ledger.FieldListingSKU != 0 && ev.Has&ledger.FieldSKU == 0
}

// active returns the SKUs a listing is active on: the view's, with the
// input's own listing events of the same SKUs in their place.
func (in *ListingInput) active(channel, listingSKU string) []ActiveListing {
	var base []ActiveListing
	if in.view != nil {
		base = in.view.ActiveBindings(channel, listingSKU)
	}
	own := in.own[listingKey{channel, listingSKU}]
	if len(own) == 0 {
		return base
	}
	out := make([]ActiveListing, 0, len(base)+len(own))
	for _, b := range base {
		if _, mine := slices.BinarySearchFunc(own, b.SKU, compareState); !mine {
			out = append(out, b)
		}
	}
	for _, s := range own {
		if s.active {
			out = append(out, ActiveListing{SKU: s.sku, Units: s.units})
		}
	}
	slices.SortFunc(out, func(a, b ActiveListing) int { return strings.Compare(a.SKU, b.SKU) })
	return out
}

func compareState(s listingState, sku string) int { return strings.Compare(s.sku, sku) }

// Resolve rewrites ev when it names a listing_sku and no sku: sku becomes
// the SKU the listing is active on, qty (when the event has one) is
// multiplied by its units, listing_sku stays. channel is the channel the
// event names (types without a channel field carry it for this alone). An
// event that names its sku is left as it is: it was resolved before (a
// resolved event written again must not be multiplied twice). The error
// says why a listing does not resolve.
func (in *ListingInput) Resolve(ev *ledger.Event, channel string) error {
	if !unresolved(ev) {
		return nil
	}
	if channel == "" {
		return fmt.Errorf("listing_sku %s names no channel: a listing is resolved on its channel", strconv.Quote(ev.ListingSKU))
	}
	act := in.active(channel, ev.ListingSKU)
	switch len(act) {
	case 0:
		return fmt.Errorf("unknown listing %s on channel %s (active on no SKU)", strconv.Quote(ev.ListingSKU), strconv.Quote(channel))
	case 1:
	default:
		return fmt.Errorf("listing %s on channel %s is active on %s: remove it from all but one",
			strconv.Quote(ev.ListingSKU), strconv.Quote(channel), skuList(act))
	}
	units := ledger.Qty(act[0].Units)
	if ev.Has&ledger.FieldQty != 0 && ev.Qty >= 1 && ev.Qty <= ledger.MaxEventQty {
		if ev.Qty*units > ledger.MaxEventQty {
			return fmt.Errorf("qty %d of listing %s is %d units of %s, more than %d", ev.Qty,
				strconv.Quote(ev.ListingSKU), ev.Qty*units, strconv.Quote(act[0].SKU), ledger.MaxEventQty)
		}
		ev.Qty *= units // both at most 10^9: no overflow
	}
	ev.SKU = act[0].SKU
	ev.Has |= ledger.FieldSKU
	return nil
}

// Check refuses a listing event that names a listing_sku active on another
// SKU of its channel (a listing belongs to one SKU at a time: remove it
// there first): binding it, or removing it from a SKU that does not have
// it. Removing it from a SKU that has it is allowed even when a race bound
// it to another too: that is how the race is undone.
func (in *ListingInput) Check(ev *ledger.Event) error {
	if ev.Type != ledger.TypeListing {
		return nil
	}
	var others []ActiveListing
	mine := false
	for _, a := range in.active(ev.Channel, ev.ListingSKU) {
		if a.SKU == ev.SKU {
			mine = true
		} else {
			others = append(others, a)
		}
	}
	if len(others) == 0 || (!ev.IsActive() && mine) {
		return nil
	}
	if ev.IsActive() {
		return fmt.Errorf("listing %s on channel %s is active on %s: remove it there first",
			strconv.Quote(ev.ListingSKU), strconv.Quote(ev.Channel), skuList(others))
	}
	return fmt.Errorf("listing %s on channel %s is active on %s, not on %s: remove it there",
		strconv.Quote(ev.ListingSKU), strconv.Quote(ev.Channel), skuList(others), strconv.Quote(ev.SKU))
}

// Accept records a listing event the input writes, so its later events
// resolve against it.
func (in *ListingInput) Accept(ev *ledger.Event) {
	if ev.Type != ledger.TypeListing {
		return
	}
	k := listingKey{ev.Channel, ev.ListingSKU}
	s := listingState{sku: ev.SKU, units: int64(ev.ListingUnits()), active: ev.IsActive()}
	own := in.own[k]
	if i, ok := slices.BinarySearchFunc(own, ev.SKU, compareState); ok {
		own[i] = s
	} else {
		in.own[k] = slices.Insert(own, i, s)
	}
}

// skuList names the SKUs: "SKU \"A\"" or "SKUs \"A\", \"B\"".
func skuList(act []ActiveListing) string {
	q := make([]string, len(act))
	for i, a := range act {
		q[i] = strconv.Quote(a.SKU)
	}
	if len(q) == 1 {
		return "SKU " + q[0]
	}
	return "SKUs " + strings.Join(q, ", ")
}
