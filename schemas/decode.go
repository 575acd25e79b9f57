package schemas

import (
	"encoding/binary"
	"strconv"

	"github.com/stockledger/stockledger/ledger"
)

// DecodeEvent decodes an event, single-object encoded or in the Confluent
// wire format (see confluent.go), into ev (reset first; its slices are
// reused, so do not keep them past the next decode). It returns
// ledger.ReasonNone on success, and otherwise
//
//   - ReasonUndecodable: bad framing, or a body that is truncated, garbled or
//     followed by extra bytes;
//   - ReasonUnknownSchema: a fingerprint the registry does not know, or a
//     schema id the schema registry does not have;
//   - ReasonUnknownType: a schema that is not an event record;
//   - ReasonInvalidField (or the first problem in decisions.md's check
//     order before it): a writer field of a type the ledger field cannot
//     hold.
//
// On failure ev keeps what was read before the problem (Has says which), so
// a dead letter can name the event_id and sku. It does not run
// ledger.Validate: the caller does. A Decoder is faster (it caches schemas
// and interns codes); DecodeEvent allocates only the strings.
//
// An error says nothing of the event: the schema registry could not be
// asked about its Confluent schema id (unreachable, timeout, server
// error). The reason is then ReasonUnknownSchema, but the event must not
// become a dead letter; the caller decodes it again later.
func (r *Registry) DecodeEvent(b []byte, ev *ledger.Event) (ledger.Reason, string, error) {
	return r.decodeFramed(b, ev, nil)
}

// decodeFramed is DecodeEvent interning codes through in (nil: none).
func (r *Registry) decodeFramed(b []byte, ev *ledger.Event, in *interner) (ledger.Reason, string, error) {
	e, hdr, reason, detail, err := r.frame(b)
	if reason != ledger.ReasonNone {
		ev.Reset()
		return reason, detail, err
	}
	reason, detail = decodeBody(e, b, hdr, ev, in)
	return reason, detail, nil
}

// DecoderConfig configures a Decoder. The zero value is ready to use.
type DecoderConfig struct {
	// InternMaxStrings bounds the distinct codes (location, to_location,
	// channel, source, adjustment reason, safety_stock keys, locations
	// entries) a Decoder keeps to hand out again without allocating; the
	// table is emptied when full. Default 4096; negative turns interning off.
	InternMaxStrings int
	// InternMaxBytes is the longest string interned, in bytes. Default 128.
	InternMaxBytes int
	// SKU, when set, gives the string for an event's sku from its bytes
	// (valid only during the call): a caller that holds its SKUs' names
	// returns the one it holds, and the event allocates no string for its
	// sku. It must return a string equal to b.
	SKU func(b []byte) string
}

// Decoder decodes events for one goroutine: it caches the schemas it has
// seen and interns low-cardinality codes, so an event whose codes were seen
// before allocates only its event_id, sku and ids. It is not safe for
// concurrent use; make one per goroutine with Registry.NewDecoder.
type Decoder struct {
	reg   *Registry
	cache [64]cached // direct-mapped by fingerprint
	in    *interner
}

// NewDecoder returns a Decoder reading schemas from r.
func (r *Registry) NewDecoder(c DecoderConfig) *Decoder {
	d := &Decoder{reg: r, in: &interner{sku: c.SKU}}
	if c.InternMaxStrings >= 0 {
		d.in.m, d.in.maxStrings, d.in.maxBytes = map[string]string{}, c.InternMaxStrings, c.InternMaxBytes
		if d.in.maxStrings == 0 {
			d.in.maxStrings = 4096
		}
		if d.in.maxBytes <= 0 {
			d.in.maxBytes = 128
		}
	}
	return d
}

// Decode is Registry.DecodeEvent with the Decoder's cache and interner,
// and the same results (an error: the schema registry could not be asked).
// Single-object messages take the fast path; Confluent-framed ones (first
// byte 0) look their schema id up in the registry's id table, asking the
// schema registry once per id.
func (d *Decoder) Decode(b []byte, ev *ledger.Event) (ledger.Reason, string, error) {
	if len(b) < soeHeaderLen || b[0] != 0xC3 || b[1] != 0x01 {
		return d.reg.decodeFramed(b, ev, d.in) // Confluent, or the registry words the problem
	}
	e := d.single(b)
	if e == nil {
		return d.reg.DecodeEvent(b, ev) // the registry words the problem
	}
	reason, detail := decodeBody(e, b, soeHeaderLen, ev, d.in)
	return reason, detail, nil
}

