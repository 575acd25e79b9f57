package ledger

import (
	"slices"
	"strings"
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
	i, ok := slices.BinarySearchFunc(s.Overrides, channel, func(o Override, c string) int { return strings.Compare(o.Channel, c) })
	if !ok {
		return nil
	}
	return &s.Overrides[i]
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
	o := s.override(channel)
	if o == nil || o.Gone {
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
	if len(c.Locations) == 0 || len(s.UnassignedBy) == 0 {
		return s.Unassigned // an empty list overlaps every list
	}
	var u Qty
	for _, d := range s.UnassignedBy {
		if d.Channel == c.Channel || overlaps(c.Locations, p.locationsOf(s, d.Channel)) {
			u += d.Qty
		}
	}
	return u
}

// locationsOf is channel's effective location list for s.
func (p *Partition) locationsOf(s *SKU, channel string) []string {
	if o := s.override(channel); o != nil && !o.Gone && o.Has&FieldLocations != 0 {
		return o.Locations
	}
	if c := p.Channel(channel); c != nil {
		return c.Locations
	}
	return nil
}

// ATS is channel's available-to-sell of s under its effective policy.
func (p *Partition) ATS(s *SKU, channel string) Qty {
	c := p.Effective(s, channel)
	return p.atsOf(s, &c)
}

// atsOf is the ats of s under c, an effective policy of s.
func (p *Partition) atsOf(s *SKU, c *ChannelPolicy) Qty {
	if c.Exclude {
		return 0
	}
	var pool Qty
	for i := range s.Locations {
		l := &s.Locations[i]
		if l.Named && c.eligible(l.Code) {
			pool += max(0, l.Available())
		}
	}
	x := pool - p.unassignedAgainst(s, c) - c.Buffer
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
