package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Binary state encoding. Stores keep SKUs and partitions as these bytes; the
// encoding is deterministic (maps in key order), so equal states encode to
// equal bytes and a checksum of a store is a checksum of the ledger.

// Formats 2 (whole SKU), 3 (split core) and partition 2 are part 1's;
// they are still read, and part 2's state starts empty from them.
const (
	skuFormat        = 4
	skuFormat1       = 2
	partitionFormat  = 3
	partitionFormat1 = 2
)

// ErrCorrupt is wrapped by decode errors.
var ErrCorrupt = errors.New("corrupt ledger state")

// AppendBinary appends the encoding of s (its Name excluded: the store key
// holds it) to dst. This canonical form holds the whole state; stores may
// keep a large SKU split in parts instead (layout.go).
func (s *SKU) AppendBinary(dst []byte) []byte {
	dst = append(dst, skuFormat)
	dst = s.appendHead(dst)
	dst = s.appendRecords(dst, true)
	dst = s.appendPublished(dst)
	return appendWindow(dst, &s.Seen)
}

// appendHead appends the scalars and locations.
func (s *SKU) appendHead(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, s.Version)
	dst = binary.AppendVarint(dst, int64(s.Unassigned))
	dst = appendBool(dst, s.HasReorder)
	dst = binary.AppendVarint(dst, int64(s.ReorderPoint))
	dst = binary.AppendVarint(dst, s.Newest)
	dst = binary.AppendUvarint(dst, s.PolicySeq)
	dst = binary.AppendUvarint(dst, uint64(len(s.Locations)))
	for i := range s.Locations {
		l := &s.Locations[i]
		dst = appendString(dst, l.Code)
		dst = appendBool(dst, l.Named)
		for _, q := range [6]Qty{l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Held} {
			dst = binary.AppendVarint(dst, int64(q))
		}
	}
	return s.appendPart2(dst)
}

// appendRecords appends the PO lines, orders and transfers, each kind in
// id order (the canonical encoding) or, unordered, in the maps' own order:
// a split SKU's base part is decoded into maps and never compared as bytes
// (Store.SKUs re-encodes a split SKU canonically), and a best seller's base
// holds tens of thousands of records, whose sorting and second lookup were
// most of what writing it cost.
func (s *SKU) appendRecords(dst []byte, inIDOrder bool) []byte {
	dst = appendRecordMap(dst, s.POs, inIDOrder, appendPO)
	dst = appendRecordMap(dst, s.Orders, inIDOrder, appendOrder)
	dst = appendRecordMap(dst, s.Transfers, inIDOrder, appendTransfer)
	return appendRecordMap(dst, s.Holds, inIDOrder, appendHold)
}

// appendRecordMap appends m's length, then each id and its record.
func appendRecordMap[V any](dst []byte, m map[string]V, inIDOrder bool, appendRecord func([]byte, V) []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m)))
	if inIDOrder {
		for _, id := range sortedKeys(m) {
			dst = appendRecord(appendString(dst, id), m[id])
		}
		return dst
	}
	for id, v := range m {
		dst = appendRecord(appendString(dst, id), v)
	}
	return dst
}

func appendPO(dst []byte, p POLine) []byte {
	dst = appendString(dst, p.Location)
	dst = binary.AppendVarint(dst, int64(p.Expected))
	dst = appendBool(dst, p.Closed)
	return binary.AppendVarint(dst, p.Touched)
}

func appendOrder(dst []byte, o Order) []byte {
	dst = appendString(dst, o.Channel)
	dst = appendString(dst, o.Location)
	dst = binary.AppendVarint(dst, int64(o.Open))
	return binary.AppendVarint(dst, o.Touched)
}

func appendTransfer(dst []byte, t Transfer) []byte {
	dst = appendString(dst, t.From)
	dst = appendString(dst, t.To)
	dst = binary.AppendVarint(dst, int64(t.Expected))
	dst = binary.AppendVarint(dst, int64(t.Sent))
	dst = appendBool(dst, t.Closed)
	return binary.AppendVarint(dst, t.Touched)
}

func (d *decoder) po() POLine {
	return POLine{Location: d.string(), Expected: Qty(d.varint()), Closed: d.bool(), Touched: d.varint()}
}

func (d *decoder) order() Order {
	return Order{Channel: d.string(), Location: d.string(), Open: Qty(d.varint()), Touched: d.varint()}
}

func (d *decoder) transfer() Transfer {
	t := Transfer{From: d.string(), To: d.string(), Expected: Qty(d.varint())}
	if d.part1 {
		t.Sent = t.Expected // what part 1 did not record: the best guess
	} else {
		t.Sent, t.Closed = Qty(d.varint()), d.bool()
	}
	t.Touched = d.varint()
	return t
}

// appendPublished appends the last published channel values.
func (s *SKU) appendPublished(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s.Published)))
	for _, v := range s.Published {
		dst = appendString(dst, v.Channel)
		dst = binary.AppendVarint(dst, int64(v.ATS))
	}
	return dst
}

// DecodeSKU decodes b (from AppendBinary) into s, named name.
func DecodeSKU(name string, b []byte, s *SKU) error {
	d := decoder{b: b}
	switch f := d.byte(); {
	case f == skuFormat1:
		d.part1 = true
	case f != skuFormat && d.err == nil:
		return fmt.Errorf("%w: SKU %q format %d", ErrCorrupt, name, f)
	}
	*s = SKU{Name: name}
	d.head(s)
	d.records(s)
	d.published(s)
	d.window(&s.Seen)
	d.end()
	if d.err != nil {
		return fmt.Errorf("decoding SKU %q: %w", name, d.err)
	}
	if d.part1 {
		s.unassignedFromOrders()
	}
	s.lay.idsDone = s.Seen.next()
	return nil
}

