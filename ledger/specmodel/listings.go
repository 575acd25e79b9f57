package specmodel

// Per-SKU channel overrides and listings (ledger-semantics-2.md, "Channel
// thresholds and per-SKU overrides", "Listings"), and publishing a SKU's
// channel and listing updates.

import "sort"

// skuChannelPolicy replaces the SKU's override of the channel whole; one
// with only channel removes it.
func skuChannelPolicy(st *skuState, ev event) {
	if !ev.hasOverrideFields {
		delete(st.overrides, ev.channel)
		return
	}
	o := ev.override
	st.overrides[ev.channel] = &o
}

// listing adds, changes or removes one of the SKU's listings. Removing one
// it does not have changes nothing.
func listing(st *skuState, ev event) {
	k := listingKey{ev.channel, ev.listingSKU}
	if ev.active {
		st.listings[k] = ev.units
		return
	}
	if _, ok := st.listings[k]; ok {
		delete(st.listings, k)
		st.removedListings = append(st.removedListings, k)
	}
}

// listingValue: floor(ats(channel) / units); ats is never negative.
func (m *Model) listingValue(st *skuState, k listingKey) int64 {
	return m.ats(st, k.channel) / st.listings[k]
}

// publish emits the SKU's channel updates, in channel order, then its
// listing updates, in (channel, listing_sku) order: each where the value is
// new or changed. A channel that stopped being the SKU's (its override
// removed, no channel policy) and a removed listing publish 0 once and are
// forgotten, so coming back is first known again (previous null).
func (m *Model) publish(sku string, st *skuState, cause string) {
	chans := map[string]bool{}
	for _, ch := range m.skuChannels(st) {
		chans[ch] = true
	}
	all := map[string]bool{}
	for ch := range st.published {
		all[ch] = true
	}
	for ch := range chans {
		all[ch] = true
	}
	for _, ch := range sortedKeys(all) {
		u := Update{Channel: ch, SKU: sku, Version: st.version, CauseEventID: cause}
		if chans[ch] {
			u.Available = m.ats(st, ch)
		}
		prev, known := st.published[ch]
		if known {
			u.Previous = ptr(prev)
		}
		switch {
		case !chans[ch]:
			delete(st.published, ch)
		case known && prev == u.Available:
			continue
		default:
			st.published[ch] = u.Available
		}
		m.updates = append(m.updates, u)
	}
	m.publishListings(sku, st, cause)
}

func (m *Model) publishListings(sku string, st *skuState, cause string) {
	keys := append([]listingKey(nil), st.removedListings...)
	for k := range st.listings {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].channel != keys[j].channel {
			return keys[i].channel < keys[j].channel
		}
		return keys[i].listingSKU < keys[j].listingSKU
	})
	for _, k := range keys {
		u := Update{Channel: k.channel, SKU: sku, ListingSKU: k.listingSKU, Version: st.version, CauseEventID: cause}
		_, active := st.listings[k]
		if active {
			u.Available = m.listingValue(st, k)
		}
		prev, known := st.listingsPub[k]
		if known {
			u.Previous = ptr(prev)
		}
		switch {
		case !active:
			delete(st.listingsPub, k)
		case known && prev == u.Available:
			continue
		default:
			st.listingsPub[k] = u.Available
		}
		m.updates = append(m.updates, u)
	}
	st.removedListings = nil
}
