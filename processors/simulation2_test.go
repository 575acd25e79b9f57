package processors

// Part 2 (ledger-semantics-2.md) in the deterministic simulation: on some
// seeds the stream is the generator's part 2 mix (holds, their releases,
// conversions and expiries on clock events, listings, per-SKU overrides,
// transfers closed short, reorder_due), and the checks of
// simulation_test.go grow to cover it:
//   - hold results against the model's, counted as alerts are (repeats
//     allowed), and with processor mode and every write synced no hold
//     result's version going down per sku/hold_id;
//   - listing updates keyed channel/sku/listing_sku: the last value seen
//     of each is the model's (0 for a listing the model no longer has);
//   - every stored SKU's per-channel unassigned, open holds, listings,
//     sold28 and projected against the model's.
//
// The simulation folds one partition, so a clock record (like a policy)
// is simply in it: there is no other partition to broadcast it to. Every
// reopen and every new Folder starts a cold ledger.Fold whose expiry index
// is rebuilt from the store at its first clock (ledger.Fold.loadExpiry);
// "cold clocks" counts the clocks folded so while the store had open holds.

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
)

// drawPart2 chooses, on about half the seeds, part 2's mix with a clock
// every few events (few enough that holds of 1 to 30 minutes expire on
// streams of one-second steps too).
func drawPart2(r *rand.Rand, c *simConfig) {
	if r.IntN(2) == 0 {
		return
	}
	c.gen.Part2 = true
	c.gen.ClockEvery = pick(r, 7, 25, 60, 200)
}

// part2Outputs is what the simulation saw of part 2's outputs.
type part2Outputs struct {
	holds       map[string]int    // keys.HoldResult -> times returned or published
	holdVer     map[string]uint64 // sku/hold_id -> last version seen
	holdsShrank []string          // hold results whose version went down
}

func newPart2Outputs() part2Outputs {
	return part2Outputs{holds: map[string]int{}, holdVer: map[string]uint64{}}
}

func (o *part2Outputs) addHoldResults(hs []ledger.HoldResult) {
	for i := range hs {
		h := &hs[i]
		k := h.SKU + "/" + h.HoldID
		if v, ok := o.holdVer[k]; ok && h.Version < v && len(o.holdsShrank) < 10 {
			o.holdsShrank = append(o.holdsShrank, fmt.Sprintf("%s: version %d (%s) after %d", k, h.Version, h.Status, v))
		}
		o.holdVer[k] = h.Version
		o.holds[keys.HoldResult(h)]++
	}
}

// updateKey is the output key of an update: channel/sku, or
// channel/sku/listing_sku for a listing's.
func updateOutputKey(channel, sku, listing string) string {
	if listing == "" {
		return channel + "/" + sku
	}
	return channel + "/" + sku + "/" + listing
}

// modelListings is the model's value of every active listing, keyed as
// its updates are (channel/sku/listing_sku).
func modelListings(m *specmodel.Model) map[string]int64 {
	out := map[string]int64{}
	for _, name := range m.SKUs() {
		w, _ := m.SKU(name)
		for k, v := range w.Listings {
			ch, l, _ := strings.Cut(k, "/")
			out[updateOutputKey(ch, name, l)] = v
		}
	}
	return out
}

// ledgerListingValue is the value consumers must hold for a listing key
// after the ledger published it: the listing's, or 0 once it is removed.
func ledgerListingValue(sk *ledger.SKU, channel, listing string) int64 {
	if l := sk.Listing(channel, listing); l != nil {
		return int64(l.Published)
	}
	return 0
}

// diffLatestListings lists the listing keys whose last value seen is not
// the model's at the same offset: every active listing of the model, and
// 0 for every listing seen that the model no longer has.
func diffLatestListings(m *specmodel.Model, last map[string]int64, isListing map[string]bool) []string {
	var diffs []string
	want := modelListings(m)
	for k, v := range want {
		if g, ok := last[k]; !ok || g != v {
			diffs = append(diffs, fmt.Sprintf("listing %s: last seen %d (present %v), model %d", k, g, ok, v))
		}
	}
	for k := range isListing {
		if _, ok := want[k]; !ok && last[k] != 0 {
			diffs = append(diffs, fmt.Sprintf("listing %s: last seen %d, the model has no such listing (0)", k, last[k]))
		}
	}
	return diffs
}

// diffPart2State names the first difference between a stored SKU and the
// model's view of it in part 2's state (keys.DiffPart2), sold28 included
// (p: the stored partition, whose clock ends the sales window).
func diffPart2State(p *ledger.Partition, s *ledger.SKU, w *specmodel.SKUView) string {
	if d := keys.DiffPart2(s, w); d != "" {
		return d
	}
	if int64(p.Sold28(s)) != w.Sold28 {
		return fmt.Sprintf("sold28 %d, model %d", p.Sold28(s), w.Sold28)
	}
	return ""
}

// compareHoldResults adds the differences between the hold results seen
// and the model's: each of the model's at least as often (unless its
// event's outputs were lost with a failed Fold that committed anyway),
// none it lacks, and, when no output can be published twice, no version
// going down.
func (s *sim) compareHoldResults(m *specmodel.Model, add func(string, ...any)) {
	want, optional := map[string]int{}, map[string]bool{}
	for _, h := range m.HoldResults() {
		k := keys.ModelHoldResult(&h)
		want[k]++
		optional[k] = optional[k] || s.unobserved[h.CauseEventID]
	}
	compareCounts("hold result", want, optional, s.p2.holds, add)
	if s.c.processor && s.c.syncPct == 100 {
		for _, r := range s.p2.holdsShrank {
			add("hold result version went down: %s", r)
		}
	}
}

// noteColdClock counts the first clock of records [from, to) when the
// Folder is cold (it has folded no clock since it started) and the store
// holds open holds: that clock's expiries come from the index read back.
func (s *sim) noteColdClock(from, to int64) {
	if s.warm || !s.c.gen.Part2 {
		return
	}
	for _, e := range s.evs[from:to] {
		if !e.clock {
			continue
		}
		s.warm = true
		if s.modelOpenHolds(from) > 0 {
			s.stats["cold clocks with open holds"]++
		}
		return
	}
}

// modelOpenHolds counts the model's open holds after events [0, next).
func (s *sim) modelOpenHolds(next int64) int {
	m := s.modelAt(next)
	n := 0
	for _, name := range m.SKUs() {
		w, _ := m.SKU(name)
		n += w.OpenHolds
	}
	return n
}

// diffPolicies compares the partition's channel policies with the model's
// after events [0, next). A SKU's channels are not the policies' (part 2:
// its overrides add channels), and the model does not show its policies:
// a model fed only the policy events shows them as the channels of a SKU
// with no override.
func (s *sim) diffPolicies(p *ledger.Partition, next int64) string {
	m := specmodel.New()
	for _, e := range s.evs[:next] {
		if e.policy {
			m.Apply(e.model)
		}
	}
	m.Apply([]byte(`{"event_id":"probe","type":"sku_policy","sku":"PROBE","occurred_at":"2026-11-27T08:00:00Z","safety_stock":{"dc-east":1}}`))
	w, ok := m.SKU("PROBE")
	if !ok {
		return "the probe SKU is unknown to the model (its event is refused)"
	}
	got := map[string]bool{}
	for _, c := range p.Channels {
		got[c.Channel] = true
	}
	if len(got) != len(w.Channels) || !maps.EqualFunc(got, w.Channels, func(bool, int64) bool { return true }) {
		return fmt.Sprintf("channel policies %v, model %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(w.Channels)))
	}
	return ""
}
