package specmodel

// Folding one event: checks, the effect of each type (ledger-semantics.md
// "Events", ledger-semantics-2.md), then what the event publishes.

// effects collects what an event raises while it is applied, to be published
// once the SKU's version has grown.
type effects struct {
	first    []Alert // receipt_over / receipt_unmatched / po_short / transfer_short
	oversold []Alert
	lowered  string        // the location whose on_hand the event lowered, if any
	holds    []pendingHold // hold results, in the order they happened
}

type pendingHold struct{ holdID, status string }

// Apply folds one JSON line (one event) into the one partition Apply keeps.
// Invalid events become dead letters.
//
// Apply knows nothing of records: it assumes the event sits in its sku's
// partition under its sku's key (part 2's placement rule holds), as it does
// for every caller that reads the events without their Kafka placement. Every
// SKU it creates, and every clock event it folds, belongs to that one
// partition. ApplyRecord checks the placement first and keeps a clock per
// partition; a caller uses one or the other.
func (m *Model) Apply(line []byte) { m.apply(applyPartition, line) }

func (m *Model) apply(partition int32, line []byte) {
	ev, reason, eventID := parse(line)
	if reason != "" {
		m.deadLetter(eventID, reason, line)
		return
	}
	switch ev.typ {
	case TypeChannelPolicy:
		m.applyChannelPolicy(ev)
	case TypeClock:
		m.applyClock(partition, ev)
	default:
		m.applySKUEvent(partition, ev, line)
	}
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
	m.policies[ev.channel] = &channelPolicy{locations: ev.locations, buffer: ev.buffer, share: ev.share, maxQty: ev.maxQty, endAt: ev.endAt}
	// Every channel may move, not only this one: its list decides which
	// channels' unassigned it overlaps.
	for _, sku := range sortedKeys(m.skus) {
		st := m.skus[sku]
		st.version++
		m.publish(sku, st, ev.id)
	}
}

func (m *Model) applySKUEvent(partition int32, ev event, line []byte) {
	st := m.skus[ev.sku]
	if st != nil && st.applied[ev.id] {
		m.dups++
		return
	}
	isNew := st == nil
	if isNew {
		st = newSKU(partition)
	}

	// state checks: nothing has changed yet
	if reason := stateCheck(st, ev); reason != "" {
		m.deadLetter(ev.id, reason, line)
		return
	}

	beforeTotal, beforeDue := st.total(), m.due(st)
	fx := &effects{}
	m.effect(st, ev, fx)

	st.version++
	st.applied[ev.id] = true
	if isNew {
		m.skus[ev.sku] = st
	}
	m.emitHoldResults(ev.sku, st, fx.holds, ev.id)
	m.publish(ev.sku, st, ev.id)
	m.emitAlerts(ev.sku, st, ev.id, fx, beforeTotal, beforeDue)
}

// effect applies one SKU event's change of state.
func (m *Model) effect(st *skuState, ev event, fx *effects) {
	switch ev.typ {
	case TypePurchaseOrder:
		st.loc(ev.location).incoming += ev.qty
		st.pos[ev.poID] = &poLine{location: ev.location, expected: ev.qty, open: true}
	case TypeReceipt:
		receipt(st, ev, fx)
	case TypePurchaseOrderClosed:
		po := st.pos[ev.poID]
		if po.expected > 0 {
			st.loc(po.location).incoming -= po.expected
			fx.first = append(fx.first, Alert{Kind: AlertPOShort, Location: po.location, POID: ev.poID, Units: ptr(po.expected)})
		}
		po.expected = 0
		po.open = false
	case TypeOrder:
		m.order(st, ev, fx)
	case TypeOrderCancelled:
		o := st.orders[ev.orderID]
		release := o.open
		if ev.hasQty {
			release = min(ev.qty, o.open)
		}
		st.release(o, release)
	case TypeShipment:
		st.loc(ev.location).onHand -= ev.qty
		fx.lowered = ev.location
		if o := st.orders[ev.orderID]; ev.hasOrderID && o != nil {
			st.release(o, min(ev.qty, o.open))
		}
	case TypePOSSale:
		m.posSale(st, ev, fx)
	case TypeReturn:
		l := st.loc(ev.location)
		l.onHand += ev.qty
		if !ev.resellable {
			l.unavailable += ev.qty
		}
	default:
		m.effect2(st, ev, fx)
	}
}

// effect2: the rest of effect (stock counts, transfers, policies and part
// 2's types).
func (m *Model) effect2(st *skuState, ev event, fx *effects) {
	switch ev.typ {
	case TypeAdjustment:
		l := st.loc(ev.location)
		l.onHand += ev.onHandDelta
		l.unavailable += ev.unavailableDelta
		if ev.onHandDelta < 0 {
			fx.lowered = ev.location
		}
	case TypeStockCount:
		l := st.loc(ev.location)
		if ev.counted < l.onHand {
			fx.lowered = ev.location
		}
		l.onHand = ev.counted
	case TypeTransferOut:
		st.loc(ev.location).onHand -= ev.qty
		fx.lowered = ev.location
		st.loc(ev.toLocation).incoming += ev.qty
		st.transfers[ev.transferID] = &transferState{to: ev.toLocation, sent: ev.qty, expected: ev.qty}
	case TypeTransferIn:
		t := st.transfers[ev.transferID]
		l := st.loc(t.to)
		l.onHand += ev.qty
		take := min(ev.qty, t.expected)
		l.incoming -= take
		t.expected -= take
		if !t.closed {
			t.received += ev.qty
		}
	case TypeTransferClosed:
		transferClosed(st, ev, fx)
	case TypeSKUPolicy:
		st.safety = ev.safety
		st.reorder = ev.reorder
		st.leadTime = ev.leadTime
	case TypeSKUChannelPolicy:
		skuChannelPolicy(st, ev)
	case TypeListing:
		listing(st, ev)
	case TypeHold:
		m.hold(st, ev, fx)
	case TypeHoldReleased:
		if h := st.holds[ev.holdID]; !h.closed {
			closeHold(st, h)
			fx.holds = append(fx.holds, pendingHold{ev.holdID, HoldReleased})
		}
	}
}

