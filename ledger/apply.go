package ledger

import (
	"strconv"
)

// pruneEvery: closed orders, PO lines and transfers past the retention are
// forgotten when a SKU's version is a multiple of this, so the cost of the
// sweep is spread thin and the result stays a pure function of the stream.
const pruneEvery = 64

// Apply applies one SKU event (any type but channel_policy) to s, the state
// of ev.SKU (a zero SKU with Name set when the ledger does not know it yet).
// Updates and alerts are appended to fx. A Refused or Duplicate event leaves
// s and fx as they were.
func (p *Partition) Apply(s *SKU, ev *Event, fx *Effects) Result {
	if ev.Type.Broadcast() {
		return refuse(ReasonInvalidField, ev.Type.String()+" is applied to the partition, not a SKU")
	}
	if r, d := Validate(ev); r != ReasonNone {
		return refuse(r, d)
	}
	return p.ApplyValid(s, ev, fx)
}

// ApplyValid is Apply for an event that has already passed Validate (the
// processor validates before it loads the SKU's state).
func (p *Partition) ApplyValid(s *SKU, ev *Event, fx *Effects) Result {
	probe, seen := s.Seen.lookup(ev.ID)
	if seen {
		return Result{Outcome: Duplicate}
	}
	a := applier{p: p, s: s, ev: ev, fx: fx, lowered: -1, n0: len(fx.Alerts)}
	h0 := len(fx.HoldResults)
	before, reorderBefore := s.TotalPastHolds(), p.reorderOf(s)
	if res := a.apply(); res.Outcome != Applied {
		fx.Alerts = fx.Alerts[:a.n0]
		fx.HoldResults = fx.HoldResults[:h0]
		return res
	}
	if !s.Known() {
		s.PolicySeq = p.PolicySeq // every policy so far is in force for it
	}
	s.Version++
	s.Newest = max(s.Newest, ev.OccurredAt)
	cutoff := s.Newest - p.retentionMicros()
	s.Seen.add(ev.ID, ev.OccurredAt, probe, p.Config.MaxIDsPerSKU, cutoff) // apply left Seen alone
	if s.Version%pruneEvery == 0 {
		s.prune(cutoff)
	}
	a.afterAlerts(before, reorderBefore)
	for i := a.n0; i < len(fx.Alerts); i++ {
		fx.Alerts[i].Version = s.Version
	}
	p.publish(s, ev, fx, h0)
	return Result{Outcome: Applied}
}

func refuse(r Reason, detail string) Result {
	return Result{Outcome: Refused, Reason: r, Detail: detail}
}

var applied = Result{Outcome: Applied}

// applier applies one event; its handlers check everything first and change
// s only once the event is known to apply.
type applier struct {
	p  *Partition
	s  *SKU
	ev *Event
	fx *Effects
	n0 int

	lowered     int    // index of a location whose on_hand the event lowered, or -1
	oversoldAt  string // location to check sellable(l) < 0 after a located sale
	oversoldAny bool   // check the channel's pool after an unlocated order
}

// apply hands the event to its type's handler. Each handler checks
// everything first and changes the SKU only once the event applies.
func (a *applier) apply() Result {
	switch a.ev.Type {
	case TypePurchaseOrder:
		return a.purchaseOrder()
	case TypeReceipt:
		return a.receipt()
	case TypePurchaseOrderClosed:
		return a.purchaseOrderClosed()
	case TypeOrder:
		return a.order()
	case TypeOrderCancelled:
		return a.orderCancelled()
	case TypeShipment:
		return a.shipment()
	case TypePOSSale:
		return a.posSale()
	case TypeReturn:
		return a.returned()
	case TypeAdjustment:
		return a.adjustment()
	case TypeStockCount:
		return a.stockCount()
	case TypeTransferOut:
		return a.transferOut()
	case TypeTransferIn:
		return a.transferIn()
	case TypeSKUPolicy:
		a.skuPolicy()
		return applied
	case TypeHold:
		return a.hold()
	case TypeHoldReleased:
		return a.holdReleased()
	case TypeListing:
		a.listing()
		return applied
	case TypeSKUChannelPolicy:
		a.skuChannelPolicy()
		return applied
	case TypeTransferClosed:
		return a.transferClosed()
	default:
		return refuse(ReasonUnknownType, "unknown type")
	}
}