func (d *decoder) head(s *SKU) {
	s.Version = d.uvarint()
	s.Unassigned = Qty(d.varint())
	s.HasReorder = d.bool()
	s.ReorderPoint = Qty(d.varint())
	s.Newest = d.varint()
	s.PolicySeq = d.uvarint()
	if n := d.count(); n > 0 {
		s.Locations = make([]Location, n)
		for i := range s.Locations {
			l := &s.Locations[i]
			l.Code = d.string()
			l.Named = d.bool()
			l.OnHand, l.Reserved, l.Unavailable = Qty(d.varint()), Qty(d.varint()), Qty(d.varint())
			l.Incoming, l.SafetyStock = Qty(d.varint()), Qty(d.varint())
			if !d.part1 {
				l.Held = Qty(d.varint())
			}
		}
	}
	if !d.part1 {
		d.part2(s)
	}
}

func (d *decoder) records(s *SKU) {
	if n := d.count(); n > 0 {
		s.POs = make(map[string]POLine, n)
		for range n {
			id := d.string()
			s.POs[id] = d.po()
		}
	}
	if n := d.count(); n > 0 {
		s.Orders = make(map[string]Order, n)
		for range n {
			id := d.string()
			s.Orders[id] = d.order()
		}
	}
	if n := d.count(); n > 0 {
		s.Transfers = make(map[string]Transfer, n)
		for range n {
			id := d.string()
			s.Transfers[id] = d.transfer()
		}
	}
	if d.part1 {
		return
	}
	if n := d.count(); n > 0 {
		s.Holds = make(map[string]Hold, n)
		for range n {
			id := d.string()
			s.Holds[id] = d.hold()
		}
	}
}

func (d *decoder) published(s *SKU) {
	if n := d.count(); n > 0 {
		s.Published = make([]ChannelValue, n)
		for i := range s.Published {
			s.Published[i] = ChannelValue{Channel: d.string(), ATS: Qty(d.varint())}
		}
	}
}

// end fails unless everything was read.
func (d *decoder) end() {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
}

// AppendBinary appends the encoding of p's policies and ids (not its
// Config) to dst.
func (p *Partition) AppendBinary(dst []byte) []byte {
	dst = append(dst, partitionFormat)
	dst = binary.AppendVarint(dst, p.Newest)
	dst = binary.AppendUvarint(dst, p.PolicySeq)
	dst = appendBool(dst, p.HasClock)
	dst = binary.AppendVarint(dst, p.Clock)
	dst = binary.AppendUvarint(dst, uint64(len(p.Channels)))
	for i := range p.Channels {
		c := &p.Channels[i]
		dst = appendString(dst, c.Channel)
		dst = binary.AppendUvarint(dst, uint64(len(c.Locations)))
		for _, l := range c.Locations {
			dst = appendString(dst, l)
		}
		dst = binary.AppendVarint(dst, int64(c.Buffer))
		dst = binary.AppendVarint(dst, c.SharePct)
		dst = appendBool(dst, c.HasMaxQty)
		dst = binary.AppendVarint(dst, int64(c.MaxQty))
		dst = appendBool(dst, c.HasEndAt)
		dst = binary.AppendVarint(dst, int64(c.EndAt))
	}
	return appendWindow(dst, &p.Seen)
}

// DecodePartition decodes b (from AppendBinary) into p, keeping p.Config.
func DecodePartition(b []byte, p *Partition) error {
	d := decoder{b: b}
	switch f := d.byte(); {
	case f == partitionFormat1:
		d.part1 = true
	case f != partitionFormat && d.err == nil:
		return fmt.Errorf("%w: partition format %d", ErrCorrupt, f)
	}
	*p = Partition{Config: p.Config}
	p.Newest = d.varint()
	p.PolicySeq = d.uvarint()
	if !d.part1 {
		p.HasClock, p.Clock = d.bool(), d.varint()
	}
	if n := d.count(); n > 0 {
		p.Channels = make([]ChannelPolicy, n)
		for i := range p.Channels {
			c := &p.Channels[i]
			c.Channel = d.string()
			if m := d.count(); m > 0 {
				c.Locations = make([]string, m)
				for j := range c.Locations {
					c.Locations[j] = d.string()
				}
			}
			c.Buffer = Qty(d.varint())
			c.SharePct = d.varint()
			c.HasMaxQty = d.bool()
			c.MaxQty = Qty(d.varint())
			if !d.part1 {
				c.HasEndAt, c.EndAt = d.bool(), Qty(d.varint())
			}
		}
	}
	d.window(&p.Seen)
	if d.err != nil {
		return fmt.Errorf("decoding partition state: %w", d.err)
	}
	return nil
}

func appendWindow(dst []byte, w *IDWindow) []byte {
	ids := w.IDs()
	dst = binary.AppendUvarint(dst, uint64(len(ids)))
	for _, s := range ids {
		dst = appendString(dst, s.ID)
		dst = binary.AppendVarint(dst, s.At)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// decoder reads the encoding, remembering the first error.
type decoder struct {
	b     []byte
	err   error
	part1 bool // the bytes are in a format of part 1 (no part 2 state)
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("byte")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool { return d.byte() == 1 }

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that cannot exceed the bytes left.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) window(w *IDWindow) {
	n := d.count()
	for range n {
		id := d.string()
		w.restore(id, d.varint())
	}
}
