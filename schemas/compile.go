package schemas

import (
	"github.com/stockledger/stockledger/ledger"
)

// An eventProgram decodes bodies written with one writer schema of an event
// type straight into a ledger.Event: one op per writer field, in the
// writer's order. It is Avro schema resolution done once, at registration:
// writer fields the reader (the current schema) lacks become skips, fields
// the writer lacks take the reader's default, and a writer type the ledger
// field cannot hold becomes a skip that marks the field malformed.
type eventProgram struct {
	reader   *readerEvent
	ops      []op
	defaults []readerField // reader fields the writer lacks, with a non-null default
}

type opcode uint8

const (
	opSkip        opcode = iota // a field the reader does not know: read past it
	opBad                       // a type the ledger field cannot hold: read past it, mark the field
	opNull                      // a null union branch: the field is absent
	opString                    // string or bytes into a string field
	opLong                      // long into an integer field
	opInt                       // int into an integer field (promotion)
	opBool                      // boolean
	opMapLong                   // map<long> into SafetyStock
	opMapInt                    // map<int> into SafetyStock
	opArrayString               // array<string|bytes> into Locations
	opUnion                     // read the branch index, then run that branch's op
)

// op decodes one writer field (or one branch of a union field).
type op struct {
	code     opcode
	slot     slot
	intern   bool      // intern strings of this field (low-cardinality codes)
	name     string    // the writer's field name, for details
	t        *avroType // the writer's type
	branches []op      // opUnion: one op per branch
}

// compileEvent resolves writer schema w (a record) against the current
// schema rd of the same name.
func compileEvent(w *avroType, rd *readerEvent) *eventProgram {
	p := &eventProgram{reader: rd}
	var written [numSlots]bool
	for _, f := range w.fields {
		s, known := slotByName[f.name]
		if !known || !rd.has(s) || written[s] {
			p.ops = append(p.ops, op{code: opSkip, name: f.name, t: f.typ})
			continue
		}
		written[s] = true
		if f.typ.kind == kindUnion {
			o := op{code: opUnion, slot: s, name: f.name, t: f.typ}
			for _, b := range f.typ.branches {
				o.branches = append(o.branches, compileValue(b, s, f.name))
			}
			p.ops = append(p.ops, o)
			continue
		}
		p.ops = append(p.ops, compileValue(f.typ, s, f.name))
	}
	for _, rf := range rd.fields {
		if !written[rf.slot] && rf.hasDef {
			p.defaults = append(p.defaults, rf)
		}
	}
	return p
}

// compileValue picks the op reading a value of writer type t into slot s,
// following Avro's promotion rules (int to long, bytes to string). A null
// is an absent field, as in the JSON form.
func compileValue(t *avroType, s slot, name string) op {
	o := op{code: opBad, slot: s, name: name, t: t, intern: internSlots[s]}
	timeOK := !s.isTime() || t.logical == "" || t.logical == "timestamp-micros"
	switch k := t.kind; {
	case k == kindNull:
		o.code = opNull
	case slotKinds[s] == valString && (k == kindString || k == kindBytes):
		o.code = opString
	case slotKinds[s] == valLong && k == kindLong && timeOK:
		o.code = opLong
	case slotKinds[s] == valLong && k == kindInt && timeOK:
		o.code = opInt
	case slotKinds[s] == valBool && k == kindBoolean:
		o.code = opBool
	case slotKinds[s] == valLocQtys && k == kindMap && t.values.kind == kindLong:
		o.code = opMapLong
	case slotKinds[s] == valLocQtys && k == kindMap && t.values.kind == kindInt:
		o.code = opMapInt
	case slotKinds[s] == valStrings && k == kindArray && (t.items.kind == kindString || t.items.kind == kindBytes):
		o.code = opArrayString
	}
	return o
}

// badDetail explains why field f could not be read.
func (p *eventProgram) badDetail(f ledger.Field) string {
	for i := range p.ops {
		if o := &p.ops[i]; o.code != opSkip && o.slot.field() == f {
			return o.name + " has writer type " + o.t.describe() + ", which the ledger field cannot hold"
		}
	}
	return f.String() + " is malformed"
}