// purchaseOrder applies a purchase_order: a new PO line, its units incoming.
func (a *applier) purchaseOrder() Result {
	ev, s := a.ev, a.s
	if _, ok := s.POs[ev.POID]; ok {
		return refuse(ReasonPOExists, "po_id "+strconv.Quote(ev.POID)+" already exists")
	}
	l := s.Location(ev.Location)
	if r := a.check(ev.Location, "", l.Incoming+ev.Qty); r.Outcome != Applied {
		return r
	}
	s.name(ev.Location).Incoming += ev.Qty
	if s.POs == nil {
		s.POs = make(map[string]POLine)
	}
	s.putPO(ev.POID, POLine{Location: ev.Location, Expected: ev.Qty, Touched: ev.OccurredAt})
	return applied
}

// receipt applies a receipt: units on hand, matched to the PO line it names.
func (a *applier) receipt() Result {
	ev, s := a.ev, a.s
	l := s.Location(ev.Location)
	if r := a.check(ev.Location, "", l.OnHand+ev.Qty); r.Outcome != Applied {
		return r
	}
	s.name(ev.Location).OnHand += ev.Qty
	if ev.Has&FieldPOID != 0 {
		a.receive()
	}
	return applied
}

// purchaseOrderClosed applies a purchase_order_closed: the line closed, what did not arrive no longer incoming.
func (a *applier) purchaseOrderClosed() Result {
	ev, s := a.ev, a.s
	line, ok := s.POs[ev.POID]
	if !ok || line.Closed {
		return refuse(ReasonUnknownPO, "po_id "+strconv.Quote(ev.POID)+" is not an open purchase order line")
	}
	short := line.Expected
	s.slot(line.Location).Incoming -= short
	s.putPO(ev.POID, POLine{Location: line.Location, Closed: true, Touched: ev.OccurredAt})
	if short > 0 {
		a.alert(Alert{Kind: AlertPOShort, Location: line.Location, POID: ev.POID, Units: short,
			Has: AlertHasLocation | AlertHasPOID | AlertHasUnits})
	}
	return applied
}

// order applies an order: units reserved at its location, or unassigned.
// The open hold it names is converted first, so the order takes its place.
func (a *applier) order() Result {
	ev, s := a.ev, a.s
	if _, ok := s.Orders[ev.OrderID]; ok {
		return refuse(ReasonOrderExists, "order_id "+strconv.Quote(ev.OrderID)+" already exists")
	}
	located := ev.Has&FieldLocation != 0
	// Checked before the hold gives its units back: releasing only lowers
	// what is checked.
	if located {
		l := s.Location(ev.Location)
		if r := a.check(ev.Location, "", l.Reserved+ev.Qty); r.Outcome != Applied {
			return r
		}
	} else if r := a.check("", "", s.Unassigned+ev.Qty); r.Outcome != Applied {
		return r
	}
	if h, ok := s.Holds[ev.HoldID]; ok && ev.Has&FieldHoldID != 0 && !h.Closed {
		a.closeHold(ev.HoldID, h, HoldConverted)
	}
	if located {
		s.name(ev.Location).Reserved += ev.Qty
		a.oversoldAt = ev.Location
	} else {
		s.addUnassigned(ev.Channel, ev.Qty)
		a.oversoldAny = true
	}
	if s.Orders == nil {
		s.Orders = make(map[string]Order)
	}
	s.putOrder(ev.OrderID, Order{Channel: ev.Channel, Location: ev.Location, Open: ev.Qty, Touched: ev.OccurredAt})
	a.p.countSale(s, ev.OccurredAt, ev.Qty)
	return applied
}

// orderCancelled applies an order_cancelled: the order's units released.
func (a *applier) orderCancelled() Result {
	ev, s := a.ev, a.s
	o, ok := s.Orders[ev.OrderID]
	if !ok {
		return refuse(ReasonUnknownOrder, "order_id "+strconv.Quote(ev.OrderID)+" is unknown")
	}
	q := Qty(MaxKeptQty)
	if ev.Has&FieldQty != 0 {
		q = ev.Qty
	}
	a.release(ev.OrderID, o, q)
	return applied
}