// single returns the schema of single-object message b (its header
// checked by the caller) through the cache, or nil when the registry does
// not know its fingerprint.
func (d *Decoder) single(b []byte) *entry {
	fp := binary.LittleEndian.Uint64(b[2:])
	c := &d.cache[(fp^fp>>32)&63]
	if c.e == nil || c.fp != fp {
		e := d.reg.lookup(fp)
		if e == nil {
			return nil
		}
		c.fp, c.e = fp, e
	}
	return c.e
}

// PeekSKU returns the bytes of an event's sku (valid while b is) without
// decoding the rest, reading past the writer fields before it. It never
// asks a schema registry: ok is false when it cannot tell cheaply (a
// fingerprint or Confluent schema id the registry does not hold yet, a
// type without a sku (channel_policy, clock), a null sku, a writer sku
// that is neither a string nor a union holding one, or bytes that do not
// read). When ok, Decode of b gives this sku or fails (a dead letter).
func (d *Decoder) PeekSKU(b []byte) ([]byte, bool) {
	var e *entry
	hdr := soeHeaderLen
	switch {
	case len(b) >= confluentHeaderLen && b[0] == confluentMagic:
		e, hdr = d.reg.byID(binary.BigEndian.Uint32(b[1:])), confluentHeaderLen
	case len(b) >= soeHeaderLen && b[0] == 0xC3 && b[1] == 0x01:
		e = d.single(b)
	}
	if e == nil || e.event == nil {
		return nil, false
	}
	p := e.event
	r := reader{b: b, i: hdr}
	for i := range p.ops {
		o := &p.ops[i]
		if o.code == opSkip || o.slot != sSKU {
			if !r.skip(o.t) {
				return nil, false
			}
			continue
		}
		if o.code == opUnion { // ["null", "string"]: the types that take a listing_sku
			j, ok := r.index(len(o.branches))
			if !ok {
				return nil, false
			}
			o = &o.branches[j]
		}
		if o.code != opString {
			return nil, false // null: an unresolved listing, a dead letter
		}
		return r.bytes()
	}
	return nil, false
}

// cached is a Decoder's cache slot: a fingerprint and its schema (which may
// know it under another fingerprint: goavro's alias).
type cached struct {
	fp uint64
	e  *entry
}

// interner hands out one string per distinct code (m nil: interning off),
// and the sku through the caller's function when it gave one.
type interner struct {
	// recent holds strings handed out lately, direct-mapped by a cheap
	// hash of their bytes: a handful of codes make up most events, and a
	// hit costs one compare instead of a map lookup's hashing and probing.
	recent     [64]string
	m          map[string]string
	maxStrings int
	maxBytes   int
	sku        func([]byte) string
}

// str returns the string of b, the value of a string field of op o.
func (in *interner) str(o *op, b []byte) string {
	switch {
	case in == nil:
	case o.intern && in.m != nil:
		return in.get(b)
	case o.slot == sSKU && in.sku != nil:
		return in.sku(b)
	}
	return string(b)
}

func (in *interner) get(b []byte) string {
	if len(b) > in.maxBytes {
		return string(b)
	}
	var h uint
	if n := len(b); n > 0 {
		h = uint(n)*37 + uint(b[0])*11 + uint(b[n/2])*3 + uint(b[n-1])
	}
	r := &in.recent[h%uint(len(in.recent))]
	if *r == string(b) {
		return *r
	}
	s, ok := in.m[string(b)] // no allocation: the compiler sees the lookup
	if !ok {
		if len(in.m) >= in.maxStrings {
			clear(in.m)
		}
		s = string(b)
		in.m[s] = s
	}
	*r = s
	return s
}

