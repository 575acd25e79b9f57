package ledger

import (
	"slices"
	"sort"
	"strings"
)

// Location is what the ledger keeps for one (SKU, location).
type Location struct {
	Code        string
	OnHand      Qty
	Reserved    Qty
	Unavailable Qty
	Incoming    Qty
	SafetyStock Qty
	Held        Qty // the part of Reserved that open holds reserve
	// Named: an applied event other than sku_policy named this location, so
	// the SKU "has" it. A location known only from a sku_policy's safety
	// stock is kept (its safety stock applies once it is named) but not had.
	Named bool
}

// Available is on_hand - reserved - unavailable - safety_stock.
func (l *Location) Available() Qty { return l.OnHand - l.Reserved - l.Unavailable - l.SafetyStock }

// Sellable is on_hand - reserved - unavailable.
func (l *Location) Sellable() Qty { return l.OnHand - l.Reserved - l.Unavailable }

// POLine is an open or closed purchase-order line of one SKU.
type POLine struct {
	Location string
	Expected Qty // units still expected
	Closed   bool
	Touched  int64 // occurred_at of the last event that changed it
}

// Order is an order of one SKU.
type Order struct {
	Channel  string
	Location string // "" when unassigned
	Open     Qty    // units still reserved
	Touched  int64
}

// Transfer is an inbound transfer of one SKU.
type Transfer struct {
	From     string
	To       string
	Expected Qty // units still in transit
	Sent     Qty // units the transfer_out sent
	Closed   bool
	Touched  int64
}

// Hold is a hold of one SKU: open while it reserves units, remembered once
// closed (a refused hold is closed from the start) so its id stays taken.
type Hold struct {
	Channel   string
	Location  string // "" when the hold names none
	Requested Qty
	Granted   Qty // units reserved now: 0 once closed
	ExpiresAt int64
	Closed    bool
	Touched   int64
	// indexed: the store's index of open holds has the hold's key (it was
	// open when its SKU was last persisted or read back). Not part of the
	// state: a hold opened and closed between two persists, or refused,
	// never gets a key, nor a tombstone.
	indexed bool
}

// ChannelQty is a quantity per channel (unassigned units by ordering channel).
type ChannelQty struct {
	Channel string
	Qty     Qty
}

// ChannelValue is the last ats published for one channel.
type ChannelValue struct {
	Channel string
	ATS     Qty
}

// SKU is the ledger of one SKU. The zero value with Name set is a SKU the
// ledger does not know yet.
type SKU struct {
	Name           string
	Version        uint64       // events applied so far, policy events that reached it included
	Unassigned     Qty          // the sum of UnassignedBy
	UnassignedBy   []ChannelQty // units reserved without a location, by ordering channel; sorted, none zero
	HeldUnassigned Qty          // the part of Unassigned that open holds reserve
	ReorderPoint   Qty
	HasReorder     bool
	Newest         int64      // newest occurred_at applied
	Locations      []Location // sorted by Code
	POs            map[string]POLine
	Orders         map[string]Order
	Transfers      map[string]Transfer
	Holds          map[string]Hold
	Overrides      []Override     // sorted by Channel
	Listings       []Listing      // sorted by Channel, then ListingSKU
	LeadTimeDays   int64          // 0: none
	Sales          []DaySales     // units sold per UTC day, sorted by Day
	Published      []ChannelValue // sorted by Channel
	Seen           IDWindow
	PolicySeq      uint64 // the partition's PolicySeq when a policy last reached it (or it appeared)

	// Derived, not in the canonical encoding: closed records by Touched
	// (for prune), the records changed since the state was last persisted
	// and where its persisted form lives (layout.go).
	closed    []closedRef // a min-heap by at; entries may be stale
	heapKnown bool        // closed holds every closed record
	chg       []recRef    // records changed since the last Persist
	chgLost   bool        // chg overflowed: the next Persist writes everything
	holdChg   []string    // holds opened or closed since the last Persist (HoldIndexer)
	holdLost  bool        // holdChg overflowed: the next Persist indexes every hold
	lay       layout
}

// Record kinds, in change lists and the persisted form.
const (
	kindPO uint8 = 1 + iota
	kindOrder
	kindTransfer
	kindHold
)

// recRef names one PO line, order or transfer of a SKU.
type recRef struct {
	kind uint8
	id   string
}

// closedRef is a closed record, touched at at.
type closedRef struct {
	at int64
	recRef
}

// maxChanges bounds the change list of a SKU that is folded but never
// persisted (an in-memory replay): past it the list is dropped and the
// next Persist writes the whole state.
const maxChanges = 8192

// noteChange records that record (kind, id) changed (or was deleted).
func (s *SKU) noteChange(kind uint8, id string) {
	if s.chgLost || !s.lay.split {
		return // the next Persist writes the whole state (Persist)
	}
	if len(s.chg) >= maxChanges {
		s.chg, s.chgLost = nil, true
		return
	}
	s.chg = append(s.chg, recRef{kind, id})
}

// putPO stores PO line id and records the change.
func (s *SKU) putPO(id string, l POLine) {
	s.POs[id] = l
	s.noteChange(kindPO, id)
	if l.Closed {
		s.pushClosed(closedRef{l.Touched, recRef{kindPO, id}})
	}
}

// putOrder stores order id and records the change.
func (s *SKU) putOrder(id string, o Order) {
	s.Orders[id] = o
	s.noteChange(kindOrder, id)
	if o.Open == 0 {
		s.pushClosed(closedRef{o.Touched, recRef{kindOrder, id}})
	}
}