// shipment applies a shipment: units leave on hand, releasing the order it names.
func (a *applier) shipment() Result {
	ev, s := a.ev, a.s
	l := s.Location(ev.Location)
	if r := a.check(ev.Location, "", l.OnHand-ev.Qty); r.Outcome != Applied {
		return r
	}
	s.name(ev.Location).OnHand -= ev.Qty
	if ev.Has&FieldOrderID != 0 {
		if o, ok := s.Orders[ev.OrderID]; ok {
			a.release(ev.OrderID, o, ev.Qty)
		}
	}
	a.lowered = s.find(ev.Location)
	return applied
}

// posSale applies a pos_sale: units sold over the counter.
func (a *applier) posSale() Result {
	ev, s := a.ev, a.s
	l := s.Location(ev.Location)
	if r := a.check(ev.Location, "", l.OnHand-ev.Qty); r.Outcome != Applied {
		return r
	}
	s.name(ev.Location).OnHand -= ev.Qty
	a.lowered = s.find(ev.Location)
	a.oversoldAt = ev.Location
	a.p.countSale(s, ev.OccurredAt, ev.Qty)
	return applied
}

// returned applies a return: units back on hand, unavailable unless resellable.
func (a *applier) returned() Result {
	ev, s := a.ev, a.s
	l := s.Location(ev.Location)
	un := l.Unavailable
	if !ev.IsResellable() {
		un += ev.Qty
	}
	if r := a.check(ev.Location, "", l.OnHand+ev.Qty, un); r.Outcome != Applied {
		return r
	}
	m := s.name(ev.Location)
	m.OnHand += ev.Qty
	m.Unavailable = un
	return applied
}

// adjustment applies an adjustment: on hand and unavailable moved by deltas.
func (a *applier) adjustment() Result {
	ev, s := a.ev, a.s
	l := s.Location(ev.Location)
	un := l.Unavailable + ev.UnavailableDelta
	if un < 0 {
		return refuse(ReasonNegativeUnavailable, "unavailable at "+strconv.Quote(ev.Location)+" would be "+strconv.FormatInt(int64(un), 10))
	}
	if r := a.check(ev.Location, "", l.OnHand+ev.OnHandDelta, un); r.Outcome != Applied {
		return r
	}
	m := s.name(ev.Location)
	m.OnHand += ev.OnHandDelta
	m.Unavailable = un
	if ev.OnHandDelta < 0 {
		a.lowered = s.find(ev.Location)
	}
	return applied
}

// stockCount applies a stock_count: on hand set to what was counted.
func (a *applier) stockCount() Result {
	ev, s := a.ev, a.s
	l := s.Location(ev.Location)
	if r := a.check(ev.Location, ""); r.Outcome != Applied {
		return r
	}
	s.name(ev.Location).OnHand = ev.Counted
	if ev.Counted < l.OnHand {
		a.lowered = s.find(ev.Location)
	}
	return applied
}

// transferOut applies a transfer_out: units leave one location, incoming at another.
func (a *applier) transferOut() Result {
	ev, s := a.ev, a.s
	if _, ok := s.Transfers[ev.TransferID]; ok {
		return refuse(ReasonTransferExists, "transfer_id "+strconv.Quote(ev.TransferID)+" already exists")
	}
	from, to := s.Location(ev.Location), s.Location(ev.ToLocation)
	if r := a.check(ev.Location, ev.ToLocation, from.OnHand-ev.Qty, to.Incoming+ev.Qty); r.Outcome != Applied {
		return r
	}
	s.name(ev.Location).OnHand -= ev.Qty
	s.name(ev.ToLocation).Incoming += ev.Qty
	if s.Transfers == nil {
		s.Transfers = make(map[string]Transfer)
	}
	s.putTransfer(ev.TransferID, Transfer{From: ev.Location, To: ev.ToLocation, Expected: ev.Qty, Sent: ev.Qty, Touched: ev.OccurredAt})
	a.lowered = s.find(ev.Location)
	return applied
}

// transferIn applies a transfer_in: units arrive, no longer incoming.
func (a *applier) transferIn() Result {
	ev, s := a.ev, a.s
	t, ok := s.Transfers[ev.TransferID]
	if !ok {
		return refuse(ReasonUnknownTransfer, "transfer_id "+strconv.Quote(ev.TransferID)+" is unknown")
	}
	to := s.Location(t.To)
	if r := a.check(t.To, "", to.OnHand+ev.Qty); r.Outcome != Applied {
		return r
	}
	got := min(ev.Qty, t.Expected)
	m := s.name(t.To)
	m.OnHand += ev.Qty
	m.Incoming -= got
	t.Expected -= got
	t.Touched = ev.OccurredAt
	s.putTransfer(ev.TransferID, t)
	return applied
}

