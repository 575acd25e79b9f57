package schemas

import (
	"math"

	"github.com/stockledger/stockledger/ledger"
)

// firstProblem returns the problem that decisions.md's check order meets
// first in ev, given that field bad was present but malformed (a wrong JSON
// type, a writer type the ledger cannot hold) with reason and detail.
//
// ledger.Validate knows the order but only sees well-formed fields, so it
// is asked about a probe: a copy of ev where bad and every field after it
// hold a valid placeholder (optional ones are absent). Whatever Validate
// then finds lies before bad and wins; if it finds nothing, bad's problem
// is the first. The cross-field checks (zero adjustment, to_location equal
// to location) come after every field check, so the probe keeps them quiet
// without changing any field check's outcome.
func firstProblem(ev *ledger.Event, bad ledger.Field, reason ledger.Reason, detail string) (ledger.Reason, string) {
	if int(ev.Type) >= len(current.events) || current.events[ev.Type] == nil {
		return reason, detail
	}
	probe := *ev
	after := false
	for _, f := range current.events[ev.Type].fields {
		if f.slot.field() == bad {
			after = true
		}
		if after {
			placeholder(&probe, f)
		}
	}
	if probe.Type == ledger.TypeAdjustment && probe.OnHandDelta == 0 && probe.UnavailableDelta == 0 {
		probe.OnHandDelta = 1 // 0 and 1 are both in range
	}
	if probe.Type == ledger.TypeTransferOut && probe.Location == probe.ToLocation {
		// Equal codes are equally valid: if they are invalid, location's
		// check fails first anyway.
		probe.ToLocation = "p"
		if probe.Location == "p" {
			probe.ToLocation = "q"
		}
	}
	if r, d := ledger.Validate(&probe); r != ledger.ReasonNone {
		return r, d
	}
	return reason, detail
}

// placeholder makes field f of ev valid: absent when optional, else present
// with a value every check accepts.
//
// sku is the exception: where the schema lets it be null (an unresolved
// listing), its absence is itself a problem (missing sku, or
// unresolved_listing), which must not be blamed on a field checked before
// it; so it gets a valid value like a required field.
func placeholder(ev *ledger.Event, f readerField) {
	bit := f.slot.field()
	if (f.optional || f.hasDef) && f.slot != sSKU {
		ev.Has &^= bit
		return
	}
	ev.Has |= bit
	switch slotKinds[f.slot] {
	case valString:
		setString(ev, f.slot, "p")
	case valLong:
		switch f.slot {
		case sQty, sOnHandDelta, sSharePct:
			setLong(ev, f.slot, 1)
		case sCounted, sBuffer:
			setLong(ev, f.slot, 0)
		case sExpiresAt:
			// After occurred_at (a field before it, already final) and
			// well within the 7 days a hold may last.
			if ev.OccurredAt < math.MaxInt64 {
				ev.ExpiresAt = ev.OccurredAt + 1
			}
		}
	case valLocQtys:
		ev.SafetyStock = nil
	case valStrings:
		ev.Locations = nil
	}
}
