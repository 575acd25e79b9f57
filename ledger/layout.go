package ledger

import (
	"encoding/binary"
	"fmt"
)

// The persisted form of a SKU.
//
// A small SKU is persisted whole, in its canonical encoding (AppendBinary),
// under its state key. A SKU that remembers many records and ids (a best
// seller keeps thousands of closed orders and event ids for the retention)
// is split, so a batch writes what it changed rather than the whole state:
//
//	state key: the core (format 3): the range [first, next) of its parts,
//	           the position of the oldest remembered id, scalars,
//	           locations and published values
//	part first:        a base: every record and remembered id
//	parts first+1...:  deltas: the records each later batch changed (or
//	                   forgot) and the ids it added
//
// Once the deltas outweigh the base (or there are maxParts of them), the
// next batch writes a new base at a new sequence number, then the core,
// then deletes the old parts. Parts are never overwritten, so a reader of
// the writes in order (the changelog, which has no transactions without
// exactly-once) never sees a core whose parts are missing: a crash between
// them leaves the previous core, whose parts are still there.
//
// Ids carry positions in the SKU's sequence of applied ids (IDWindow's
// evicted count), so a reader keeps exactly the ids the window kept.

// IsSplit reports whether state, the value of a SKU's state key, is a
// split SKU's core (of part 2's format or part 1's).
func IsSplit(state []byte) bool {
	return len(state) > 0 && (state[0] == coreFormat || state[0] == coreFormat1)
}

const (
	coreFormat  = 5
	coreFormat1 = 3 // part 1's, still read

	splitAbove  = 64 // records and ids past which a SKU is split
	inlineBelow = 16 // ... under which a split SKU is written whole again
	maxParts    = 1024
	minLogBytes = 16 << 10

	partBase  = 'B'
	partDelta = 'D'
)

// layout is where a SKU's persisted form lives (derived, not encoded in the
// canonical form).
type layout struct {
	split       bool
	first, next uint32 // parts [first, next) when split
	baseBytes   int
	logBytes    int
	idsDone     uint64 // ids at positions below this are persisted
}

// StateWriter receives the writes that persist one SKU, in the order they
// must be applied by a reader that is not atomic. Values are not reused,
// unless the writer lends its own buffer (valueBuffer).
type StateWriter interface {
	PutState(v []byte)            // the SKU's state key
	PutPart(seq uint32, v []byte) // part seq
	DeletePart(seq uint32)        // part seq is no longer needed
}

// A StateWriter may lend Persist a buffer (valueBuffer): Persist then
// appends each value after what the buffer holds, and leaves the grown
// buffer there, instead of allocating each value. A writer that copies each
// value before the call returns (a store's batch) lends its buffer emptied;
// one that keeps the values lends its arena as it is, so a value handed out
// is never written over.
type valueBuffer interface {
	ValueBuffer() *[]byte
}

// HoldIndexer is a StateWriter that also keeps an index of open holds by
// expiry (a store's, for ledger.HoldLoader): Persist tells it of each hold
// that opened (open) or closed since the SKU was last persisted.
type HoldIndexer interface {
	HoldIndex(expiresAt int64, holdID string, open bool)
}

// indexHolds tells w (when it is a HoldIndexer) of the holds whose key the
// index must gain or lose: of those changed since the last Persist (all of
// them, after an overflow), the open ones it lacks and the closed ones it
// has.
func (s *SKU) indexHolds(w StateWriter) {
	hx, ok := w.(HoldIndexer)
	switch {
	case !ok:
	case s.holdLost:
		for id := range s.Holds {
			s.indexHold(hx, id)
		}
	default:
		for _, id := range s.holdChg {
			s.indexHold(hx, id)
		}
	}
	s.holdChg, s.holdLost = s.holdChg[:0], false
}

func (s *SKU) indexHold(hx HoldIndexer, id string) {
	h, ok := s.Holds[id]
	if !ok || h.indexed == !h.Closed {
		return
	}
	h.indexed = !h.Closed
	hx.HoldIndex(h.ExpiresAt, id, h.indexed)
	s.Holds[id] = h
}

// scratch returns the free space after w's buffer, or nil.
func scratch(w StateWriter) []byte {
	if b, ok := w.(valueBuffer); ok {
		buf := *b.ValueBuffer()
		return buf[len(buf):]
	}
	return nil
}

// written hands v, just given to w, back as w's buffer.
func written(w StateWriter, v []byte) {
	if b, ok := w.(valueBuffer); ok {
		*b.ValueBuffer() = v
	}
}

// records counts what a SKU remembers beyond its core.
func (s *SKU) records() int {
	return len(s.POs) + len(s.Orders) + len(s.Transfers) + len(s.Holds) + s.Seen.Len()
}

