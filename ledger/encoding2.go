package ledger

import "encoding/binary"

// The binary encoding of part 2's state of a SKU: unassigned units by
// channel, overrides, listings, the lead time and sales by day (in the
// head), and holds (with the other records).

func (s *SKU) appendPart2(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s.UnassignedBy)))
	for _, u := range s.UnassignedBy {
		dst = appendString(dst, u.Channel)
		dst = binary.AppendVarint(dst, int64(u.Qty))
	}
	dst = binary.AppendVarint(dst, int64(s.HeldUnassigned))
	dst = binary.AppendUvarint(dst, uint64(len(s.Overrides)))
	for i := range s.Overrides {
		dst = appendOverride(dst, &s.Overrides[i])
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Listings)))
	for _, l := range s.Listings {
		dst = appendString(dst, l.Channel)
		dst = appendString(dst, l.ListingSKU)
		dst = binary.AppendVarint(dst, int64(l.Units))
		dst = appendBool(dst, l.Gone)
		dst = appendBool(dst, l.HasPublished)
		dst = binary.AppendVarint(dst, int64(l.Published))
	}
	dst = binary.AppendVarint(dst, s.LeadTimeDays)
	dst = binary.AppendUvarint(dst, uint64(len(s.Sales)))
	for _, d := range s.Sales {
		dst = binary.AppendVarint(dst, d.Day)
		dst = binary.AppendVarint(dst, int64(d.Units))
	}
	return dst
}

func appendOverride(dst []byte, o *Override) []byte {
	dst = appendString(dst, o.Channel)
	dst = binary.AppendUvarint(dst, uint64(o.Has))
	dst = appendBool(dst, o.Exclude)
	dst = binary.AppendUvarint(dst, uint64(len(o.Locations)))
	for _, l := range o.Locations {
		dst = appendString(dst, l)
	}
	for _, q := range [4]int64{int64(o.Buffer), o.SharePct, int64(o.MaxQty), int64(o.EndAt)} {
		dst = binary.AppendVarint(dst, q)
	}
	return appendBool(dst, o.Gone)
}

func (d *decoder) part2(s *SKU) {
	if n := d.count(); n > 0 {
		s.UnassignedBy = make([]ChannelQty, n)
		for i := range s.UnassignedBy {
			s.UnassignedBy[i] = ChannelQty{Channel: d.string(), Qty: Qty(d.varint())}
		}
	}
	s.HeldUnassigned = Qty(d.varint())
	if n := d.count(); n > 0 {
		s.Overrides = make([]Override, n)
		for i := range s.Overrides {
			d.override(&s.Overrides[i])
		}
	}
	if n := d.count(); n > 0 {
		s.Listings = make([]Listing, n)
		for i := range s.Listings {
			s.Listings[i] = Listing{Channel: d.string(), ListingSKU: d.string(), Units: Qty(d.varint()),
				Gone: d.bool(), HasPublished: d.bool(), Published: Qty(d.varint())}
		}
	}
	s.LeadTimeDays = d.varint()
	if n := d.count(); n > 0 {
		s.Sales = make([]DaySales, n)
		for i := range s.Sales {
			s.Sales[i] = DaySales{Day: d.varint(), Units: Qty(d.varint())}
		}
	}
}

func (d *decoder) override(o *Override) {
	o.Channel = d.string()
	o.Has = Field(d.uvarint())
	o.Exclude = d.bool()
	if n := d.count(); n > 0 {
		o.Locations = make([]string, n)
		for i := range o.Locations {
			o.Locations[i] = d.string()
		}
	}
	o.Buffer, o.SharePct, o.MaxQty, o.EndAt = Qty(d.varint()), d.varint(), Qty(d.varint()), Qty(d.varint())
	o.Gone = d.bool()
}

func appendHold(dst []byte, h Hold) []byte {
	dst = appendString(dst, h.Channel)
	dst = appendString(dst, h.Location)
	dst = binary.AppendVarint(dst, int64(h.Requested))
	dst = binary.AppendVarint(dst, int64(h.Granted))
	dst = binary.AppendVarint(dst, h.ExpiresAt)
	dst = appendBool(dst, h.Closed)
	return binary.AppendVarint(dst, h.Touched)
}

func (d *decoder) hold() Hold {
	h := Hold{Channel: d.string(), Location: d.string(), Requested: Qty(d.varint()), Granted: Qty(d.varint()),
		ExpiresAt: d.varint(), Closed: d.bool(), Touched: d.varint()}
	h.indexed = !h.Closed // a persisted state's open holds are in the index
	return h
}

// unassignedFromOrders rebuilds the unassigned units by channel of a state
// decoded from part 1's format, where only open orders without a location
// held them.
func (s *SKU) unassignedFromOrders() {
	s.UnassignedBy, s.Unassigned = nil, 0
	for _, id := range sortedKeys(s.Orders) {
		if o := s.Orders[id]; o.Location == "" && o.Open > 0 {
			s.addUnassigned(o.Channel, o.Open)
		}
	}
}