// transferClosed applies a transfer_closed: units still expected are no
// longer incoming, and a transfer that arrived short says so.
func (a *applier) transferClosed() Result {
	ev, s := a.ev, a.s
	t, ok := s.Transfers[ev.TransferID]
	if !ok || t.Closed {
		return refuse(ReasonUnknownTransfer, "transfer_id "+strconv.Quote(ev.TransferID)+" is not an open transfer")
	}
	short := t.Expected
	s.slot(t.To).Incoming -= short
	t.Expected, t.Closed, t.Touched = 0, true, ev.OccurredAt
	s.putTransfer(ev.TransferID, t)
	if short > 0 {
		a.alert(Alert{Kind: AlertTransferShort, Location: t.To, TransferID: ev.TransferID,
			Expected: t.Sent, Received: t.Sent - short, Short: short,
			Has: AlertHasLocation | AlertHasTransferID | AlertHasExpected | AlertHasReceived | AlertHasShort})
	}
	return applied
}

// check refuses the event if it would give s more than MaxLocationsPerSKU
// locations by naming loc1 and loc2 ("" for none), or take any of qs past
// ±MaxKeptQty.
func (a *applier) check(loc1, loc2 string, qs ...Qty) Result {
	for _, q := range qs {
		if q > MaxKeptQty || q < -MaxKeptQty {
			return refuse(ReasonQuantityOverflow, "a quantity would reach "+strconv.FormatInt(int64(q), 10)+", past the limit of "+strconv.FormatInt(int64(MaxKeptQty), 10))
		}
	}
	newNames := 0
	for _, l := range [2]string{loc1, loc2} {
		if l == "" {
			continue
		}
		if i := a.s.find(l); i < 0 || !a.s.Locations[i].Named {
			newNames++
		}
	}
	if newNames > 0 && a.s.namedCount()+newNames > MaxLocationsPerSKU {
		return refuse(ReasonTooManyLocations, "the SKU would have more than "+strconv.Itoa(MaxLocationsPerSKU)+" locations")
	}
	return applied
}

// receive matches a receipt with its PO line.
func (a *applier) receive() {
	ev, s := a.ev, a.s
	line, ok := s.POs[ev.POID]
	base := Alert{Location: ev.Location, POID: ev.POID, Has: AlertHasLocation | AlertHasPOID | AlertHasUnits}
	switch {
	case !ok:
		base.Kind, base.Units = AlertReceiptUnmatched, ev.Qty
		a.alert(base)
	case line.Closed:
		base.Kind, base.Units = AlertReceiptOver, ev.Qty
		a.alert(base)
	default:
		got := min(ev.Qty, line.Expected)
		s.slot(line.Location).Incoming -= got
		line.Expected -= got
		line.Touched = ev.OccurredAt
		s.putPO(ev.POID, line)
		if over := ev.Qty - got; over > 0 {
			base.Kind, base.Units = AlertReceiptOver, over
			a.alert(base)
		}
	}
}

// release frees up to q units of order o's reservation.
func (a *applier) release(orderID string, o Order, q Qty) {
	s := a.s
	r := min(q, o.Open)
	o.Open -= r
	o.Touched = a.ev.OccurredAt
	s.putOrder(orderID, o)
	if o.Location != "" {
		s.slot(o.Location).Reserved -= r
	} else {
		s.addUnassigned(o.Channel, -r)
	}
}

// skuPolicy replaces the SKU's safety stock and reorder point. Locations
// known only for their safety stock are dropped when it goes.
func (a *applier) skuPolicy() {
	ev, s := a.ev, a.s
	for i := range s.Locations {
		s.Locations[i].SafetyStock = 0
	}
	for _, e := range ev.SafetyStock {
		s.slot(e.Location).SafetyStock = e.Qty
	}
	kept := s.Locations[:0]
	for _, l := range s.Locations {
		if l.Named || l.SafetyStock != 0 {
			kept = append(kept, l)
		}
	}
	clear(s.Locations[len(kept):])
	s.Locations = kept
	s.HasReorder = ev.Has&FieldReorderPoint != 0
	s.ReorderPoint = 0
	if s.HasReorder {
		s.ReorderPoint = ev.ReorderPoint
	}
	s.LeadTimeDays = 0
	if ev.Has&FieldLeadTimeDays != 0 {
		s.LeadTimeDays = ev.LeadTimeDays
	}
}