// Persist writes what changed in s since it was last persisted or decoded
// to w, and marks s persisted. The writes replace s's previous persisted
// form; applied atomically (or in order), they persist s exactly.
func (s *SKU) Persist(w StateWriter) {
	L := &s.lay
	n := s.records()
	switch {
	case !L.split && n <= splitAbove:
		s.putState(w, s.AppendBinary(scratch(w)))
	case !L.split:
		L.split = true
		s.writeBase(w)
		s.putState(w, s.appendCore(scratch(w)))
	case n < inlineBelow:
		s.putState(w, s.AppendBinary(scratch(w)))
		for q := L.first; q < L.next; q++ {
			w.DeletePart(q)
		}
		L.split, L.first = false, L.next
	default:
		var delta []byte
		if !s.chgLost {
			delta = s.appendDelta(scratch(w))
		}
		if s.chgLost || L.logBytes+len(delta) > L.baseBytes+minLogBytes || L.next-L.first >= maxParts {
			if delta != nil {
				written(w, delta) // not written: only its buffer is kept
			}
			old0, old1 := L.first, L.next
			s.writeBase(w)
			s.putState(w, s.appendCore(scratch(w)))
			for q := old0; q < old1; q++ {
				w.DeletePart(q)
			}
		} else {
			w.PutPart(L.next, delta)
			written(w, delta)
			L.next++
			L.logBytes += len(delta)
			s.putState(w, s.appendCore(scratch(w)))
		}
	}
	s.chg, s.chgLost = s.chg[:0], false
	L.idsDone = s.Seen.next()
	s.indexHolds(w)
}

func (s *SKU) putState(w StateWriter, v []byte) {
	w.PutState(v)
	written(w, v)
}

// writeBase writes a base part at the next sequence number, which becomes
// the first part.
func (s *SKU) writeBase(w StateWriter) {
	L := &s.lay
	v := append(scratch(w), partBase)
	v = binary.AppendUvarint(v, s.Seen.evicted)
	v = appendIDs(v, s.Seen.IDs())
	v = s.appendRecords(v, false)
	w.PutPart(L.next, v)
	written(w, v)
	L.first, L.next = L.next, L.next+1
	L.baseBytes, L.logBytes = len(v), 0
}

func (s *SKU) appendCore(dst []byte) []byte {
	dst = append(dst, coreFormat)
	dst = binary.AppendUvarint(dst, uint64(s.lay.first))
	dst = binary.AppendUvarint(dst, uint64(s.lay.next))
	dst = binary.AppendUvarint(dst, s.Seen.evicted)
	dst = s.appendHead(dst)
	return s.appendPublished(dst)
}

// appendDelta appends the ids added and the records changed since s was
// last persisted.
func (s *SKU) appendDelta(dst []byte) []byte {
	dst = append(dst, partDelta)
	from := max(s.lay.idsDone, s.Seen.evicted)
	dst = binary.AppendUvarint(dst, from)
	dst = appendIDs(dst, s.Seen.since(from))
	dst = binary.AppendUvarint(dst, uint64(len(s.chg)))
	for _, c := range s.chg {
		dst = append(dst, c.kind)
		dst = appendString(dst, c.id)
		switch c.kind {
		case kindPO:
			v, ok := s.POs[c.id]
			if dst = appendBool(dst, ok); ok {
				dst = appendPO(dst, v)
			}
		case kindOrder:
			v, ok := s.Orders[c.id]
			if dst = appendBool(dst, ok); ok {
				dst = appendOrder(dst, v)
			}
		case kindTransfer:
			v, ok := s.Transfers[c.id]
			if dst = appendBool(dst, ok); ok {
				dst = appendTransfer(dst, v)
			}
		case kindHold:
			v, ok := s.Holds[c.id]
			if dst = appendBool(dst, ok); ok {
				dst = appendHold(dst, v)
			}
		}
	}
	return dst
}

func appendIDs(dst []byte, ids []SeenID) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ids)))
	for _, s := range ids {
		dst = appendString(dst, s.ID)
		dst = binary.AppendVarint(dst, s.At)
	}
	return dst
}

// PartRange reports whether state (the value of a SKU's state key) is a
// split core, and the range of its parts.
func PartRange(state []byte) (first, next uint32, split bool, err error) {
	if !IsSplit(state) {
		return 0, 0, false, nil
	}
	d := decoder{b: state[1:]}
	first, next = uint32(d.uvarint()), uint32(d.uvarint())
	if d.err == nil && next <= first {
		d.err = fmt.Errorf("%w: parts [%d, %d)", ErrCorrupt, first, next)
	}
	if d.err != nil {
		return 0, 0, false, d.err
	}
	return first, next, true, nil
}

