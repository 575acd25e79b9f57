package ledger

import (
	"slices"
	"strings"
)

// A SKU's channels are those with a channel policy and those its overrides
// name; each has a published value, and so does each of its listings.

// eachChannel calls fn with every channel of s in name order: the
// partition's policies merged with s's overrides of channels without one.
func (p *Partition) eachChannel(s *SKU, fn func(channel string)) {
	i := 0
	for k := range s.Overrides {
		o := &s.Overrides[k]
		for ; i < len(p.Channels) && p.Channels[i].Channel < o.Channel; i++ {
			fn(p.Channels[i].Channel)
		}
		if i < len(p.Channels) && p.Channels[i].Channel == o.Channel {
			continue // the policy's turn comes in the loop above or below
		}
		fn(o.Channel)
	}
	for ; i < len(p.Channels); i++ {
		fn(p.Channels[i].Channel)
	}
}

// publish recomputes channel (or every channel of s when it is "") and its
// listings, and appends an update for each value that changed or is first
// known: channels first, in name order, then listings by channel and
// listing SKU.
func (p *Partition) publish(s *SKU, channel string, ev *Event, fx *Effects) {
	if p.DeferPublish {
		return
	}
	switch {
	case channel != "":
		p.publishChannel(s, channel, ev, fx)
	case len(s.Overrides) == 0:
		// Most SKUs: the channels are the policies', each its own effective policy.
		for i := range p.Channels {
			c := &p.Channels[i]
			p.publishValue(s, c.Channel, p.atsOf(s, c), false, ev, fx)
		}
	default:
		p.eachChannel(s, func(c string) { p.publishChannel(s, c, ev, fx) })
	}
	if len(s.Listings) > 0 {
		p.publishListings(s, channel, ev, fx)
	}
	if len(s.Listings) > 0 || len(s.Overrides) > 0 {
		s.forgetGone()
	}
}

func (p *Partition) publishChannel(s *SKU, channel string, ev *Event, fx *Effects) {
	var v Qty
	o := s.override(channel)
	gone := o != nil && o.Gone
	if !gone {
		v = p.ATS(s, channel)
	}
	p.publishValue(s, channel, v, gone, ev, fx)
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

// publishListings publishes the listings of channel (every channel: "").
func (p *Partition) publishListings(s *SKU, channel string, ev *Event, fx *Effects) {
	last, ats := "", Qty(0)
	for i := range s.Listings {
		l := &s.Listings[i]
		if channel != "" && l.Channel != channel {
			continue
		}
		var v Qty
		if !l.Gone {
			if l.Channel != last {
				last, ats = l.Channel, p.ATS(s, l.Channel)
			}
			v = ats / l.Units
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
	s.Listings = slices.DeleteFunc(s.Listings, func(l Listing) bool { return l.Gone })
	for _, o := range s.Overrides {
		if o.Gone {
			s.dropPublished(o.Channel)
		}
	}
	s.Overrides = slices.DeleteFunc(s.Overrides, func(o Override) bool { return o.Gone })
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
	p.eachChannel(s, func(c string) { s.setPublished(c, p.ATS(s, c)) })
	for i := range s.Listings {
		l := &s.Listings[i]
		l.Published, l.HasPublished = p.ATS(s, l.Channel)/l.Units, true
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
