// Package specmodel is an independent reference model of the stock ledger,
// written from /work/shared/spec/ledger-semantics.md, worked-examples.md and
// ledger/DECISIONS.md only, plus the "Placement" rule of part 2
// (ledger-semantics-2.md; placement.go). It is meant for tests: simple and
// slow on purpose.
//
// It folds one global sequence of events in the spec's JSON Lines form.
// Channel policy events reach every SKU known so far, at their position in
// the sequence. Applied event ids are remembered forever (no idempotency
// window), and quantity_overflow / too_many_locations are not modelled.
package specmodel

import (
	"sort"
)

// Update is a channel stock update.
type Update struct {
	Channel, SKU string
	Available    int64
	Previous     *int64 // nil the first time
	Version      int64
	CauseEventID string
}

// Alert kinds.
const (
	AlertOversold         = "oversold"
	AlertLowStock         = "low_stock"
	AlertReceiptOver      = "receipt_over"
	AlertReceiptUnmatched = "receipt_unmatched"
	AlertPOShort          = "po_short"
	AlertNegativeOnHand   = "negative_on_hand"
)

// Alert is an alert; fields a kind does not use stay zero / nil.
type Alert struct {
	Kind, SKU, Location, Channel, POID, OrderID   string
	Shortfall, Units, OnHand, Total, ReorderPoint *int64
	Version                                       int64
	CauseEventID                                  string
}

// DeadLetter is an event that could not be applied.
type DeadLetter struct {
	EventID string // "" if absent or not a string
	Reason  string
	Line    []byte

	// For wrong_partition only (part 2, "Placement": the detail names the
	// partition the event belongs to): the sku's partition, and whether the
	// record's key was not the sku (no key counts as not the sku).
	// BelongsTo is -1 and KeyNotSKU false for every other reason.
	BelongsTo int32
	KeyNotSKU bool
}

// LocationView is the state of one (SKU, location).
type LocationView struct {
	OnHand, Reserved, Unavailable, Incoming, SafetyStock, Available int64
}

// SKUView is the state of one SKU.
type SKUView struct {
	Version    int64
	Unassigned int64
	Locations  map[string]LocationView // only locations the SKU has
	Channels   map[string]int64        // ats per channel with a policy
}

type channelPolicy struct {
	locations []string // empty: every location the SKU has
	buffer    int64
	share     int64
	maxQty    *int64
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
	location string // "" for an order that names no location (unassigned)
	open     int64  // units still reserved
}

type transferState struct {
	to       string
	expected int64 // units still in transit
}

type skuState struct {
	version    int64
	locs       map[string]*locState // the locations the SKU has
	safety     map[string]int64
	reorder    *int64
	unassigned int64
	pos        map[string]*poLine
	orders     map[string]*orderState
	transfers  map[string]*transferState
	applied    map[string]bool
	published  map[string]int64 // channel -> last published ats
}

func newSKU() *skuState {
	return &skuState{
		locs:      map[string]*locState{},
		safety:    map[string]int64{},
		pos:       map[string]*poLine{},
		orders:    map[string]*orderState{},
		transfers: map[string]*transferState{},
		applied:   map[string]bool{},
		published: map[string]int64{},
	}
}

// Model is the reference ledger.
type Model struct {
	policies  map[string]*channelPolicy
	policyIDs map[string]bool // applied channel_policy event ids
	skus      map[string]*skuState
	updates   []Update
	alerts    []Alert
	dead      []DeadLetter
	dups      int
}

// New returns an empty ledger.
func New() *Model {
	return &Model{
		policies:  map[string]*channelPolicy{},
		policyIDs: map[string]bool{},
		skus:      map[string]*skuState{},
	}
}

// Updates returns every channel stock update in order, one per change (never
// coalesced). Within one event, updates come in channel order; a
// channel_policy's come in SKU order.
func (m *Model) Updates() []Update { return append([]Update(nil), m.updates...) }

// Alerts returns every alert in order.
func (m *Model) Alerts() []Alert { return append([]Alert(nil), m.alerts...) }

// DeadLetters returns every dead letter in order.
func (m *Model) DeadLetters() []DeadLetter { return append([]DeadLetter(nil), m.dead...) }

