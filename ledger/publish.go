package ledger

import (
	"slices"
	"strings"
)

// A SKU's channels are those with a channel policy and those its overrides
// name; each has a published value, and so does each of its listings.

// publish recomputes every channel of s and its listings once, fills in
// the hold results from h0 with them, and appends an update for each value
// that changed or is first known: channels first, in name order, then
// listings by channel and listing SKU. A channel's locations decide which
// channels its unassigned units lower (overlaps), so one event can move
// any channel.
func (p *Partition) publish(s *SKU, ev *Event, fx *Effects, h0 int) {
	if p.DeferPublish {
		p.settleHoldResults(s, fx, h0, nil, nil)
		return
	}
	eff := p.effectiveAll(s)
	ats := p.atsAll(s, eff)
	p.settleHoldResults(s, fx, h0, eff, ats)
	for i := range eff {
		p.publishValue(s, eff[i].Channel, ats[i], eff[i].gone, ev, fx)
	}
	if len(s.Listings) > 0 {
		publishListings(s, eff, ats, ev, fx)
	}
	if len(s.Listings) > 0 || len(s.Overrides) > 0 {
		s.forgetGone()
	}
}

// atsAll is the ats of s under each of eff (effectiveAll), in p's scratch.
func (p *Partition) atsAll(s *SKU, eff []ChannelPolicy) []Qty {
	ats := p.ats[:0]
	for i := range eff {
		ats = append(ats, atsAmong(s, &eff[i], eff))
	}
	p.ats = ats
	return ats
}

// publishValue publishes v as channel's ats when it changed, is first
// known, or always (a channel the SKU is losing publishes its 0 once).
func (p *Partition) publishValue(s *SKU, channel string, v Qty, always bool, ev *Event, fx *Effects) {
	prev, had, changed := s.setPublished(channel, v)
	if !changed && !always {
		return
	}
	fx.Updates = append(fx.Updates, Update{
		Channel: channel, SKU: s.Name, Available: v, Previous: prev, HasPrevious: had,
		Version: s.Version, CauseEventID: ev.ID, OccurredAt: ev.OccurredAt,
	})
}

// listingATS returns the ats of channel for s's listings: the channel's
// among eff (ats, both walked in channel order from *j), or part 1's
// defaults' for a channel that is not (or no longer) the SKU's.
func listingATS(s *SKU, channel string, eff []ChannelPolicy, ats []Qty, j *int) Qty {
	for *j < len(eff) && eff[*j].Channel < channel {
		*j++
	}
	if *j < len(eff) && eff[*j].Channel == channel && !eff[*j].gone {
		return ats[*j]
	}
	c := defaultPolicy(channel)
	return atsAmong(s, &c, eff)
}

// publishListings publishes s's listings.
func publishListings(s *SKU, eff []ChannelPolicy, ats []Qty, ev *Event, fx *Effects) {
	last, v0, j := "", Qty(0), 0
	for i := range s.Listings {
		l := &s.Listings[i]
		var v Qty
		if !l.Gone {
			if l.Channel != last {
				last, v0 = l.Channel, listingATS(s, l.Channel, eff, ats, &j)
			}
			v = v0 / l.Units
		}
		if l.HasPublished && l.Published == v && !l.Gone {
			continue
		}
		fx.Updates = append(fx.Updates, Update{
			Channel: l.Channel, SKU: s.Name, ListingSKU: l.ListingSKU, Available: v,
			Previous: l.Published, HasPrevious: l.HasPublished,
			Version: s.Version, CauseEventID: ev.ID, OccurredAt: ev.OccurredAt,
		})
		l.Published, l.HasPublished = v, true
	}
}

// forgetGone drops the removed listings and overrides once their 0 is
// published (or settled), and the published value of a channel that was
// the SKU's only through a removed override.
func (s *SKU) forgetGone() {
	if !slices.ContainsFunc(s.Listings, func(l Listing) bool { return l.Gone }) &&
		!slices.ContainsFunc(s.Overrides, func(o Override) bool { return o.Gone }) {
		return // the usual case: nothing to forget, nothing to move
	}
	kept := 0
	for i := range s.Listings {
		if !s.Listings[i].Gone {
			s.Listings[kept] = s.Listings[i]
			kept++
		}
	}
	clear(s.Listings[kept:])
	s.Listings = s.Listings[:kept]
	kept = 0
	for i := range s.Overrides {
		if s.Overrides[i].Gone {
			s.dropPublished(s.Overrides[i].Channel)
			continue
		}
		s.Overrides[kept] = s.Overrides[i]
		kept++
	}
	clear(s.Overrides[kept:])
	s.Overrides = s.Overrides[:kept]
}

// SettlePublished brings s's Published to what eager publishing would have
// left (DeferPublish): every applied event recomputes every channel, and a
// policy reaches every known SKU, so a known SKU's last published values
// are the ats of its present state under the present policies.
func (p *Partition) SettlePublished(s *SKU) {
	if !s.Known() {
		return
	}
	s.forgetGone()
	eff := p.effectiveAll(s)
	ats := p.atsAll(s, eff)
	for i := range eff {
		s.setPublished(eff[i].Channel, ats[i])
	}
	j := 0
	for i := range s.Listings {
		l := &s.Listings[i]
		l.Published, l.HasPublished = listingATS(s, l.Channel, eff, ats, &j)/l.Units, true
	}
}

// setPublished records v as channel's last published ats, returning the
// value before (had: there was one) and whether it changed.
func (s *SKU) setPublished(channel string, v Qty) (prev Qty, had, changed bool) {
	i, ok := slices.BinarySearchFunc(s.Published, channel, func(c ChannelValue, ch string) int { return strings.Compare(c.Channel, ch) })
	if ok {
		prev = s.Published[i].ATS
		s.Published[i].ATS = v
		return prev, true, prev != v
	}
	s.Published = slices.Insert(s.Published, i, ChannelValue{Channel: channel, ATS: v})
	return 0, false, true
}

func (s *SKU) dropPublished(channel string) {
	s.Published = slices.DeleteFunc(s.Published, func(c ChannelValue) bool { return c.Channel == channel })
}
