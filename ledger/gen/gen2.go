package gen

import (
	"container/heap"
	"fmt"
	"time"
)

// Part 2's events in the stream: checkouts holding units and then
// releasing them, converting them with an order or letting them expire on
// the partition's clock; listings; per-SKU overrides; transfers closed
// short; sales reported days late or ahead.

func (g *Generator) clock() []byte {
	at := g.cfg.Start.Add(time.Duration(g.n) * g.cfg.Step)
	if g.r.IntN(10) == 0 {
		at = at.Add(-time.Hour) // an operator's stale clock: changes nothing
	}
	return fmt.Appendf(nil, `{"event_id":"clock/%d","type":"clock","occurred_at":%q}`, at.UnixMilli(), at.UTC().Format(time.RFC3339))
}

// channel2 is a channel of the config, or now and then one without a policy.
func (g *Generator) channel2() string {
	if g.r.IntN(8) == 0 {
		return "outlet"
	}
	return g.channel()
}

func (g *Generator) part2(s *skuState) []byte {
	r := g.r
	switch k := r.IntN(100); {
	case k < 40:
		return g.hold(s)
	case k < 55:
		if len(s.holds) > 0 {
			h := s.holds[r.IntN(len(s.holds))]
			return fmt.Appendf(nil, `%s,"hold_id":%q}`, g.head(s, "hold_released"), h)
		}
		return g.hold(s)
	case k < 70:
		return g.listing(s)
	case k < 85:
		return g.override(s)
	default:
		if t, ok := take(r, &s.transfers); ok {
			return fmt.Appendf(nil, `%s,"transfer_id":%q}`, g.head(s, "transfer_closed"), t)
		}
		return g.hold(s)
	}
}