func receipt(st *skuState, ev event, fx *effects) {
	st.loc(ev.location).onHand += ev.qty
	if !ev.hasPOID {
		return
	}
	po := st.pos[ev.poID]
	if po == nil {
		fx.first = append(fx.first, Alert{Kind: AlertReceiptUnmatched, Location: ev.location, POID: ev.poID, Units: ptr(ev.qty)})
		return
	}
	take := int64(0)
	if po.open {
		take = min(ev.qty, po.expected)
		po.expected -= take
		st.loc(po.location).incoming -= take
	}
	if over := ev.qty - take; over > 0 {
		fx.first = append(fx.first, Alert{Kind: AlertReceiptOver, Location: ev.location, POID: ev.poID, Units: ptr(over)})
	}
}

// order converts the hold it names first, so the order's oversold check sees
// the hold's units given back (DECISIONS.md part 2).
func (m *Model) order(st *skuState, ev event, fx *effects) {
	if h := st.holds[ev.holdID]; ev.hasHoldID && h != nil && !h.closed {
		closeHold(st, h)
		fx.holds = append(fx.holds, pendingHold{ev.holdID, HoldConverted})
	}
	o := &orderState{channel: ev.channel, open: ev.qty}
	st.orders[ev.orderID] = o
	m.recordSale(st, ev.occurredAt, ev.qty)
	if ev.hasLocation {
		o.location = ev.location
		st.loc(ev.location).reserved += ev.qty
		if s := st.sellable(ev.location); s < 0 {
			fx.oversold = append(fx.oversold, Alert{Kind: AlertOversold, Location: ev.location, Channel: ev.channel, OrderID: ev.orderID, Shortfall: ptr(-s)})
		}
		return
	}
	st.unassigned[ev.channel] += ev.qty
	var sum int64
	for _, l := range st.eligible(m.effective(st, ev.channel)) {
		sum += max(0, st.sellable(l))
	}
	if s := sum - m.overlapUnassigned(st, ev.channel); s < 0 {
		fx.oversold = append(fx.oversold, Alert{Kind: AlertOversold, Channel: ev.channel, OrderID: ev.orderID, Shortfall: ptr(-s)})
	}
}

func (m *Model) posSale(st *skuState, ev event, fx *effects) {
	st.loc(ev.location).onHand -= ev.qty
	fx.lowered = ev.location
	m.recordSale(st, ev.occurredAt, ev.qty)
	if s := st.sellable(ev.location); s < 0 {
		fx.oversold = append(fx.oversold, Alert{Kind: AlertOversold, Location: ev.location, Channel: ev.channel, Shortfall: ptr(-s)})
	}
}

// emitAlerts publishes the event's alerts in DECISIONS.md's order:
// receipt_over / receipt_unmatched / po_short / transfer_short, oversold,
// negative_on_hand, low_stock, reorder_due.
func (m *Model) emitAlerts(sku string, st *skuState, cause string, fx *effects, beforeTotal int64, beforeDue bool) {
	alerts := append(fx.first, fx.oversold...)
	if fx.lowered != "" {
		if oh := st.locs[fx.lowered].onHand; oh < 0 {
			alerts = append(alerts, Alert{Kind: AlertNegativeOnHand, Location: fx.lowered, OnHand: ptr(oh)})
		}
	}
	if after := st.total(); st.reorder != nil && beforeTotal > *st.reorder && after <= *st.reorder {
		alerts = append(alerts, Alert{Kind: AlertLowStock, Total: ptr(after), ReorderPoint: ptr(*st.reorder)})
	}
	if !beforeDue && m.due(st) {
		alerts = append(alerts, m.reorderDue(st))
	}
	for _, a := range alerts {
		a.SKU = sku
		a.Version = st.version
		a.CauseEventID = cause
		m.alerts = append(m.alerts, a)
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
	return stateCheck2(st, ev)
}

// stateCheck2: part 2's state checks.
func stateCheck2(st *skuState, ev event) string {
	switch ev.typ {
	case TypeHold:
		if st.holds[ev.holdID] != nil {
			return ReasonHoldExists
		}
	case TypeHoldReleased:
		if st.holds[ev.holdID] == nil {
			return ReasonUnknownHold
		}
	case TypeTransferClosed:
		if t := st.transfers[ev.transferID]; t == nil || t.closed {
			return ReasonUnknownTransfer
		}
	}
	return ""
}
