package ledger

import "strconv"

// Holds: a checkout's reservation, granted or refused in log order (so the
// last unit goes to one buyer without a lock), released by the checkout,
// converted by the order that completes it, or expired by the partition's
// clock.

// hold applies a hold: grants min(qty, grantable) when that is all of it
// (or, with allow_partial, any of it), else refuses; a hold the clock has
// already passed is refused as expired. Every decision is remembered.
func (a *applier) hold() Result {
	ev, s, p := a.ev, a.s, a.p
	if _, ok := s.Holds[ev.HoldID]; ok {
		return refuse(ReasonHoldExists, "hold_id "+strconv.Quote(ev.HoldID)+" already exists")
	}
	status, granted := HoldRefused, Qty(0)
	switch g := p.grantable(s, ev); {
	case p.HasClock && ev.ExpiresAt <= p.Clock:
		status = HoldExpired
	case g >= ev.Qty:
		status, granted = HoldGranted, ev.Qty
	case ev.AllowPartial && g > 0:
		status, granted = HoldPartial, g
	}
	h := Hold{Channel: ev.Channel, Location: ev.Location, Requested: ev.Qty, Granted: granted,
		ExpiresAt: ev.ExpiresAt, Closed: granted == 0, Touched: ev.OccurredAt}
	if granted > 0 {
		if r := a.reserveHeld(&h); r.Outcome != Applied {
			return r
		}
	}
	s.putHold(ev.HoldID, h)
	a.holdResult(ev.HoldID, h, status)
	return applied
}

// grantable is what a hold may take: the channel's ats, and at a location
// no more than the location has available (nothing at a location the
// channel does not sell from).
func (p *Partition) grantable(s *SKU, ev *Event) Qty {
	c := p.Effective(s, ev.Channel)
	g := p.atsOf(s, &c)
	if ev.Has&FieldLocation == 0 {
		return g
	}
	if !c.eligible(ev.Location) {
		return 0
	}
	l := s.Location(ev.Location)
	return min(g, max(0, l.Available()))
}

// reserveHeld reserves a granted hold's units: at its location, else as
// unassigned units of its channel.
func (a *applier) reserveHeld(h *Hold) Result {
	s := a.s
	if h.Location != "" {
		if r := a.check(h.Location, "", s.Location(h.Location).Reserved+h.Granted); r.Outcome != Applied {
			return r
		}
		l := s.name(h.Location)
		l.Reserved += h.Granted
		l.Held += h.Granted
		return applied
	}
	if r := a.check("", "", s.Unassigned+h.Granted); r.Outcome != Applied {
		return r
	}
	s.addUnassigned(h.Channel, h.Granted)
	s.HeldUnassigned += h.Granted
	return applied
}

// holdReleased applies a hold_released: an open hold gives its units back;
// a closed one releases nothing.
func (a *applier) holdReleased() Result {
	ev, s := a.ev, a.s
	h, ok := s.Holds[ev.HoldID]
	if !ok {
		return refuse(ReasonUnknownHold, "hold_id "+strconv.Quote(ev.HoldID)+" is unknown")
	}
	if !h.Closed {
		a.closeHold(ev.HoldID, h, HoldReleased)
	}
	return applied
}

// closeHold releases what open hold h reserves and closes it.
func (a *applier) closeHold(id string, h Hold, status HoldStatus) {
	s := a.s
	if h.Location != "" {
		l := s.slot(h.Location)
		l.Reserved -= h.Granted
		l.Held -= h.Granted
	} else {
		s.addUnassigned(h.Channel, -h.Granted)
		s.HeldUnassigned -= h.Granted
	}
	h.Granted, h.Closed, h.Touched = 0, true, a.ev.OccurredAt
	s.putHold(id, h)
	a.holdResult(id, h, status)
}

// holdResult appends h's result; ApplyValid (or expire) fills in the
// version and the channel's ats once the event is applied.
func (a *applier) holdResult(id string, h Hold, status HoldStatus) {
	a.fx.HoldResults = append(a.fx.HoldResults, HoldResult{
		HoldID: id, SKU: a.s.Name, Channel: h.Channel, Location: h.Location, Status: status,
		Requested: h.Requested, Granted: h.Granted, ExpiresAt: h.ExpiresAt,
		CauseEventID: a.ev.ID, OccurredAt: a.ev.OccurredAt,
	})
}

// settleHoldResults fills the version and the channel's ats after the
// event into the hold results from index h0 on: from ats, the values of
// eff (publish), when the channel is among them.
func (p *Partition) settleHoldResults(s *SKU, fx *Effects, h0 int, eff []ChannelPolicy, ats []Qty) {
	for i := h0; i < len(fx.HoldResults); i++ {
		r := &fx.HoldResults[i]
		r.Version = s.Version
		v, ok := atsFrom(eff, ats, r.Channel)
		if !ok {
			v = p.ATS(s, r.Channel)
		}
		r.Available = v
	}
}

// atsFrom is channel's value among eff (ats aligned with it).
func atsFrom(eff []ChannelPolicy, ats []Qty, channel string) (Qty, bool) {
	for i := range eff {
		if eff[i].Channel == channel {
			return ats[i], true
		}
	}
	return 0, false
}

// Expire applies a clock event (already applied to the partition) to s:
// its open holds among ids that expire at or before the clock are
// released, in the order given. When any is, s's version grows by one and
// its updates name the clock event; else s is left untouched. It reports
// whether s changed.
func (p *Partition) Expire(s *SKU, ids []string, ev *Event, fx *Effects) bool {
	a := applier{p: p, s: s, ev: ev, fx: fx, lowered: -1}
	h0 := len(fx.HoldResults)
	for _, id := range ids {
		if h, ok := s.Holds[id]; ok && !h.Closed && h.ExpiresAt <= p.Clock {
			a.closeHold(id, h, HoldExpired)
		}
	}
	if len(fx.HoldResults) == h0 {
		return false
	}
	s.Version++
	s.Newest = max(s.Newest, ev.OccurredAt)
	p.publish(s, ev, fx, h0)
	return true
}

// ApplyClock applies a clock event to the partition: its clock moves to
// the event's occurred_at when that is later. The caller then expires the
// open holds the clock has passed (Expire).
func (p *Partition) ApplyClock(ev *Event) {
	if !p.HasClock || ev.OccurredAt > p.Clock {
		p.Clock, p.HasClock = ev.OccurredAt, true
	}
}
