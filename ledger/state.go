package ledger

import "sort"

// Location is what the ledger keeps for one (SKU, location).
type Location struct {
	Code        string
	OnHand      Qty
	Reserved    Qty
	Unavailable Qty
	Incoming    Qty
	SafetyStock Qty
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
	Touched  int64
}

// ChannelValue is the last ats published for one channel.
type ChannelValue struct {
	Channel string
	ATS     Qty
}

// SKU is the ledger of one SKU. The zero value with Name set is a SKU the
// ledger does not know yet.
type SKU struct {
	Name         string
	Version      uint64 // events applied so far, policy events that reached it included
	Unassigned   Qty
	ReorderPoint Qty
	HasReorder   bool
	Newest       int64      // newest occurred_at applied
	Locations    []Location // sorted by Code
	POs          map[string]POLine
	Orders       map[string]Order
	Transfers    map[string]Transfer
	Published    []ChannelValue // sorted by Channel
	Seen         IDWindow
	PolicySeq    uint64 // the partition's PolicySeq when a policy last reached it (or it appeared)

	// closedFloor is at most the Touched of every closed order, PO line and
	// transfer, when closedKnown; the periodic sweep is skipped while it is
	// not older than the cutoff (the sweep would forget nothing). Derived,
	// not encoded.
	closedFloor int64
	closedKnown bool
}

// noteClosed records that a record touched at t is closed.
func (s *SKU) noteClosed(t int64) {
	if s.closedKnown {
		s.closedFloor = min(s.closedFloor, t)
	}
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

// PublishedATS returns the last ats published for channel.
func (s *SKU) PublishedATS(channel string) (Qty, bool) {
	for _, v := range s.Published {
		if v.Channel == channel {
			return v.ATS, true
		}
	}
	return 0, false
}
