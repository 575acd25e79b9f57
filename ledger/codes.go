package ledger

// Qty is a number of units. Kept quantities stay within ±MaxKeptQty; one
// event moves at most MaxEventQty.
type Qty int64

const (
	// MaxEventQty bounds the units one event moves, and every policy quantity.
	MaxEventQty Qty = 1_000_000_000
	// MaxKeptQty bounds every quantity the ledger keeps; an event that would
	// pass it is refused with ReasonQuantityOverflow rather than wrapping.
	MaxKeptQty Qty = 1_000_000_000_000_000
	// MaxLocationsPerSKU bounds the locations one SKU may have.
	MaxLocationsPerSKU = 4096
)

// EventType names an event's kind.
type EventType uint8

// The event types of the spec.
const (
	TypeUnknown EventType = iota
	TypePurchaseOrder
	TypeReceipt
	TypePurchaseOrderClosed
	TypeOrder
	TypeOrderCancelled
	TypeShipment
	TypePOSSale
	TypeReturn
	TypeAdjustment
	TypeStockCount
	TypeTransferOut
	TypeTransferIn
	TypeSKUPolicy
	TypeChannelPolicy
	TypeClock
	TypeHold
	TypeHoldReleased
	TypeListing
	TypeSKUChannelPolicy
	TypeTransferClosed
	numEventTypes
)

var eventTypeNames = [numEventTypes]string{
	"unknown", "purchase_order", "receipt", "purchase_order_closed", "order",
	"order_cancelled", "shipment", "pos_sale", "return", "adjustment",
	"stock_count", "transfer_out", "transfer_in", "sku_policy", "channel_policy",
	"clock", "hold", "hold_released", "listing", "sku_channel_policy", "transfer_closed",
}

func (t EventType) String() string {
	if t < numEventTypes {
		return eventTypeNames[t]
	}
	return "unknown"
}

// Counts of the enumerations, to size tables indexed by them.
const (
	NumEventTypes = int(numEventTypes)
	NumReasons    = int(numReasons)
	NumAlertKinds = int(numAlertKinds)
)

// Broadcast reports whether events of type t belong to every partition
// (channel_policy, clock) rather than to one SKU's.
func (t EventType) Broadcast() bool { return t == TypeChannelPolicy || t == TypeClock }

// AcceptsListing reports whether events of type t may name a channel's
// listing_sku in place of their sku, for the tools that resolve it before
// the topic.
func (t EventType) AcceptsListing() bool { return acceptsListing(t) }

// ParseEventType returns the type named s, or TypeUnknown and false.
func ParseEventType(s string) (EventType, bool) {
	for i := TypePurchaseOrder; i < numEventTypes; i++ {
		if eventTypeNames[i] == s {
			return i, true
		}
	}
	return TypeUnknown, false
}

// EventTypes lists every known event type in declaration order.
func EventTypes() []EventType {
	ts := make([]EventType, 0, numEventTypes-1)
	for i := TypePurchaseOrder; i < numEventTypes; i++ {
		ts = append(ts, i)
	}
	return ts
}

// Outcome is what applying one event did.
type Outcome uint8

const (
	// Applied: the event changed the ledger (its version grew).
	Applied Outcome = iota
	// Duplicate: the event_id was already applied; nothing changed.
	Duplicate
	// Refused: the event goes to the dead letters with a Reason; nothing changed.
	Refused
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Reason is a stable dead-letter code (ledger/DECISIONS.md has the table).
type Reason uint8

// Dead-letter reasons.
const (
	ReasonNone Reason = iota
	ReasonUndecodable
	ReasonUnknownSchema
	ReasonUnknownType
	ReasonMissingField
	ReasonInvalidField
	ReasonQuantityOutOfRange
	ReasonPOExists
	ReasonOrderExists
	ReasonTransferExists
	ReasonUnknownPO
	ReasonUnknownOrder
	ReasonUnknownTransfer
	ReasonZeroAdjustment
	ReasonNegativeUnavailable
	ReasonQuantityOverflow
	ReasonTooManyLocations
	ReasonWrongPartition
	ReasonHoldExists
	ReasonUnknownHold
	ReasonUnresolvedListing
	numReasons
)

var reasonNames = [numReasons]string{
	"none", "undecodable", "unknown_schema", "unknown_type", "missing_field",
	"invalid_field", "quantity_out_of_range", "po_exists", "order_exists",
	"transfer_exists", "unknown_po", "unknown_order", "unknown_transfer",
	"zero_adjustment", "negative_unavailable", "quantity_overflow",
	"too_many_locations", "wrong_partition", "hold_exists", "unknown_hold",
	"unresolved_listing",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every dead-letter reason (ReasonNone excluded).
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for i := ReasonUndecodable; i < numReasons; i++ {
		rs = append(rs, i)
	}
	return rs
}

// AlertKind is a stable alert code.
type AlertKind uint8

// Alert kinds.
const (
	AlertOversold AlertKind = iota
	AlertLowStock
	AlertReceiptOver
	AlertReceiptUnmatched
	AlertPOShort
	AlertNegativeOnHand
	AlertReorderDue
	AlertTransferShort
	numAlertKinds
)

var alertKindNames = [numAlertKinds]string{
	"oversold", "low_stock", "receipt_over", "receipt_unmatched", "po_short", "negative_on_hand",
	"reorder_due", "transfer_short",
}

func (k AlertKind) String() string {
	if k < numAlertKinds {
		return alertKindNames[k]
	}
	return "unknown"
}

// ParseAlertKind returns the kind named s.
func ParseAlertKind(s string) (AlertKind, bool) {
	for i := AlertKind(0); i < numAlertKinds; i++ {
		if alertKindNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// AlertKinds lists every alert kind.
func AlertKinds() []AlertKind {
	ks := make([]AlertKind, 0, numAlertKinds)
	for i := AlertKind(0); i < numAlertKinds; i++ {
		ks = append(ks, i)
	}
	return ks
}

// HoldStatus is what a hold result reports.
type HoldStatus uint8

// Hold statuses: a hold event's decision (granted, partial, refused, or
// expired when the partition's clock had passed its expiry), then what
// closed an open hold (released, converted by an order, expired).
const (
	HoldGranted HoldStatus = iota
	HoldPartial
	HoldRefused
	HoldExpired
	HoldReleased
	HoldConverted
	numHoldStatuses
)

var holdStatusNames = [numHoldStatuses]string{"granted", "partial", "refused", "expired", "released", "converted"}

func (h HoldStatus) String() string {
	if h < numHoldStatuses {
		return holdStatusNames[h]
	}
	return "unknown"
}

// ParseHoldStatus returns the status named s.
func ParseHoldStatus(s string) (HoldStatus, bool) {
	for i := HoldStatus(0); i < numHoldStatuses; i++ {
		if holdStatusNames[i] == s {
			return i, true
		}
	}
	return 0, false
}
