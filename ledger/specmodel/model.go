// Package specmodel is an independent reference model of the stock ledger,
// written from /work/shared/spec/ledger-semantics.md, ledger-semantics-2.md,
// worked-examples.md, worked-examples-2.md and ledger/DECISIONS.md only. It is
// meant for tests: simple and slow on purpose (plain maps, everything
// recomputed from scratch).
//
// Apply folds one sequence of events in the spec's JSON Lines form, as if
// they all sat in one partition (one partition clock). ApplyRecord folds
// records of the events topic, checking their placement and keeping one clock
// per partition. Channel policy events reach every SKU known so far, at their
// position in the sequence, whatever its partition. Applied event ids and
// closed orders and holds are remembered forever (no idempotency window), and
// quantity_overflow / too_many_locations are not modelled.
package specmodel

import (
	"sort"
	"time"
)

// Update is a channel stock update, or (ListingSKU set) a listing's update,
// keyed channel/sku/listing_sku.
type Update struct {
	Channel, SKU string
	ListingSKU   string // "" for a channel update
	Available    int64
	Previous     *int64 // nil the first time (or the first time again after a removal)
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
	AlertReorderDue       = "reorder_due"
	AlertTransferShort    = "transfer_short"
)

// Alert is an alert; fields a kind does not use stay zero / nil.
type Alert struct {
	Kind, SKU, Location, Channel, POID, OrderID   string
	Shortfall, Units, OnHand, Total, ReorderPoint *int64

	TransferID                                   string // transfer_short
	Expected, Received, Short                    *int64 // transfer_short
	Projected, Sold28, DaysOfCover, LeadTimeDays *int64 // reorder_due

	Version      int64
	CauseEventID string
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

// Hold statuses.
const (
	HoldGranted   = "granted"
	HoldPartial   = "partial"
	HoldRefused   = "refused"
	HoldExpired   = "expired" // refused because the clock had passed, or expired while open
	HoldReleased  = "released"
	HoldConverted = "converted"
)

// HoldResult is a hold result (part 2, "Holds"), keyed sku/hold_id.
type HoldResult struct {
	HoldID, SKU, Channel, Location string
	HasLocation                    bool
	Status                         string
	Requested                      int64
	Granted                        int64 // units the hold reserves now: 0 once closed
	Available                      int64 // the hold channel's ats after the event
	// ExpiresAt is normalised: UTC, RFC 3339 with as many fraction digits as
	// needed (time.RFC3339Nano), truncated to the microsecond as occurred_at is.
	ExpiresAt    string
	Version      int64
	CauseEventID string
}

// LocationView is the state of one (SKU, location).
type LocationView struct {
	OnHand, Reserved, Unavailable, Incoming, SafetyStock, Available int64
}

// SKUView is the state of one SKU.
type SKUView struct {
	Version      int64
	Unassigned   int64                   // the sum over channels
	UnassignedBy map[string]int64        // channels with nonzero unassigned
	Locations    map[string]LocationView // only locations the SKU has
	Channels     map[string]int64        // ats per channel of the SKU (a policy or an override)
	Listings     map[string]int64        // "channel/listing_sku" -> available, active listings only
	Sold28       int64                   // units sold in the 28-day window
	Projected    int64                   // as reorder_due computes it: as if no hold were open
	OpenHolds    int
}

// Model is the reference ledger.
type Model struct {
	policies  map[string]*channelPolicy
	policyIDs map[string]bool     // applied channel_policy event ids
	clocks    map[int32]time.Time // partition -> its clock; absent: no clock yet
	skus      map[string]*skuState
	updates   []Update
	alerts    []Alert
	dead      []DeadLetter
	holds     []HoldResult
	dups      int
}

// applyPartition is the one partition Apply folds into.
const applyPartition int32 = -1

// New returns an empty ledger.
func New() *Model {
	return &Model{
		policies:  map[string]*channelPolicy{},
		policyIDs: map[string]bool{},
		clocks:    map[int32]time.Time{},
		skus:      map[string]*skuState{},
	}
}

// Updates returns every channel and listing update in order, one per change
// (never coalesced). Within one event, channel updates come in channel order,
// then listing updates in (channel, listing_sku) order; a channel_policy's
// come SKU by SKU in SKU order, a clock's SKU by SKU in expiry order.
func (m *Model) Updates() []Update { return append([]Update(nil), m.updates...) }

// Alerts returns every alert in order.
func (m *Model) Alerts() []Alert { return append([]Alert(nil), m.alerts...) }

// DeadLetters returns every dead letter in order.
func (m *Model) DeadLetters() []DeadLetter { return append([]DeadLetter(nil), m.dead...) }

// HoldResults returns every hold result in order.
func (m *Model) HoldResults() []HoldResult { return append([]HoldResult(nil), m.holds...) }

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
		Version:      st.version,
		Unassigned:   st.unassignedTotal(),
		UnassignedBy: map[string]int64{},
		Locations:    map[string]LocationView{},
		Channels:     map[string]int64{},
		Listings:     map[string]int64{},
		Sold28:       m.sold28(st),
		Projected:    st.projected(),
		OpenHolds:    st.openHolds(),
	}
	for ch, n := range st.unassigned {
		if n != 0 {
			v.UnassignedBy[ch] = n
		}
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
	for _, ch := range m.skuChannels(st) {
		v.Channels[ch] = m.ats(st, ch)
	}
	for k := range st.listings {
		v.Listings[k.channel+"/"+k.listingSKU] = m.listingValue(st, k)
	}
	return v, true
}

// Final returns "channel/sku" -> ats for every known SKU and every channel
// of it (those with a policy, and those its overrides name), computed from
// the state.
func (m *Model) Final() map[string]int64 {
	out := map[string]int64{}
	for sku, st := range m.skus {
		for _, ch := range m.skuChannels(st) {
			out[ch+"/"+sku] = m.ats(st, ch)
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

func ptr(v int64) *int64 { return &v }