// decodeBody runs e's program on the body of message b, which starts
// after a header of hdr bytes.
func decodeBody(e *entry, b []byte, hdr int, ev *ledger.Event, in *interner) (ledger.Reason, string) {
	ev.Reset()
	p := e.event
	if p == nil {
		ev.Has = ledger.FieldType // a type, just not an event's
		return ledger.ReasonUnknownType, "schema " + e.describe() + " is not an event type"
	}
	ev.Type, ev.Has = p.reader.typ, ledger.FieldType
	r := reader{b: b, i: hdr}
	for i := range p.ops {
		if !r.field(&p.ops[i], ev, in) {
			return ledger.ReasonUndecodable, e.name + " field " + p.ops[i].name + ": " + r.problem
		}
	}
	if r.i != len(b) {
		return ledger.ReasonUndecodable, strconv.Itoa(len(b)-r.i) + " bytes after the end of the " + e.name + " record"
	}
	p.applyDefaults(ev)
	if r.bad != 0 {
		bad := earliest(p.reader, r.bad)
		return firstProblem(ev, bad, ledger.ReasonInvalidField, p.badDetail(bad))
	}
	return ledger.ReasonNone, ""
}

// field runs op o: reads one writer field into ev.
func (r *reader) field(o *op, ev *ledger.Event, in *interner) bool {
	switch o.code {
	case opString:
		b, ok := r.bytes()
		if !ok {
			return false
		}
		setString(ev, o.slot, in.str(o, b))
	case opLong:
		v, ok := r.long()
		if !ok {
			return false
		}
		setLong(ev, o.slot, v)
	case opInt:
		v, ok := r.int()
		if !ok {
			return false
		}
		setLong(ev, o.slot, int64(v))
	case opBool:
		v, ok := r.boolean()
		if !ok {
			return false
		}
		setBool(ev, o.slot, v)
	case opUnion:
		i, ok := r.index(len(o.branches))
		return ok && r.field(&o.branches[i], ev, in)
	case opNull:
		return true
	case opSkip:
		return r.skip(o.t)
	case opBad:
		r.bad |= o.slot.field()
		return r.skip(o.t)
	case opMapLong, opMapInt:
		if !r.safetyStock(o.code == opMapInt, ev, in) {
			return false
		}
	case opArrayString:
		if !r.locations(ev, in) {
			return false
		}
	}
	ev.Has |= o.slot.field()
	return true
}

// safetyStock reads a map of units by location, in the writer's order.
func (r *reader) safetyStock(intValues bool, ev *ledger.Event, in *interner) bool {
	for {
		n, ok := r.blockCount(2) // a key length and a value, at least
		if !ok {
			return false
		}
		if n == 0 {
			return true
		}
		for range n {
			k, ok := r.bytes()
			if !ok {
				return false
			}
			if r.duplicate(ev.SafetyStock, k) {
				return r.fail("duplicate map key " + strconv.Quote(string(k)))
			}
			var q int64
			if intValues {
				var v int32
				v, ok = r.int()
				q = int64(v)
			} else {
				q, ok = r.long()
			}
			if !ok {
				return false
			}
			ev.SafetyStock = append(ev.SafetyStock, ledger.LocQty{Location: intern(in, k), Qty: ledger.Qty(q)})
		}
	}
}

// duplicate reports whether k is already a key of entries: a scan while
// the map is small, a set once it is not.
func (r *reader) duplicate(entries []ledger.LocQty, k []byte) bool {
	const scanMax = 16
	if len(entries) < scanMax {
		for i := range entries {
			if entries[i].Location == string(k) {
				return true
			}
		}
		return false
	}
	if r.seen == nil {
		r.seen = make(map[string]struct{}, 2*len(entries))
		for i := range entries {
			r.seen[entries[i].Location] = struct{}{}
		}
	}
	if _, dup := r.seen[string(k)]; dup {
		return true
	}
	r.seen[string(k)] = struct{}{}
	return false
}

// locations reads an array of location codes.
func (r *reader) locations(ev *ledger.Event, in *interner) bool {
	for {
		n, ok := r.blockCount(1)
		if !ok {
			return false
		}
		if n == 0 {
			return true
		}
		for range n {
			b, ok := r.bytes()
			if !ok {
				return false
			}
			ev.Locations = append(ev.Locations, intern(in, b))
		}
	}
}

func intern(in *interner, b []byte) string {
	if in == nil || in.m == nil {
		return string(b)
	}
	return in.get(b)
}

// earliest returns the field of set that decisions.md's check order (the
// current schema's field order) reaches first.
func earliest(rd *readerEvent, set ledger.Field) ledger.Field {
	for _, f := range rd.fields {
		if set&f.slot.field() != 0 {
			return f.slot.field()
		}
	}
	return set & -set
}
