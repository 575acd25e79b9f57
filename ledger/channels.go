package ledger

import (
	"slices"
	"sort"
)

// Override is a SKU's override of one channel's policy (sku_channel_policy):
// each field it gives replaces the channel policy's for this SKU.
type Override struct {
	Channel   string
	Has       Field // which of FieldExclude, FieldLocations, FieldBuffer, FieldSharePct, FieldMaxQty, FieldEndAt it gives
	Exclude   bool
	Locations []string
	Buffer    Qty
	SharePct  int64
	MaxQty    Qty
	EndAt     Qty
	// Gone: removed from a channel without a channel policy; its 0 is
	// published once (publish), then the override is forgotten.
	Gone bool
}

// Listing is a channel's listing of the SKU under its own SKU and pack size.
type Listing struct {
	Channel    string
	ListingSKU string
	Units      Qty
	// Gone: removed; its 0 is published once (publish), then it is forgotten.
	Gone         bool
	Published    Qty
	HasPublished bool
}

// defaultPolicy is part 1's policy of a channel that has none: every
// location, no buffer, all of it.
func defaultPolicy(channel string) ChannelPolicy {
	return ChannelPolicy{Channel: channel, SharePct: 100}
}

func (s *SKU) override(channel string) *Override {
	os := s.Overrides
	i := sort.Search(len(os), func(i int) bool { return os[i].Channel >= channel })
	if i == len(os) || os[i].Channel != channel {
		return nil
	}
	return &os[i]
}

// Effective is channel's policy for s: the channel policy (part 1's
// defaults when there is none) under s's override of it.
func (p *Partition) Effective(s *SKU, channel string) ChannelPolicy {
	c := p.Channel(channel)
	var pol ChannelPolicy
	if c != nil {
		pol = *c
	} else {
		pol = defaultPolicy(channel)
	}
	if len(s.Overrides) == 0 {
		return pol
	}
	if o := s.override(channel); o != nil {
		pol = o.over(pol)
	}
	return pol
}

// over is policy pol under o: each field o gives replaces pol's. A gone
// override leaves pol, marked gone when the channel has no policy.
func (o *Override) over(pol ChannelPolicy) ChannelPolicy {
	if o.Gone {
		pol.gone = true
		return pol
	}
	if o.Has&FieldExclude != 0 {
		pol.Exclude = o.Exclude
	}
	if o.Has&FieldLocations != 0 {
		pol.Locations = o.Locations
	}
	if o.Has&FieldBuffer != 0 {
		pol.Buffer = o.Buffer
	}
	if o.Has&FieldSharePct != 0 {
		pol.SharePct = o.SharePct
	}
	if o.Has&FieldMaxQty != 0 {
		pol.MaxQty, pol.HasMaxQty = o.MaxQty, true
	}
	if o.Has&FieldEndAt != 0 {
		pol.EndAt, pol.HasEndAt = o.EndAt, true
	}
	return pol
}

// effectiveAll returns the effective policy of every channel of s, in
// channel order: the partition's policies, each under s's override of it,
// and the channels only s's overrides name, under part 1's defaults. A SKU
// without overrides gets the partition's own slice; the others share one
// scratch slice, valid until the next call.
func (p *Partition) effectiveAll(s *SKU) []ChannelPolicy {
	if len(s.Overrides) == 0 {
		return p.Channels
	}
	eff, i := p.eff[:0], 0
	for k := range s.Overrides {
		o := &s.Overrides[k]
		for ; i < len(p.Channels) && p.Channels[i].Channel < o.Channel; i++ {
			eff = append(eff, p.Channels[i])
		}
		base := defaultPolicy(o.Channel)
		if i < len(p.Channels) && p.Channels[i].Channel == o.Channel {
			base = p.Channels[i]
			i++
		}
		eff = append(eff, o.over(base))
	}
	eff = append(eff, p.Channels[i:]...)
	p.eff = eff
	return eff
}

// overlaps reports whether channels of location lists a and b may sell
// from one location: an empty list is every location.
func overlaps(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// unassignedAgainst is the sum of unassigned(d) over the channels d whose
// effective list overlaps c's: the units held for somewhere c sells from.
func (p *Partition) unassignedAgainst(s *SKU, c *ChannelPolicy) Qty {
	return unassignedAgainst(s, c, p.effectiveAll(s))
}

// unassignedAgainst is Partition.unassignedAgainst with the effective
// policies of s's channels at hand (eff, in channel order); a channel with
// unassigned units that is not among them has the empty list.
func unassignedAgainst(s *SKU, c *ChannelPolicy, eff []ChannelPolicy) Qty {
	if len(c.Locations) == 0 || len(s.UnassignedBy) == 0 {
		return s.Unassigned // an empty list overlaps every list
	}
	var u Qty
	j := 0
	for _, d := range s.UnassignedBy { // both in channel order: one walk
		for j < len(eff) && eff[j].Channel < d.Channel {
			j++
		}
		var list []string
		if j < len(eff) && eff[j].Channel == d.Channel {
			list = eff[j].Locations
		}
		if d.Channel == c.Channel || overlaps(c.Locations, list) {
			u += d.Qty
		}
	}
	return u
}

// ATS is channel's available-to-sell of s under its effective policy.
func (p *Partition) ATS(s *SKU, channel string) Qty {
	c := p.Effective(s, channel)
	return p.atsOf(s, &c)
}

// atsOf is the ats of s under c, an effective policy of s.
func (p *Partition) atsOf(s *SKU, c *ChannelPolicy) Qty {
	return atsAmong(s, c, p.effectiveAll(s))
}

// atsAmong is the ats of s under c, one of eff, the effective policies of
// s's channels (effectiveAll).
func atsAmong(s *SKU, c *ChannelPolicy, eff []ChannelPolicy) Qty {
	if c.Exclude || c.gone {
		return 0
	}
	var pool Qty
	for i := range s.Locations {
		l := &s.Locations[i]
		if l.Named && c.eligible(l.Code) {
			pool += max(0, l.Available())
		}
	}
	x := pool - unassignedAgainst(s, c, eff) - c.Buffer
	if x <= 0 {
		return 0
	}
	// floor(x * share / 100) without overflowing for large x.
	v := x/100*Qty(c.SharePct) + x%100*Qty(c.SharePct)/100
	if c.HasMaxQty && v > c.MaxQty {
		v = c.MaxQty
	}
	if c.HasEndAt && v <= c.EndAt {
		return 0
	}
	return v
}