func (a *applier) alert(al Alert) {
	al.SKU = a.s.Name
	al.CauseEventID = a.ev.ID
	al.OccurredAt = a.ev.OccurredAt
	a.fx.Alerts = append(a.fx.Alerts, al)
}

// afterAlerts raises oversold, negative_on_hand, low_stock and
// reorder_due, in that order, once the event is applied. Stock alerts look
// past holds, so hold events never raise them.
func (a *applier) afterAlerts(totalBefore Qty, reorderBefore reorder) {
	ev, s := a.ev, a.s
	if a.oversoldAt != "" {
		l := s.Location(a.oversoldAt)
		if sell := l.Sellable(); sell < 0 {
			al := Alert{Kind: AlertOversold, Location: l.Code, Channel: ev.Channel, Shortfall: -sell,
				Has: AlertHasLocation | AlertHasChannel | AlertHasShortfall}
			if ev.Type == TypeOrder {
				al.OrderID, al.Has = ev.OrderID, al.Has|AlertHasOrderID
			}
			a.alert(al)
		}
	}
	if a.oversoldAny {
		c := a.p.Effective(s, ev.Channel)
		var pool Qty
		for i := range s.Locations {
			l := &s.Locations[i]
			if l.Named && c.eligible(l.Code) {
				pool += max(0, l.Sellable())
			}
		}
		if pool -= a.p.unassignedAgainst(s, &c); pool < 0 {
			a.alert(Alert{Kind: AlertOversold, Channel: ev.Channel, OrderID: ev.OrderID, Shortfall: -pool,
				Has: AlertHasChannel | AlertHasOrderID | AlertHasShortfall})
		}
	}
	if a.lowered >= 0 {
		if l := &s.Locations[a.lowered]; l.OnHand < 0 {
			a.alert(Alert{Kind: AlertNegativeOnHand, Location: l.Code, OnHand: l.OnHand,
				Has: AlertHasLocation | AlertHasOnHand})
		}
	}
	if s.HasReorder {
		if after := s.TotalPastHolds(); totalBefore > s.ReorderPoint && after <= s.ReorderPoint {
			a.alert(Alert{Kind: AlertLowStock, Total: after, ReorderPoint: s.ReorderPoint,
				Has: AlertHasTotal | AlertHasReorderPoint})
		}
	}
	if r := a.p.reorderOf(s); r.due && !reorderBefore.due {
		a.alert(Alert{Kind: AlertReorderDue, Projected: r.projected, Sold28: r.sold28,
			DaysOfCover: r.daysOfCover, LeadTimeDays: r.leadTm,
			Has: AlertHasProjected | AlertHasSold28 | AlertHasDaysOfCover | AlertHasLeadTimeDays})
	}
}

// prune forgets closed orders, closed PO lines and completed transfers last
// touched before cutoff. The closed records wait in a heap by Touched, so a
// sweep costs what it forgets, not the SKU's size.
func (s *SKU) prune(cutoff int64) {
	if !s.heapKnown {
		s.buildClosedHeap()
	}
	for len(s.closed) > 0 && s.closed[0].at < cutoff {
		c := s.popClosed()
		switch c.kind {
		case kindOrder:
			if o, ok := s.Orders[c.id]; ok && o.Open == 0 && o.Touched == c.at {
				delete(s.Orders, c.id)
				s.noteChange(kindOrder, c.id)
			}
		case kindPO:
			if l, ok := s.POs[c.id]; ok && l.Closed && l.Touched == c.at {
				delete(s.POs, c.id)
				s.noteChange(kindPO, c.id)
			}
		case kindTransfer:
			if t, ok := s.Transfers[c.id]; ok && t.Expected == 0 && t.Touched == c.at {
				delete(s.Transfers, c.id)
				s.noteChange(kindTransfer, c.id)
			}
		case kindHold:
			if h, ok := s.Holds[c.id]; ok && h.Closed && h.Touched == c.at {
				delete(s.Holds, c.id)
				s.noteChange(kindHold, c.id)
			}
		}
	}
}
