package ledger

// Update is a channel stock update: the channel's available-to-sell of a
// SKU, absolute and versioned; or, with ListingSKU set, of one of the
// channel's listings of the SKU (floor(ats / units)).
type Update struct {
	Channel      string
	SKU          string
	ListingSKU   string
	Available    Qty
	Previous     Qty
	HasPrevious  bool // false the first time the value is known
	Version      uint64
	CauseEventID string
	OccurredAt   int64
}

// Alert is something an operator should look at. Which quantity fields
// apply depends on Kind (ledger/DECISIONS.md); Has says which are set.
type Alert struct {
	Kind         AlertKind
	SKU          string
	Location     string
	Channel      string
	POID         string
	OrderID      string
	Shortfall    Qty
	Units        Qty
	OnHand       Qty
	Total        Qty
	ReorderPoint Qty
	TransferID   string
	Expected     Qty
	Received     Qty
	Short        Qty
	Projected    Qty
	Sold28       Qty
	DaysOfCover  Qty
	LeadTimeDays Qty
	Has          AlertField
	Version      uint64
	CauseEventID string
	OccurredAt   int64
}

// AlertField marks which optional fields of an Alert are set.
type AlertField uint32

// Alert fields.
const (
	AlertHasLocation AlertField = 1 << iota
	AlertHasChannel
	AlertHasPOID
	AlertHasOrderID
	AlertHasShortfall
	AlertHasUnits
	AlertHasOnHand
	AlertHasTotal
	AlertHasReorderPoint
	AlertHasTransferID
	AlertHasExpected
	AlertHasReceived
	AlertHasShort
	AlertHasProjected
	AlertHasSold28
	AlertHasDaysOfCover
	AlertHasLeadTimeDays
)

// HoldResult is a hold's decision, or a change of an open hold, as the
// hold-results topic carries it (keyed sku/hold_id).
type HoldResult struct {
	HoldID       string
	SKU          string
	Channel      string
	Location     string // "" when the hold names none
	Status       HoldStatus
	Requested    Qty
	Granted      Qty // units the hold reserves now: 0 once closed
	Available    Qty // the channel's ats after the event
	ExpiresAt    int64
	Version      uint64
	CauseEventID string
	OccurredAt   int64
}

// Effects collects what applying events produced. The caller owns it and
// calls Reset between batches; Apply only appends.
type Effects struct {
	Updates     []Update
	Alerts      []Alert
	HoldResults []HoldResult
}

// Reset empties e, keeping capacity.
func (e *Effects) Reset() {
	e.Updates = e.Updates[:0]
	e.Alerts = e.Alerts[:0]
	e.HoldResults = e.HoldResults[:0]
}

// Result describes one application.
type Result struct {
	Outcome Outcome
	Reason  Reason // when Refused
	Detail  string // when Refused: a human sentence naming the field or id
}
