package specmodel

// Availability (ledger-semantics.md "Availability"), as part 2 changes it:
// unassigned per channel subtracted over overlapping channels, effective
// policies (channel policy under a SKU's override), end_at, exclude.

func (st *skuState) available(loc string) int64 {
	l := st.locs[loc]
	if l == nil {
		return 0
	}
	return l.onHand - l.reserved - l.unavailable - st.safety[loc]
}

func (st *skuState) sellable(loc string) int64 {
	l := st.locs[loc]
	if l == nil {
		return 0
	}
	return l.onHand - l.reserved - l.unavailable
}

// effective is the policy ats, grantable and overlaps use for one SKU and
// channel: the channel policy (part 1's defaults without one: every
// location, buffer 0, share 100) with each field the SKU's override gives
// replaced. Never nil.
func (m *Model) effective(st *skuState, channel string) *channelPolicy {
	eff := channelPolicy{share: 100}
	if pol := m.policies[channel]; pol != nil {
		eff = *pol
	}
	o := st.overrides[channel]
	if o == nil {
		return &eff
	}
	eff.exclude = o.exclude
	if o.hasLocations {
		eff.locations = o.locations
	}
	if o.buffer != nil {
		eff.buffer = *o.buffer
	}
	if o.share != nil {
		eff.share = *o.share
	}
	if o.maxQty != nil {
		eff.maxQty = o.maxQty
	}
	if o.endAt != nil {
		eff.endAt = o.endAt
	}
	return &eff
}

// skuChannels: the channels with a channel policy, plus those the SKU's
// overrides name (DECISIONS.md part 2), sorted.
func (m *Model) skuChannels(st *skuState) []string {
	set := map[string]bool{}
	for ch := range m.policies {
		set[ch] = true
	}
	for ch := range st.overrides {
		set[ch] = true
	}
	return sortedKeys(set)
}

// eligible: the policy's list, or every location the SKU has if the list is
// empty. Listed locations the SKU does not have hold no stock, so they are
// left out.
func (st *skuState) eligible(pol *channelPolicy) []string {
	if len(pol.locations) == 0 {
		return sortedKeys(st.locs)
	}
	var out []string
	for _, l := range pol.locations {
		if st.locs[l] != nil {
			out = append(out, l)
		}
	}
	return out
}

// listsOverlap: two location lists share a location, or either is empty
// (every location). The lists as written, not only locations the SKU has:
// the rule is about where the channels sell from.
func listsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// overlapUnassigned: sum over d in overlaps(c) of unassigned(d).
func (m *Model) overlapUnassigned(st *skuState, channel string) int64 {
	mine := m.effective(st, channel).locations
	var sum int64
	for d, n := range st.unassigned {
		if d == channel || listsOverlap(mine, m.effective(st, d).locations) {
			sum += n
		}
	}
	return sum
}

func (m *Model) pool(st *skuState, channel string) int64 {
	var sum int64
	for _, l := range st.eligible(m.effective(st, channel)) {
		sum += max(0, st.available(l))
	}
	return sum - m.overlapUnassigned(st, channel)
}

// ats of any channel, with or without a policy (a hold's grantable and a
// listing use part 1's defaults for a channel with neither policy nor
// override).
func (m *Model) ats(st *skuState, channel string) int64 {
	pol := m.effective(st, channel)
	if pol.exclude {
		return 0
	}
	x := m.pool(st, channel) - pol.buffer
	if x <= 0 {
		return 0
	}
	// floor(x * share / 100) without overflowing for large x
	v := (x/100)*pol.share + (x%100)*pol.share/100
	if pol.maxQty != nil && *pol.maxQty < v {
		v = *pol.maxQty
	}
	if pol.endAt != nil && v <= *pol.endAt {
		return 0 // compared after the cap
	}
	return v
}

// heldAt / heldUnassigned: what open holds reserve, so stock alerts can look
// past them.
func (st *skuState) heldAt(loc string) int64 {
	var sum int64
	for _, h := range st.holds {
		if !h.closed && h.location == loc {
			sum += h.open
		}
	}
	return sum
}

// total: sum over all l of max(0, available(l)) - unassigned, the low_stock
// total, computed as if no hold were open (part 2, "Replenishment").
func (st *skuState) total() int64 {
	var sum int64
	for l := range st.locs {
		sum += max(0, st.available(l)+st.heldAt(l))
	}
	return sum - (st.unassignedTotal() - st.heldAt(""))
}

// projected: total plus incoming, as if no hold were open.
func (st *skuState) projected() int64 {
	p := st.total()
	for _, l := range st.locs {
		p += l.incoming
	}
	return p
}
