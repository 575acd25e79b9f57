package ledger

// Update is a channel stock update: the channel's available-to-sell of a
// SKU, absolute and versioned.
type Update struct {
	Channel      string
	SKU          string
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
	Has          AlertField
	Version      uint64
	CauseEventID string
	OccurredAt   int64
}

// AlertField marks which optional fields of an Alert are set.
type AlertField uint16

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
)

// Effects collects what applying events produced. The caller owns it and
// calls Reset between batches; Apply only appends.
type Effects struct {
	Updates []Update
	Alerts  []Alert
}

// Reset empties e, keeping capacity.
func (e *Effects) Reset() {
	e.Updates = e.Updates[:0]
	e.Alerts = e.Alerts[:0]
}

// Result describes one application.
type Result struct {
	Outcome Outcome
	Reason  Reason // when Refused
	Detail  string // when Refused: a human sentence naming the field or id
}