// putTransfer stores transfer id and records the change.
func (s *SKU) putTransfer(id string, t Transfer) {
	s.Transfers[id] = t
	s.noteChange(kindTransfer, id)
	if t.Expected == 0 {
		s.pushClosed(closedRef{t.Touched, recRef{kindTransfer, id}})
	}
}

// putHold stores hold id and records the change.
func (s *SKU) putHold(id string, h Hold) {
	if s.Holds == nil {
		s.Holds = make(map[string]Hold)
	}
	s.Holds[id] = h
	s.noteChange(kindHold, id)
	switch {
	case s.holdLost:
	case len(s.holdChg) >= maxChanges:
		s.holdChg, s.holdLost = nil, true
	default:
		s.holdChg = append(s.holdChg, id)
	}
	if h.Closed {
		s.pushClosed(closedRef{h.Touched, recRef{kindHold, id}})
	}
}

// buildClosedHeap puts every closed record in the heap (after a decode).
func (s *SKU) buildClosedHeap() {
	s.closed = s.closed[:0]
	s.heapKnown = true
	for id, o := range s.Orders {
		if o.Open == 0 {
			s.pushClosed(closedRef{o.Touched, recRef{kindOrder, id}})
		}
	}
	for id, l := range s.POs {
		if l.Closed {
			s.pushClosed(closedRef{l.Touched, recRef{kindPO, id}})
		}
	}
	for id, t := range s.Transfers {
		if t.Expected == 0 {
			s.pushClosed(closedRef{t.Touched, recRef{kindTransfer, id}})
		}
	}
	for id, h := range s.Holds {
		if h.Closed {
			s.pushClosed(closedRef{h.Touched, recRef{kindHold, id}})
		}
	}
}

func (s *SKU) pushClosed(c closedRef) {
	if !s.heapKnown {
		return // built in full at the next prune
	}
	h := append(s.closed, c)
	for i := len(h) - 1; i > 0; {
		up := (i - 1) / 2
		if h[up].at <= h[i].at {
			break
		}
		h[up], h[i] = h[i], h[up]
		i = up
	}
	s.closed = h
}

func (s *SKU) popClosed() closedRef {
	h := s.closed
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = closedRef{}
	h = h[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(h) && h[l].at < h[small].at {
			small = l
		}
		if r := l + 1; r < len(h) && h[r].at < h[small].at {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	s.closed = h
	return top
}

// Known reports whether any event has been applied to s.
func (s *SKU) Known() bool { return s.Version > 0 }

// find returns the index of location code, or -1.
func (s *SKU) find(code string) int {
	i := sort.Search(len(s.Locations), func(i int) bool { return s.Locations[i].Code >= code })
	if i < len(s.Locations) && s.Locations[i].Code == code {
		return i
	}
	return -1
}

// Location returns the location named code, or a zero Location.
func (s *SKU) Location(code string) Location {
	if i := s.find(code); i >= 0 {
		return s.Locations[i]
	}
	return Location{Code: code}
}

// locCount counts the locations s has (Named).
func (s *SKU) namedCount() int {
	n := 0
	for i := range s.Locations {
		if s.Locations[i].Named {
			n++
		}
	}
	return n
}

// slot returns a pointer to location code, inserting it when absent.
func (s *SKU) slot(code string) *Location {
	i := sort.Search(len(s.Locations), func(i int) bool { return s.Locations[i].Code >= code })
	if i < len(s.Locations) && s.Locations[i].Code == code {
		return &s.Locations[i]
	}
	s.Locations = append(s.Locations, Location{})
	copy(s.Locations[i+1:], s.Locations[i:])
	s.Locations[i] = Location{Code: code}
	return &s.Locations[i]
}

// name marks location code as had by s.
func (s *SKU) name(code string) *Location {
	l := s.slot(code)
	l.Named = true
	return l
}

// Total is the SKU's sum over its locations of max(0, available) - unassigned.
func (s *SKU) Total() Qty {
	var t Qty
	for i := range s.Locations {
		if l := &s.Locations[i]; l.Named {
			t += max(0, l.Available())
		}
	}
	return t - s.Unassigned
}

// TotalPastHolds is Total as if no hold were open: what low_stock and
// reorder_due compare, so a cart coming and going raises nothing.
func (s *SKU) TotalPastHolds() Qty {
	var t Qty
	for i := range s.Locations {
		if l := &s.Locations[i]; l.Named {
			t += max(0, l.Available()+l.Held)
		}
	}
	return t - (s.Unassigned - s.HeldUnassigned)
}

// addUnassigned moves channel's unassigned units (and the SKU's sum) by q,
// dropping the channel when it reaches zero.
func (s *SKU) addUnassigned(channel string, q Qty) {
	s.Unassigned += q
	i, ok := slices.BinarySearchFunc(s.UnassignedBy, channel, func(c ChannelQty, ch string) int { return strings.Compare(c.Channel, ch) })
	switch {
	case ok && s.UnassignedBy[i].Qty+q == 0:
		s.UnassignedBy = slices.Delete(s.UnassignedBy, i, i+1)
	case ok:
		s.UnassignedBy[i].Qty += q
	case q != 0:
		s.UnassignedBy = slices.Insert(s.UnassignedBy, i, ChannelQty{channel, q})
	}
}

// PublishedATS returns the last ats published for channel.
func (s *SKU) PublishedATS(channel string) (Qty, bool) {
	for _, v := range s.Published {
		if v.Channel == channel {
			return v.ATS, true
		}
	}
	return 0, false
}
