package ledger

// Field is a bit naming one event field; Event.Has records which fields the
// source carried, so validation can tell absent from zero.
type Field uint64

// Event fields, named as in the spec's JSON form.
const (
	FieldEventID Field = 1 << iota
	FieldType
	FieldSKU
	FieldOccurredAt
	FieldSource
	FieldLocation
	FieldToLocation
	FieldChannel
	FieldPOID
	FieldOrderID
	FieldTransferID
	FieldQty
	FieldResellable
	FieldOnHandDelta
	FieldUnavailableDelta
	FieldReason
	FieldCounted
	FieldSafetyStock
	FieldReorderPoint
	FieldLocations
	FieldBuffer
	FieldSharePct
	FieldMaxQty
	FieldHoldID
	FieldExpiresAt
	FieldAllowPartial
	FieldListingSKU
	FieldUnits
	FieldActive
	FieldExclude
	FieldEndAt
	FieldLeadTimeDays
	numFields = iota
)

var fieldNames = [numFields]string{
	"event_id", "type", "sku", "occurred_at", "source", "location", "to_location",
	"channel", "po_id", "order_id", "transfer_id", "qty", "resellable",
	"on_hand_delta", "unavailable_delta", "reason", "counted", "safety_stock",
	"reorder_point", "locations", "buffer", "share_pct", "max_qty",
	"hold_id", "expires_at", "allow_partial", "listing_sku", "units", "active",
	"exclude", "end_at", "lead_time_days",
}

func (f Field) String() string {
	for i := 0; i < numFields; i++ {
		if f == 1<<i {
			return fieldNames[i]
		}
	}
	return "unknown"
}

// LocQty is a quantity at a location (a sku_policy's safety stock).
type LocQty struct {
	Location string
	Qty      Qty
}

// Event is one decoded event. Only the fields of its Type are meaningful,
// and Has says which were present in the source.
type Event struct {
	ID         string
	Type       EventType
	SKU        string
	OccurredAt int64 // microseconds since the Unix epoch, UTC
	Source     string
	Has        Field

	Location   string
	ToLocation string
	Channel    string
	POID       string
	OrderID    string
	TransferID string

	Qty              Qty
	Counted          Qty
	OnHandDelta      Qty
	UnavailableDelta Qty
	Resellable       bool // meaningful when Has&FieldResellable; default true
	Reason           string

	SafetyStock  []LocQty // sku_policy, in the source's order
	ReorderPoint Qty
	Locations    []string // channel_policy
	Buffer       Qty
	SharePct     int64
	MaxQty       Qty
	EndAt        Qty   // channel_policy, sku_channel_policy
	LeadTimeDays int64 // sku_policy

	HoldID       string // hold, hold_released, order
	ExpiresAt    int64  // hold: microseconds since the Unix epoch, UTC
	AllowPartial bool   // hold
	ListingSKU   string // listing; kept on resolved events
	Units        Qty    // listing: meaningful when Has&FieldUnits; default 1
	Active       bool   // listing: meaningful when Has&FieldActive; default true
	Exclude      bool   // sku_channel_policy
}

// Reset clears e for reuse, keeping its slices' capacity.
func (e *Event) Reset() {
	ss, ls := e.SafetyStock[:0], e.Locations[:0]
	*e = Event{SafetyStock: ss, Locations: ls}
}

// IsResellable reports a return's resellable flag (true when absent).
func (e *Event) IsResellable() bool { return e.Has&FieldResellable == 0 || e.Resellable }

// IsActive reports a listing's active flag (true when absent).
func (e *Event) IsActive() bool { return e.Has&FieldActive == 0 || e.Active }

// ListingUnits reports a listing's units (1 when absent).
func (e *Event) ListingUnits() Qty {
	if e.Has&FieldUnits == 0 {
		return 1
	}
	return e.Units
}
