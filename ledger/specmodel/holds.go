package specmodel

// Holds and the partition clock (ledger-semantics-2.md, "Clock" and "Holds";
// DECISIONS.md part 2).

import (
	"sort"
	"time"
)

// hold decides a hold in log order: refused (expired) when the partition's
// clock has passed its expiry, else granted, partial or refused against
// what its channel may sell just before it.
func (m *Model) hold(st *skuState, ev event, fx *effects) {
	h := &holdState{channel: ev.channel, location: ev.location, requested: ev.qty, expiresAt: ev.expiresAt}
	st.holds[ev.holdID] = h
	status := HoldRefused
	clock, hasClock := m.clocks[st.partition]
	switch g := min(ev.qty, m.grantable(st, ev)); {
	case hasClock && !ev.expiresAt.After(clock):
		status = HoldExpired
	case g == ev.qty:
		status = HoldGranted
		h.open = g
	case ev.allowPartial && g > 0:
		status = HoldPartial
		h.open = g
	}
	if h.open == 0 {
		// a refused hold is remembered as closed, and its location does
		// not become one the SKU has
		h.closed = true
	} else if h.location != "" {
		st.loc(h.location).reserved += h.open
	} else {
		st.unassigned[h.channel] += h.open
	}
	fx.holds = append(fx.holds, pendingHold{ev.holdID, status})
}

// grantable: the channel's ats just before the hold; at a location, no more
// than the location has available, and nothing at a location the channel's
// (non-empty) list leaves out.
func (m *Model) grantable(st *skuState, ev event) int64 {
	ats := m.ats(st, ev.channel)
	if !ev.hasLocation {
		return ats
	}
	if list := m.effective(st, ev.channel).locations; len(list) > 0 && !contains(list, ev.location) {
		return 0
	}
	return min(ats, max(0, st.available(ev.location)))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closeHold gives back what an open hold reserves, from where it reserved
// (whatever the channel of an order converting it).
func closeHold(st *skuState, h *holdState) {
	st.unreserve(h.channel, h.location, h.open)
	h.open = 0
	h.closed = true
}

// emitHoldResults publishes the event's hold results, once the SKU's
// version has grown and every change of the event is done (available is
// the hold channel's ats after the event).
func (m *Model) emitHoldResults(sku string, st *skuState, pending []pendingHold, cause string) {
	for _, p := range pending {
		h := st.holds[p.holdID]
		m.holds = append(m.holds, HoldResult{
			HoldID:       p.holdID,
			SKU:          sku,
			Channel:      h.channel,
			Location:     h.location,
			HasLocation:  h.location != "",
			Status:       p.status,
			Requested:    h.requested,
			Granted:      h.open,
			Available:    m.ats(st, h.channel),
			ExpiresAt:    h.expiresAt.Format(time.RFC3339Nano),
			Version:      st.version,
			CauseEventID: cause,
		})
	}
}

type expiring struct {
	at          time.Time
	sku, holdID string
}

// applyClock moves the partition's clock forward (an earlier or equal clock
// changes nothing, so clock events need no de-duplication) and expires the
// partition's open holds with expires_at at or before it. Each SKU with
// expiring holds is applied once: all its holds released, version + 1, then
// its results and updates. SKUs come in the order of their first expiring
// hold in (expires_at, sku, hold_id) order.
func (m *Model) applyClock(partition int32, ev event) {
	if cur, ok := m.clocks[partition]; ok && !ev.occurredAt.After(cur) {
		return
	}
	m.clocks[partition] = ev.occurredAt
	var due []expiring
	for sku, st := range m.skus {
		for id, h := range st.holds {
			if st.partition == partition && !h.closed && !h.expiresAt.After(ev.occurredAt) {
				due = append(due, expiring{h.expiresAt, sku, id})
			}
		}
	}
	sort.Slice(due, func(i, j int) bool {
		a, b := due[i], due[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if a.sku != b.sku {
			return a.sku < b.sku
		}
		return a.holdID < b.holdID
	})
	var skus []string
	pending := map[string][]pendingHold{}
	for _, d := range due {
		if pending[d.sku] == nil {
			skus = append(skus, d.sku)
		}
		closeHold(m.skus[d.sku], m.skus[d.sku].holds[d.holdID])
		pending[d.sku] = append(pending[d.sku], pendingHold{d.holdID, HoldExpired})
	}
	for _, sku := range skus {
		st := m.skus[sku]
		st.version++
		m.emitHoldResults(sku, st, pending[sku], ev.id)
		m.publish(sku, st, ev.id)
	}
}
