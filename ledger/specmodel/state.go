package specmodel

// What the ledger keeps per SKU (ledger-semantics.md "What the ledger keeps",
// with part 2's holds, overrides, listings, lead time and sales).

import "time"

type channelPolicy struct {
	locations []string // empty: every location the SKU has
	buffer    int64
	share     int64
	maxQty    *int64
	endAt     *int64
	exclude   bool // only in an effective policy: an override's exclude
}

type locState struct {
	onHand, reserved, unavailable, incoming int64
}

type poLine struct {
	location string
	expected int64 // units still expected
	open     bool
}

type orderState struct {
	channel  string // unassigned units are the ordering channel's
	location string // "" for an order that names no location (unassigned)
	open     int64  // units still reserved
}

type transferState struct {
	to       string
	sent     int64
	received int64 // units that arrived while it was open
	expected int64 // units still in transit
	closed   bool
}

type holdState struct {
	channel, location string // location "" for a hold that names none
	requested         int64
	open              int64 // units it reserves; 0 once closed
	expiresAt         time.Time
	closed            bool
}

type listingKey struct{ channel, listingSKU string }

type skuState struct {
	partition  int32 // where its events sit; a clock there reaches it
	version    int64
	locs       map[string]*locState // the locations the SKU has
	safety     map[string]int64
	reorder    *int64
	leadTime   *int64
	unassigned map[string]int64 // per ordering channel
	pos        map[string]*poLine
	orders     map[string]*orderState
	transfers  map[string]*transferState
	holds      map[string]*holdState
	overrides  map[string]*override
	listings   map[listingKey]int64 // active listings -> units
	applied    map[string]bool

	published       map[string]int64     // channel -> last published ats
	listingsPub     map[listingKey]int64 // listing -> last published value
	removedListings []listingKey         // removed by this event, to publish 0 once

	sales       map[int64]int64 // UTC day (days since 1970-01-01) -> units sold
	lastSaleDay int64           // latest day counted; the window's end before any clock
	hasSale     bool
}

func newSKU(partition int32) *skuState {
	return &skuState{
		partition:   partition,
		locs:        map[string]*locState{},
		safety:      map[string]int64{},
		unassigned:  map[string]int64{},
		pos:         map[string]*poLine{},
		orders:      map[string]*orderState{},
		transfers:   map[string]*transferState{},
		holds:       map[string]*holdState{},
		overrides:   map[string]*override{},
		listings:    map[listingKey]int64{},
		applied:     map[string]bool{},
		published:   map[string]int64{},
		listingsPub: map[listingKey]int64{},
		sales:       map[int64]int64{},
	}
}

func (st *skuState) loc(name string) *locState {
	l := st.locs[name]
	if l == nil {
		l = &locState{}
		st.locs[name] = l
	}
	return l
}

func (st *skuState) unassignedTotal() int64 {
	var sum int64
	for _, n := range st.unassigned {
		sum += n
	}
	return sum
}

func (st *skuState) openHolds() int {
	n := 0
	for _, h := range st.holds {
		if !h.closed {
			n++
		}
	}
	return n
}

// release frees n units of an order's reservation, from where it reserved.
func (st *skuState) release(o *orderState, n int64) {
	if n <= 0 {
		return
	}
	o.open -= n
	st.unreserve(o.channel, o.location, n)
}

// unreserve gives back n units reserved at location, or (location "") held
// in channel's unassigned.
func (st *skuState) unreserve(channel, location string, n int64) {
	if location == "" {
		st.unassigned[channel] -= n
		if st.unassigned[channel] == 0 {
			delete(st.unassigned, channel)
		}
		return
	}
	st.loc(location).reserved -= n
}
