package ledger

// Field is a bit naming one event field; Event.Has records which fields the
// source carried, so validation can tell absent from zero.
type Field uint32

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
	numFields = iota
)

var fieldNames = [numFields]string{
	"event_id", "type", "sku", "occurred_at", "source", "location", "to_location",
	"channel", "po_id", "order_id", "transfer_id", "qty", "resellable",
	"on_hand_delta", "unavailable_delta", "reason", "counted", "safety_stock",
	"reorder_point", "locations", "buffer", "share_pct", "max_qty",
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
}

// Reset clears e for reuse, keeping its slices' capacity.
func (e *Event) Reset() {
	ss, ls := e.SafetyStock[:0], e.Locations[:0]
	*e = Event{SafetyStock: ss, Locations: ls}
}

// IsResellable reports a return's resellable flag (true when absent).
func (e *Event) IsResellable() bool { return e.Has&FieldResellable == 0 || e.Resellable }
