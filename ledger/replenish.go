package ledger

// Replenishment by sales velocity: each SKU counts the units it sold per
// UTC day over a 28-day window, and reorder_due warns when what it has and
// expects covers fewer days than the supplier's lead time.

// DaySales is the units a SKU sold on one UTC day.
type DaySales struct {
	Day   int64 // days since the Unix epoch
	Units Qty
}

const (
	windowDays = 28
	dayMicros  = 86_400_000_000
)

// dayOf is the UTC day of t (microseconds since the epoch), rounding down
// before the epoch too.
func dayOf(t int64) int64 {
	d := t / dayMicros
	if t%dayMicros < 0 {
		d--
	}
	return d
}

// windowEnd is the last day of s's sales window: the partition clock's day,
// or before any clock the latest day of a sale s counted.
func (p *Partition) windowEnd(s *SKU) (int64, bool) {
	if p.HasClock {
		return dayOf(p.Clock), true
	}
	if len(s.Sales) == 0 {
		return 0, false
	}
	return s.Sales[len(s.Sales)-1].Day, true
}

// SalesWindow is the first and last UTC day (days since the epoch) of
// s's sales window; false before s has a clock or a sale to end it on.
func (p *Partition) SalesWindow(s *SKU) (first, last int64, ok bool) {
	end, ok := p.windowEnd(s)
	return end - windowDays + 1, end, ok
}

// countSale counts q units sold at occurred_at t: on t's day, but never
// later than the clock's day (a source clock running ahead cannot wipe the
// window); a sale dated before the window is not counted.
func (p *Partition) countSale(s *SKU, t int64, q Qty) {
	day := dayOf(t)
	if p.HasClock {
		day = min(day, dayOf(p.Clock))
	}
	end, ok := p.windowEnd(s)
	if !ok || day > end {
		end = day
	}
	if day <= end-windowDays {
		return
	}
	i := len(s.Sales)
	for i > 0 && s.Sales[i-1].Day > day {
		i--
	}
	if i > 0 && s.Sales[i-1].Day == day {
		s.Sales[i-1].Units = min(s.Sales[i-1].Units+q, MaxKeptQty)
	} else {
		s.Sales = append(s.Sales, DaySales{})
		copy(s.Sales[i+1:], s.Sales[i:])
		s.Sales[i] = DaySales{Day: day, Units: q}
	}
	s.forgetSales(end)
}

// forgetSales drops the days before the window ending on end.
func (s *SKU) forgetSales(end int64) {
	n := 0
	for n < len(s.Sales) && s.Sales[n].Day <= end-windowDays {
		n++
	}
	if n > 0 {
		s.Sales = append(s.Sales[:0], s.Sales[n:]...)
	}
}

// Sold28 is the units s sold in its window.
func (p *Partition) Sold28(s *SKU) Qty {
	end, ok := p.windowEnd(s)
	if !ok {
		return 0
	}
	var n Qty
	for _, d := range s.Sales {
		if d.Day > end-windowDays && d.Day <= end {
			n += d.Units
		}
	}
	return n
}

// Projected is what s has and expects, as if no hold were open: the sum
// of max(0, available) - unassigned + the sum of incoming.
func (s *SKU) Projected() Qty {
	t := s.TotalPastHolds()
	for i := range s.Locations {
		if l := &s.Locations[i]; l.Named {
			t += l.Incoming
		}
	}
	return t
}

// reorder is the replenishment view of s: whether a reorder is due and the
// figures the alert carries.
type reorder struct {
	due                 bool
	projected, sold28   Qty
	daysOfCover, leadTm Qty
}

func (p *Partition) reorderOf(s *SKU) reorder {
	if s.LeadTimeDays == 0 {
		return reorder{}
	}
	r := reorder{projected: s.Projected(), sold28: p.Sold28(s), leadTm: Qty(s.LeadTimeDays)}
	if r.sold28 <= 0 {
		return reorder{}
	}
	cover := r.projected * windowDays
	r.due = cover < r.sold28*r.leadTm
	r.daysOfCover = cover / r.sold28
	if cover%r.sold28 != 0 && cover < 0 {
		r.daysOfCover-- // floor, not truncation
	}
	return r
}