// applyDefaults sets the reader's defaults for fields the writer lacks.
func (p *eventProgram) applyDefaults(ev *ledger.Event) {
	for i := range p.defaults {
		d := &p.defaults[i]
		switch slotKinds[d.slot] {
		case valString:
			setString(ev, d.slot, d.defStr)
		case valLong:
			setLong(ev, d.slot, d.defLong)
		case valBool:
			setBool(ev, d.slot, d.defBool)
		}
		ev.Has |= d.slot.field()
	}
}

func setString(ev *ledger.Event, s slot, v string) {
	switch s {
	case sEventID:
		ev.ID = v
	case sSKU:
		ev.SKU = v
	case sSource:
		ev.Source = v
	case sLocation:
		ev.Location = v
	case sToLocation:
		ev.ToLocation = v
	case sChannel:
		ev.Channel = v
	case sPOID:
		ev.POID = v
	case sOrderID:
		ev.OrderID = v
	case sTransferID:
		ev.TransferID = v
	case sReason:
		ev.Reason = v
	case sHoldID:
		ev.HoldID = v
	case sListingSKU:
		ev.ListingSKU = v
	}
}

func setLong(ev *ledger.Event, s slot, v int64) {
	switch s {
	case sOccurredAt:
		ev.OccurredAt = v
	case sQty:
		ev.Qty = ledger.Qty(v)
	case sCounted:
		ev.Counted = ledger.Qty(v)
	case sOnHandDelta:
		ev.OnHandDelta = ledger.Qty(v)
	case sUnavailableDelta:
		ev.UnavailableDelta = ledger.Qty(v)
	case sReorderPoint:
		ev.ReorderPoint = ledger.Qty(v)
	case sBuffer:
		ev.Buffer = ledger.Qty(v)
	case sSharePct:
		ev.SharePct = v
	case sMaxQty:
		ev.MaxQty = ledger.Qty(v)
	case sExpiresAt:
		ev.ExpiresAt = v
	case sUnits:
		ev.Units = ledger.Qty(v)
	case sEndAt:
		ev.EndAt = ledger.Qty(v)
	case sLeadTimeDays:
		ev.LeadTimeDays = v
	}
}

func setBool(ev *ledger.Event, s slot, v bool) {
	switch s {
	case sResellable:
		ev.Resellable = v
	case sAllowPartial:
		ev.AllowPartial = v
	case sActive:
		ev.Active = v
	case sExclude:
		ev.Exclude = v
	}
}

// getString, getLong and getBool read a slot back (encoders and the JSON form).
func getString(ev *ledger.Event, s slot) string {
	switch s {
	case sEventID:
		return ev.ID
	case sSKU:
		return ev.SKU
	case sSource:
		return ev.Source
	case sLocation:
		return ev.Location
	case sToLocation:
		return ev.ToLocation
	case sChannel:
		return ev.Channel
	case sPOID:
		return ev.POID
	case sOrderID:
		return ev.OrderID
	case sTransferID:
		return ev.TransferID
	case sReason:
		return ev.Reason
	case sHoldID:
		return ev.HoldID
	case sListingSKU:
		return ev.ListingSKU
	}
	return ""
}

func getLong(ev *ledger.Event, s slot) int64 {
	switch s {
	case sOccurredAt:
		return ev.OccurredAt
	case sQty:
		return int64(ev.Qty)
	case sCounted:
		return int64(ev.Counted)
	case sOnHandDelta:
		return int64(ev.OnHandDelta)
	case sUnavailableDelta:
		return int64(ev.UnavailableDelta)
	case sReorderPoint:
		return int64(ev.ReorderPoint)
	case sBuffer:
		return int64(ev.Buffer)
	case sSharePct:
		return ev.SharePct
	case sMaxQty:
		return int64(ev.MaxQty)
	case sExpiresAt:
		return ev.ExpiresAt
	case sUnits:
		return int64(ev.Units)
	case sEndAt:
		return int64(ev.EndAt)
	case sLeadTimeDays:
		return ev.LeadTimeDays
	}
	return 0
}

func getBool(ev *ledger.Event, s slot) bool {
	switch s {
	case sResellable:
		return ev.Resellable
	case sAllowPartial:
		return ev.AllowPartial
	case sActive:
		return ev.Active
	case sExclude:
		return ev.Exclude
	}
	return false
}
