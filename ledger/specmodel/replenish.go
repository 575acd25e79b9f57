package specmodel

// Transfers closed short and replenishment by sales velocity
// (ledger-semantics-2.md, "Transfers closed short", "Replenishment by sales
// velocity"; DECISIONS.md part 2).

import "time"

const windowDays = 28

// transferClosed takes what is still expected out of incoming; a later
// transfer_in adds to on_hand with nothing expected.
func transferClosed(st *skuState, ev event, fx *effects) {
	t := st.transfers[ev.transferID]
	t.closed = true
	if t.expected <= 0 {
		return
	}
	st.loc(t.to).incoming -= t.expected
	fx.first = append(fx.first, Alert{
		Kind: AlertTransferShort, Location: t.to, TransferID: ev.transferID,
		Expected: ptr(t.sent), Received: ptr(t.received), Short: ptr(t.expected),
	})
	t.expected = 0
}

// dayOf is t's UTC day, counted from 1970-01-01 (floor, also before it).
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// recordSale counts units sold on the day of at, never later than the
// partition clock's day: a source clock running ahead cannot move the
// window. The window ends on the clock's day, or before any clock on the
// latest day counted; a sale before the window is not counted. A day the
// window forgot keeps none of its units, but when the first clock moves the
// window back over it, a later sale on it is in the window and counts
// (DECISIONS.md).
func (m *Model) recordSale(st *skuState, at time.Time, qty int64) {
	day := dayOf(at)
	clock, hasClock := m.clocks[st.partition]
	end := day
	switch {
	case hasClock:
		end = dayOf(clock)
		day = min(day, end)
	case st.hasSale:
		end = max(st.lastSaleDay, day)
	}
	if day <= end-windowDays {
		return
	}
	st.sales[day] += qty
	st.lastSaleDay, st.hasSale = max(st.lastSaleDay, day), true
	m.forget(st, end)
}

// forget drops the days before the window ending on end.
func (m *Model) forget(st *skuState, end int64) {
	for d := range st.sales {
		if d <= end-windowDays {
			delete(st.sales, d)
		}
	}
}

// sold28 sums the window: the 28 days ending on the partition clock's day,
// or before any clock on the latest day of a sale the SKU counted.
func (m *Model) sold28(st *skuState) int64 {
	end, ok := st.lastSaleDay, st.hasSale
	if clock, hasClock := m.clocks[st.partition]; hasClock {
		end, ok = dayOf(clock), true
	}
	if !ok {
		return 0
	}
	lo := end - windowDays + 1
	var sum int64
	for d, n := range st.sales {
		if d >= lo && d <= end {
			sum += n
		}
	}
	return sum
}

// due: fewer days of cover than the lead time. projected looks past holds.
func (m *Model) due(st *skuState) bool {
	sold := m.sold28(st)
	return st.leadTime != nil && sold > 0 && st.projected()*windowDays < sold*(*st.leadTime)
}

func (m *Model) reorderDue(st *skuState) Alert {
	p, sold := st.projected(), m.sold28(st)
	return Alert{
		Kind: AlertReorderDue, Projected: ptr(p), Sold28: ptr(sold),
		DaysOfCover: ptr(floorDiv(p*windowDays, sold)), LeadTimeDays: ptr(*st.leadTime),
	}
}

// floorDiv rounds towards minus infinity (a negative projected gives
// negative days of cover, rounded down); b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