// Duplicates returns how many events were skipped as already applied.
func (m *Model) Duplicates() int { return m.dups }

// SKUs returns every SKU the ledger knows, sorted.
func (m *Model) SKUs() []string {
	return sortedKeys(m.skus)
}

// SKU returns the state of one SKU.
func (m *Model) SKU(sku string) (SKUView, bool) {
	st, ok := m.skus[sku]
	if !ok {
		return SKUView{}, false
	}
	v := SKUView{
		Version:    st.version,
		Unassigned: st.unassigned,
		Locations:  map[string]LocationView{},
		Channels:   map[string]int64{},
	}
	for name, l := range st.locs {
		v.Locations[name] = LocationView{
			OnHand:      l.onHand,
			Reserved:    l.reserved,
			Unavailable: l.unavailable,
			Incoming:    l.incoming,
			SafetyStock: st.safety[name],
			Available:   st.available(name),
		}
	}
	for ch, pol := range m.policies {
		v.Channels[ch] = st.ats(pol)
	}
	return v, true
}

// Final returns "channel/sku" -> ats for every channel with a policy and every
// known SKU, computed from the state.
func (m *Model) Final() map[string]int64 {
	out := map[string]int64{}
	for ch, pol := range m.policies {
		for sku, st := range m.skus {
			out[ch+"/"+sku] = st.ats(pol)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- availability (spec "Availability") ----

func (st *skuState) available(loc string) int64 {
	l := st.locs[loc]
	if l == nil {
		return 0
	}
	return l.onHand - l.reserved - l.unavailable - st.safety[loc]
}

func (st *skuState) sellable(loc string) int64 {
	l := st.locs[loc]
	if l == nil {
		return 0
	}
	return l.onHand - l.reserved - l.unavailable
}

// eligible: the policy's list, or every location the SKU has if the list is
// empty or there is no policy. Listed locations the SKU does not have hold no
// stock, so they are left out.
func (st *skuState) eligible(pol *channelPolicy) []string {
	if pol == nil || len(pol.locations) == 0 {
		return sortedKeys(st.locs)
	}
	var out []string
	for _, l := range pol.locations {
		if st.locs[l] != nil {
			out = append(out, l)
		}
	}
	return out
}

func (st *skuState) pool(pol *channelPolicy) int64 {
	var sum int64
	for _, l := range st.eligible(pol) {
		sum += max(0, st.available(l))
	}
	return sum - st.unassigned
}

func (st *skuState) ats(pol *channelPolicy) int64 {
	x := st.pool(pol) - pol.buffer
	if x <= 0 {
		return 0
	}
	// floor(x * share / 100) without overflowing for large x
	v := (x/100)*pol.share + (x%100)*pol.share/100
	if pol.maxQty != nil && *pol.maxQty < v {
		v = *pol.maxQty
	}
	return v
}

// total: sum over all l of max(0, available(l)) - unassigned (low_stock).
func (st *skuState) total() int64 {
	var sum int64
	for l := range st.locs {
		sum += max(0, st.available(l))
	}
	return sum - st.unassigned
}

func (st *skuState) loc(name string) *locState {
	l := st.locs[name]
	if l == nil {
		l = &locState{}
		st.locs[name] = l
	}
	return l
}

func ptr(v int64) *int64 { return &v }

// ---- folding ----

// Apply folds one JSON line (one event). Invalid events become dead letters.
//
// Apply knows nothing of records: it assumes the event sits in its sku's
// partition under its sku's key (part 2's placement rule holds), as it does
// for every caller that reads the events without their Kafka placement.
// ApplyRecord checks the placement first.
func (m *Model) Apply(line []byte) {
	ev, reason, eventID := parse(line)
	if reason != "" {
		m.deadLetter(eventID, reason, line)
		return
	}
	if ev.typ == TypeChannelPolicy {
		m.applyChannelPolicy(ev)
		return
	}
	m.applySKUEvent(ev, line)
}

func (m *Model) deadLetter(eventID, reason string, line []byte) {
	m.dead = append(m.dead, DeadLetter{EventID: eventID, Reason: reason, Line: append([]byte(nil), line...), BelongsTo: -1})
}

func (m *Model) applyChannelPolicy(ev event) {
	if m.policyIDs[ev.id] {
		m.dups++
		return
	}
	m.policyIDs[ev.id] = true
	pol := &channelPolicy{locations: ev.locations, buffer: ev.buffer, share: ev.share, maxQty: ev.maxQty}
	m.policies[ev.channel] = pol
	for _, sku := range sortedKeys(m.skus) {
		st := m.skus[sku]
		st.version++
		m.publish(sku, st, ev.channel, ev.id)
	}
}

// publish emits an update for one channel/sku if its ats is new or changed.
func (m *Model) publish(sku string, st *skuState, channel, cause string) {
	ats := st.ats(m.policies[channel])
	prev, known := st.published[channel]
	if known && prev == ats {
		return
	}
	u := Update{Channel: channel, SKU: sku, Available: ats, Version: st.version, CauseEventID: cause}
	if known {
		u.Previous = ptr(prev)
	}
	st.published[channel] = ats
	m.updates = append(m.updates, u)
}

func (m *Model) applySKUEvent(ev event, line []byte) {
	st := m.skus[ev.sku]
	if st != nil && st.applied[ev.id] {
		m.dups++
		return
	}
	isNew := st == nil
	if isNew {
		st = newSKU()
	}

	// state checks: nothing has changed yet
	if reason := stateCheck(st, ev); reason != "" {
		m.deadLetter(ev.id, reason, line)
		return
	}

	before := st.total()
	var receiptAlerts, oversold, negative []Alert
	lowered := "" // the location whose on_hand the event lowered, if any

	switch ev.typ {
	case TypePurchaseOrder:
		st.loc(ev.location).incoming += ev.qty
		st.pos[ev.poID] = &poLine{location: ev.location, expected: ev.qty, open: true}

	case TypeReceipt:
		st.loc(ev.location).onHand += ev.qty
		if ev.hasPOID {
			po := st.pos[ev.poID]
			switch {
			case po == nil:
				receiptAlerts = append(receiptAlerts, Alert{Kind: AlertReceiptUnmatched, Location: ev.location, POID: ev.poID, Units: ptr(ev.qty)})
			default:
				take := int64(0)
				if po.open {
					take = min(ev.qty, po.expected)
					po.expected -= take
					st.loc(po.location).incoming -= take
				}
				if over := ev.qty - take; over > 0 {
					receiptAlerts = append(receiptAlerts, Alert{Kind: AlertReceiptOver, Location: ev.location, POID: ev.poID, Units: ptr(over)})
				}
			}
		}

	case TypePurchaseOrderClosed:
		po := st.pos[ev.poID]
		if po.expected > 0 {
			st.loc(po.location).incoming -= po.expected
			receiptAlerts = append(receiptAlerts, Alert{Kind: AlertPOShort, Location: po.location, POID: ev.poID, Units: ptr(po.expected)})
		}
		po.expected = 0
		po.open = false

	case TypeOrder:
		o := &orderState{open: ev.qty}
		if ev.hasLocation {
			o.location = ev.location
			st.loc(ev.location).reserved += ev.qty
			if s := st.sellable(ev.location); s < 0 {
				oversold = append(oversold, Alert{Kind: AlertOversold, Location: ev.location, Channel: ev.channel, OrderID: ev.orderID, Shortfall: ptr(-s)})
			}
		} else {
			st.unassigned += ev.qty
			var sum int64
			for _, l := range st.eligible(m.policies[ev.channel]) {
				sum += max(0, st.sellable(l))
			}
			if s := sum - st.unassigned; s < 0 {
				oversold = append(oversold, Alert{Kind: AlertOversold, Channel: ev.channel, OrderID: ev.orderID, Shortfall: ptr(-s)})
			}
		}
		st.orders[ev.orderID] = o

	case TypeOrderCancelled:
		o := st.orders[ev.orderID]
		release := o.open
		if ev.hasQty {
			release = min(ev.qty, o.open)
		}
		st.release(o, release)

	case TypeShipment:
		st.loc(ev.location).onHand -= ev.qty
		lowered = ev.location
		if ev.hasOrderID {
			if o := st.orders[ev.orderID]; o != nil {
				st.release(o, min(ev.qty, o.open))
			}
		}

	case TypePOSSale:
		st.loc(ev.location).onHand -= ev.qty
		lowered = ev.location
		if s := st.sellable(ev.location); s < 0 {
			oversold = append(oversold, Alert{Kind: AlertOversold, Location: ev.location, Channel: ev.channel, Shortfall: ptr(-s)})
		}

	case TypeReturn:
		l := st.loc(ev.location)
		l.onHand += ev.qty
		if !ev.resellable {
			l.unavailable += ev.qty
		}

	case TypeAdjustment:
		l := st.loc(ev.location)
		l.onHand += ev.onHandDelta
		l.unavailable += ev.unavailableDelta
		if ev.onHandDelta < 0 {
			lowered = ev.location
		}

	case TypeStockCount:
		l := st.loc(ev.location)
		if ev.counted < l.onHand {
			lowered = ev.location
		}
		l.onHand = ev.counted

	case TypeTransferOut:
		st.loc(ev.location).onHand -= ev.qty
		lowered = ev.location
		st.loc(ev.toLocation).incoming += ev.qty
		st.transfers[ev.transferID] = &transferState{to: ev.toLocation, expected: ev.qty}

	case TypeTransferIn:
		t := st.transfers[ev.transferID]
		l := st.loc(t.to)
		l.onHand += ev.qty
		take := min(ev.qty, t.expected)
		l.incoming -= take
		t.expected -= take

	case TypeSKUPolicy:
		st.safety = ev.safety
		st.reorder = ev.reorder
	}

	if lowered != "" {
		if oh := st.locs[lowered].onHand; oh < 0 {
			negative = append(negative, Alert{Kind: AlertNegativeOnHand, Location: lowered, OnHand: ptr(oh)})
		}
	}

	st.version++
	st.applied[ev.id] = true
	if isNew {
		m.skus[ev.sku] = st
	}

	alerts := append(append(receiptAlerts, oversold...), negative...)
	if after := st.total(); st.reorder != nil && before > *st.reorder && after <= *st.reorder {
		alerts = append(alerts, Alert{Kind: AlertLowStock, Total: ptr(after), ReorderPoint: ptr(*st.reorder)})
	}
	for _, a := range alerts {
		a.SKU = ev.sku
		a.Version = st.version
		a.CauseEventID = ev.id
		m.alerts = append(m.alerts, a)
	}

	for _, ch := range sortedKeys(m.policies) {
		m.publish(ev.sku, st, ch, ev.id)
	}
}

// release frees n units of an order's reservation.
func (st *skuState) release(o *orderState, n int64) {
	if n <= 0 {
		return
	}
	o.open -= n
	if o.location == "" {
		st.unassigned -= n
	} else {
		st.loc(o.location).reserved -= n
	}
}

// stateCheck returns the dead-letter reason of an event that cannot be applied
// to the SKU's current state, or "".
func stateCheck(st *skuState, ev event) string {
	switch ev.typ {
	case TypePurchaseOrder:
		if st.pos[ev.poID] != nil {
			return ReasonPOExists
		}
	case TypePurchaseOrderClosed:
		if l := st.pos[ev.poID]; l == nil || !l.open {
			return ReasonUnknownPO
		}
	case TypeOrder:
		if st.orders[ev.orderID] != nil {
			return ReasonOrderExists
		}
	case TypeOrderCancelled:
		if st.orders[ev.orderID] == nil {
			return ReasonUnknownOrder
		}
	case TypeTransferOut:
		if st.transfers[ev.transferID] != nil {
			return ReasonTransferExists
		}
	case TypeTransferIn:
		if st.transfers[ev.transferID] == nil {
			return ReasonUnknownTransfer
		}
	case TypeAdjustment:
		var unavailable int64
		if l := st.locs[ev.location]; l != nil {
			unavailable = l.unavailable
		}
		if unavailable+ev.unavailableDelta < 0 {
			return ReasonNegativeUnavailable
		}
	}
	return ""
}