func (g *Generator) hold(s *skuState) []byte {
	r := g.r
	h := fmt.Sprintf("H-%d", g.n)
	s.holds = append(s.holds, h)
	if len(s.holds) > 16 {
		s.holds = s.holds[1:]
	}
	now := g.cfg.Start.Add(time.Duration(g.n) * g.cfg.Step)
	at, exp := now, now.Add(time.Duration(1+r.IntN(30))*time.Minute)
	if r.IntN(12) == 0 { // a checkout whose clock is behind: the partition's clock may have passed it
		at, exp = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
	head := fmt.Sprintf(`{"event_id":%q,"type":"hold","sku":%q,"occurred_at":%q`, g.id(s, "e"), s.name, at.UTC().Format(time.RFC3339))
	extra := ""
	if r.IntN(3) == 0 {
		extra += fmt.Sprintf(`,"location":%q`, g.loc())
	}
	if r.IntN(2) == 0 {
		extra += `,"allow_partial":true`
	}
	return fmt.Appendf(nil, `%s,"hold_id":%q,"channel":%q,"qty":%d,"expires_at":%q%s}`,
		head, h, g.channel2(), 1+r.IntN(30), exp.UTC().Format(time.RFC3339), extra)
}

// convert names one of the SKU's holds on an order, now and then.
func (g *Generator) convert(s *skuState) string {
	if !g.cfg.Part2 || len(s.holds) == 0 || g.r.IntN(3) > 0 {
		return ""
	}
	return fmt.Sprintf(`,"hold_id":%q`, s.holds[g.r.IntN(len(s.holds))])
}

func (g *Generator) listing(s *skuState) []byte {
	r := g.r
	c := g.channel2()
	l := fmt.Sprintf("%s-%dPK", s.name, []int{1, 2, 6}[r.IntN(3)])
	switch r.IntN(4) {
	case 0:
		return fmt.Appendf(nil, `%s,"channel":%q,"listing_sku":%q,"active":false}`, g.head(s, "listing"), c, l)
	case 1:
		return fmt.Appendf(nil, `%s,"channel":%q,"listing_sku":%q}`, g.head(s, "listing"), c, l)
	}
	return fmt.Appendf(nil, `%s,"channel":%q,"listing_sku":%q,"units":%d}`, g.head(s, "listing"), c, l, 1+r.IntN(6))
}

func (g *Generator) override(s *skuState) []byte {
	r := g.r
	head := fmt.Sprintf(`%s,"channel":%q`, g.head(s, "sku_channel_policy"), g.channel2())
	switch r.IntN(5) {
	case 0:
		return fmt.Appendf(nil, `%s}`, head) // removes it
	case 1:
		return fmt.Appendf(nil, `%s,"exclude":%t}`, head, r.IntN(3) > 0)
	case 2:
		return fmt.Appendf(nil, `%s,"locations":[%q],"share_pct":%d}`, head, g.loc(), 10+r.IntN(91))
	case 3:
		return fmt.Appendf(nil, `%s,"buffer":%d,"end_at":%d}`, head, r.IntN(5), r.IntN(4))
	}
	return fmt.Appendf(nil, `%s,"max_qty":%d}`, head, r.IntN(20))
}

// saleHead is head, with the sale dated days late or a day ahead now and
// then (part 2's sales window counts sales by their day).
func (g *Generator) saleHead(s *skuState, typ string) string {
	if !g.cfg.Part2 || g.r.IntN(10) > 0 {
		return g.head(s, typ)
	}
	days := g.r.IntN(43) - 40
	g.late = days < -4 // see Generator.late
	at := g.cfg.Start.Add(time.Duration(g.n)*g.cfg.Step + time.Duration(days)*24*time.Hour)
	return fmt.Sprintf(`{"event_id":%q,"type":%q,"sku":%q,"occurred_at":%q`, g.id(s, "e"), typ, s.name, at.UTC().Format(time.RFC3339))
}

// refused2 emits a part 2 event the ledger must refuse for its state.
func (g *Generator) refused2(s *skuState) []byte {
	switch g.r.IntN(3) {
	case 0:
		if len(s.holds) > 0 {
			return fmt.Appendf(nil, `%s,"hold_id":%q,"channel":"web","qty":1,"expires_at":%q}`, g.head(s, "hold"), s.holds[0], g.later(10))
		}
		fallthrough
	case 1:
		return fmt.Appendf(nil, `%s,"hold_id":"NOPE-%d"}`, g.head(s, "hold_released"), g.n)
	default:
		return fmt.Appendf(nil, `%s,"transfer_id":"NOPE-%d"}`, g.head(s, "transfer_closed"), g.n)
	}
}

// invalid2 emits a malformed part 2 event.
func (g *Generator) invalid2(s *skuState) []byte {
	switch g.r.IntN(4) {
	case 0:
		return fmt.Appendf(nil, `%s,"hold_id":"H/%d","channel":"web","qty":1,"expires_at":%q}`, g.head(s, "hold"), g.n, g.later(10))
	case 1:
		return fmt.Appendf(nil, `%s,"hold_id":"HX-%d","channel":"web","qty":1,"expires_at":%q}`, g.head(s, "hold"), g.n, g.later(8*24*60))
	case 2:
		return fmt.Appendf(nil, `{"event_id":"unres-%d","type":"order","occurred_at":%q,"listing_sku":"X-6PK","channel":"web","order_id":"W","qty":1}`, g.n, g.at())
	default:
		return fmt.Appendf(nil, `%s,"channel":"web","listing_sku":"L","units":0}`, g.head(s, "listing"))
	}
}

// later is the stream's time plus minutes, in RFC 3339.
func (g *Generator) later(minutes int) string {
	return g.cfg.Start.Add(time.Duration(g.n)*g.cfg.Step + time.Duration(minutes)*time.Minute).UTC().Format(time.RFC3339)
}

// checkout is a web checkout of the "checkout" mix: a hold, then (due a
// few minutes later) the order that converts it, or its release, or
// nothing (an abandoned cart, left to expire); now and then instead an
// administrative change: a listing, an override or a transfer closed.
func (g *Generator) checkout(s *skuState) []byte {
	r := g.r
	if r.IntN(100) < 2 {
		switch r.IntN(3) {
		case 0:
			return g.listing(s)
		case 1:
			return g.override(s)
		}
		if t, ok := take(r, &s.transfers); ok {
			return fmt.Appendf(nil, `%s,"transfer_id":%q}`, g.head(s, "transfer_closed"), t)
		}
	}
	h, qty := fmt.Sprintf("C-%d", g.n), 1+r.IntN(3)
	hold := fmt.Appendf(nil, `%s,"hold_id":%q,"channel":"web","qty":%d,"expires_at":%q}`, g.head(s, "hold"), h, qty, g.later(15))
	// The buyer pays or gives up 1 to 10 minutes of event time later,
	// before the hold's 15 minutes are up.
	at := g.n + max(1, int(time.Duration(60+r.IntN(541))*time.Second/g.cfg.Step))
	switch k := r.IntN(100); {
	case k < 70:
		heap.Push(&g.due, dueLine{at: at, make: func() []byte {
			o := g.id(s, "O")
			s.orders = append(s.orders, o)
			return fmt.Appendf(nil, `%s,"channel":"web","order_id":%q,"qty":%d,"hold_id":%q}`, g.head(s, "order"), o, qty, h)
		}})
	case k < 80:
		heap.Push(&g.due, dueLine{at: at, make: func() []byte {
			return fmt.Appendf(nil, `%s,"hold_id":%q}`, g.head(s, "hold_released"), h)
		}})
	}
	return hold
}

// dueLine is a line made when the stream reaches event at.
type dueLine struct {
	at   int
	make func() []byte
}

// dueLines is a min-heap of lines by their turn.
type dueLines []dueLine

func (d dueLines) Len() int           { return len(d) }
func (d dueLines) Less(i, j int) bool { return d[i].at < d[j].at }
func (d dueLines) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *dueLines) Push(x any)        { *d = append(*d, x.(dueLine)) }
func (d *dueLines) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}