// DecodeSKUParts decodes a SKU from its state key's value and, when that is
// a split core, its parts [first, next) in order (nil otherwise).
func DecodeSKUParts(name string, state []byte, parts [][]byte, s *SKU) error {
	if !IsSplit(state) {
		if len(parts) != 0 {
			return fmt.Errorf("decoding SKU %q: %w: parts for a whole state", name, ErrCorrupt)
		}
		return DecodeSKU(name, state, s)
	}
	if err := decodeSplit(name, state, parts, s); err != nil {
		return fmt.Errorf("decoding SKU %q: %w", name, err)
	}
	return nil
}

func decodeSplit(name string, state []byte, parts [][]byte, s *SKU) error {
	*s = SKU{Name: name}
	part1 := state[0] == coreFormat1
	d := decoder{b: state[1:], part1: part1}
	first, next := uint32(d.uvarint()), uint32(d.uvarint())
	head := d.uvarint()
	d.head(s)
	d.published(s)
	d.end()
	if d.err != nil {
		return d.err
	}
	if next <= first || uint32(len(parts)) != next-first {
		return fmt.Errorf("%w: %d parts for [%d, %d)", ErrCorrupt, len(parts), first, next)
	}
	var ids []SeenID
	var start uint64 // position of ids[0]
	logBytes := 0
	for i, p := range parts {
		d := decoder{b: p, part1: part1}
		kind := d.byte()
		if (i == 0) != (kind == partBase) || (kind != partBase && kind != partDelta) {
			return fmt.Errorf("%w: part %d of kind %q", ErrCorrupt, first+uint32(i), kind)
		}
		from := d.uvarint()
		switch end := start + uint64(len(ids)); {
		case i == 0 || from > end:
			// A gap: the ids between were forgotten before they were
			// persisted, so every id before them is forgotten too.
			ids, start = ids[:0], from
		case from < end:
			return fmt.Errorf("%w: part %d ids from %d, before %d", ErrCorrupt, first+uint32(i), from, end)
		}
		for n := d.count(); n > 0 && d.err == nil; n-- {
			ids = append(ids, SeenID{ID: d.string(), At: d.varint()})
		}
		if kind == partBase {
			d.records(s)
		} else {
			logBytes += len(p)
			for n := d.count(); n > 0 && d.err == nil; n-- {
				d.change(s)
			}
		}
		d.end()
		if d.err != nil {
			return fmt.Errorf("part %d: %w", first+uint32(i), d.err)
		}
	}
	end, err := s.Seen.restoreFrom(ids, start, head)
	if err != nil {
		return err
	}
	s.lay = layout{split: true, first: first, next: next, baseBytes: len(parts[0]), logBytes: logBytes, idsDone: end}
	if part1 {
		s.unassignedFromOrders()
	}
	// The first Persist after a load writes a new base rather than a
	// delta. What was loaded may be behind what a reader of the writes has
	// seen (with exactly-once the changelog is written before the store,
	// so a store commit that fails leaves the changelog a batch ahead; a
	// crash between the store commit and the changelog leaves it a batch
	// behind). Folding on from here may number parts differently than
	// that lost history did; a new base, written before the core that
	// names it, makes the new core independent of every part before it.
	s.chgLost = true
	return nil
}

// restoreFrom remembers the ids a split SKU's parts hold (ids, the first at
// position start) from position head, its oldest remembered, on, and
// returns the position after the last.
func (w *IDWindow) restoreFrom(ids []SeenID, start, head uint64) (uint64, error) {
	end := start + uint64(len(ids))
	if head < start || head > end {
		return 0, fmt.Errorf("%w: oldest id at %d outside [%d, %d]", ErrCorrupt, head, start, end)
	}
	w.evicted = head // before restore: the index holds positions
	for _, id := range ids[head-start:] {
		w.restore(id.ID, id.At)
	}
	return end, nil
}

// change applies one changed record of a delta to s.
func (d *decoder) change(s *SKU) {
	kind := d.byte()
	id := d.string()
	present := d.bool()
	switch kind {
	case kindPO:
		if !present {
			delete(s.POs, id)
		} else if v := d.po(); d.err == nil {
			if s.POs == nil {
				s.POs = make(map[string]POLine)
			}
			s.POs[id] = v
		}
	case kindOrder:
		if !present {
			delete(s.Orders, id)
		} else if v := d.order(); d.err == nil {
			if s.Orders == nil {
				s.Orders = make(map[string]Order)
			}
			s.Orders[id] = v
		}
	case kindTransfer:
		if !present {
			delete(s.Transfers, id)
		} else if v := d.transfer(); d.err == nil {
			if s.Transfers == nil {
				s.Transfers = make(map[string]Transfer)
			}
			s.Transfers[id] = v
		}
	case kindHold:
		if !present {
			delete(s.Holds, id)
		} else if v := d.hold(); d.err == nil {
			if s.Holds == nil {
				s.Holds = make(map[string]Hold)
			}
			s.Holds[id] = v
		}
	default:
		d.fail("record kind")
	}
}
