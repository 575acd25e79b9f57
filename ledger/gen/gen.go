// Package gen generates realistic, seeded streams of stockledger events in
// the spec's JSON Lines form: a retailer's receipts, purchase orders,
// web and marketplace orders, store sales, returns, counts and transfers
// over many SKUs and locations, with upstream retries (duplicates), events
// the ledger must refuse, malformed events and channel policy changes.
// Tests, benchmarks and the demo share it. The same Config gives the same
// stream.
package gen

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Config shapes a stream.
type Config struct {
	Seed       uint64
	SKUs       int      // number of SKUs; default 1000
	Locations  []string // default dc-east, dc-west, store-1, store-2
	Channels   []string // default web, amazon, ebay, pos
	Start      time.Time
	Step       time.Duration // event time between events; default 1s
	Zipf       float64       // SKU skew (s > 1); 0 means uniform
	DupPct     int           // percent of events that are retries of an earlier event of the SKU
	RefusePct  int           // percent that the ledger must refuse (unknown ids, bad deltas...)
	InvalidPct int           // percent that are malformed (bad or missing fields)
	// PolicyChanges are event indexes at which a channel_policy change is
	// emitted (in addition to the initial policies).
	PolicyChanges []int
	// Part2 mixes in part 2's events (gen2.go): holds and their releases,
	// orders converting holds, listings, per-SKU overrides, transfers
	// closed short, lead times, sales dated days apart, end_at.
	Part2 bool
	// Part2Mix chooses how part 2's events are mixed in: "" exercises every
	// rule often (tests); "checkout" is a retailer's day (benchmarks): web
	// checkouts hold before they order, some carts are abandoned or
	// released, and listings, overrides and transfer closes are rare.
	Part2Mix string
	// ClockEvery emits a clock event every that many events (0: none).
	ClockEvery int
}

// Generator emits one event at a time.
type Generator struct {
	cfg   Config
	r     *rand.Rand
	zipf  *rand.Zipf
	n     int
	skus  []skuState
	sent  int
	polIx int
	queue [][]byte
	due   dueLines // lines made when their turn comes (a checkout's order)
	// late: the line being made is a sale dated so far back that the
	// ledger may forget its id before a retry (ledger/DECISIONS.md,
	// "Idempotency window": 7 days back from the newest occurred_at the
	// SKU has seen, and a sale may be dated 2 days ahead). The model
	// remembers ids forever, so such a line is not kept for retries.
	late bool
}

type skuState struct {
	name      string
	orders    []string
	pos       []string
	transfers []string
	holds     []string // hold ids, open or not
	listings  []string // "channel/listing_sku" bound to this SKU
	history   [][]byte // recent lines, for retries
	seq       int
}

// New returns a generator. Its first events are the channel policies.
func New(cfg Config) *Generator {
	if cfg.SKUs <= 0 {
		cfg.SKUs = 1000
	}
	if len(cfg.Locations) == 0 {
		cfg.Locations = []string{"dc-east", "dc-west", "store-1", "store-2"}
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{"web", "amazon", "ebay", "pos"}
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	}
	if cfg.Step <= 0 {
		cfg.Step = time.Second
	}
	g := &Generator{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	if cfg.Zipf > 1 {
		g.zipf = rand.NewZipf(g.r, cfg.Zipf, 1, uint64(cfg.SKUs-1))
	}
	g.skus = make([]skuState, cfg.SKUs)
	for i := range g.skus {
		g.skus[i].name = fmt.Sprintf("SKU-%06d", i)
	}
	for i, c := range cfg.Channels {
		g.queue = append(g.queue, g.policy(c, i, 0))
	}
	return g
}

// Config returns the effective config.
func (g *Generator) Config() Config { return g.cfg }

// Stream returns n events of a new generator.
func Stream(cfg Config, n int) [][]byte {
	g := New(cfg)
	out := make([][]byte, 0, n)
	for range n {
		out = append(out, g.Next())
	}
	return out
}

func (g *Generator) at() string {
	return g.cfg.Start.Add(time.Duration(g.n) * g.cfg.Step).UTC().Format(time.RFC3339)
}

// policy builds a channel policy for channel c (the i-th), variant v.
func (g *Generator) policy(c string, i, v int) []byte {
	locs := g.cfg.Locations
	var list string
	switch (i + v) % 4 {
	case 0: // every location
		list = `[]`
	case 1: // warehouses only
		list = fmt.Sprintf(`[%q,%q]`, locs[0], locs[1%len(locs)])
	case 2:
		list = fmt.Sprintf(`[%q]`, locs[0])
	default: // the stores
		list = fmt.Sprintf(`[%q,%q]`, locs[2%len(locs)], locs[3%len(locs)])
	}
	buffer := (i + v) % 3 * 2
	share := []int{100, 80, 40, 100}[(i+v)%4]
	maxq := ""
	if (i+v)%3 == 2 {
		maxq = `,"max_qty":25`
	}
	if g.cfg.Part2 && (i+v)%4 == 3 {
		maxq += `,"end_at":2`
	}
	g.polIx++
	return fmt.Appendf(nil, `{"event_id":"pol-%d","type":"channel_policy","occurred_at":%q,"channel":%q,"locations":%s,"buffer":%d,"share_pct":%d%s}`,
		g.polIx, g.at(), c, list, buffer, share, maxq)
}

// Next returns the next event line.
func (g *Generator) Next() []byte {
	defer func() { g.n++ }()
	if len(g.queue) > 0 {
		l := g.queue[0]
		g.queue = g.queue[1:]
		return l
	}
	if len(g.due) > 0 && g.due[0].at <= g.n {
		return heap.Pop(&g.due).(dueLine).make()
	}
	for _, at := range g.cfg.PolicyChanges {
		if at == g.n {
			i := g.r.IntN(len(g.cfg.Channels))
			return g.policy(g.cfg.Channels[i], i, 1+g.r.IntN(3))
		}
	}
	if g.cfg.ClockEvery > 0 && g.n%g.cfg.ClockEvery == g.cfg.ClockEvery-1 {
		return g.clock()
	}
	s := g.pickSKU()
	pct := g.r.IntN(100)
	if g.cfg.Part2 && pct >= g.cfg.DupPct+g.cfg.RefusePct+g.cfg.InvalidPct {
		switch k := g.r.IntN(100); {
		case g.cfg.Part2Mix == "checkout" && k < 15:
			return g.remember(s, g.checkout(s))
		case g.cfg.Part2Mix != "checkout" && k < 30:
			return g.remember(s, g.part2(s))
		}
	}
	switch {
	case pct < g.cfg.DupPct && len(s.history) > 0:
		return s.history[g.r.IntN(len(s.history))]
	case pct < g.cfg.DupPct+g.cfg.RefusePct:
		return g.remember(s, g.refused(s))
	case pct < g.cfg.DupPct+g.cfg.RefusePct+g.cfg.InvalidPct:
		return g.invalid(s)
	}
	return g.remember(s, g.valid(s))
}

func (g *Generator) pickSKU() *skuState {
	if g.zipf != nil {
		return &g.skus[g.zipf.Uint64()]
	}
	return &g.skus[g.r.IntN(len(g.skus))]
}

func (g *Generator) remember(s *skuState, line []byte) []byte {
	if g.late {
		g.late = false
		return line
	}
	if len(s.history) < 8 {
		s.history = append(s.history, line)
	} else {
		s.history[g.r.IntN(8)] = line
	}
	return line
}

func (g *Generator) id(s *skuState, prefix string) string {
	s.seq++
	return prefix + "-" + s.name + "-" + strconv.Itoa(s.seq)
}

func (g *Generator) loc() string { return g.cfg.Locations[g.r.IntN(len(g.cfg.Locations))] }

func (g *Generator) channel() string { return g.cfg.Channels[g.r.IntN(len(g.cfg.Channels))] }

func (g *Generator) head(s *skuState, typ string) string {
	return fmt.Sprintf(`{"event_id":%q,"type":%q,"sku":%q,"occurred_at":%q`, g.id(s, "e"), typ, s.name, g.at())
}

func take(r *rand.Rand, ids *[]string) (string, bool) {
	if len(*ids) == 0 {
		return "", false
	}
	i := r.IntN(len(*ids))
	id := (*ids)[i]
	(*ids)[i] = (*ids)[len(*ids)-1]
	*ids = (*ids)[:len(*ids)-1]
	return id, true
}

// receipt emits a receipt, often against a PO.
func (g *Generator) receipt(s *skuState) []byte {
	r := g.r
	if po, ok := take(r, &s.pos); ok && r.IntN(3) > 0 {
		q := 1 + r.IntN(60)
		if r.IntN(4) == 0 {
			s.pos = append(s.pos, po) // partial: more to come
		}
		return fmt.Appendf(nil, `%s,"location":%q,"qty":%d,"po_id":%q}`, g.head(s, "receipt"), g.loc(), q, po)
	}
	if r.IntN(10) == 0 { // a receipt quoting a PO nobody entered
		return fmt.Appendf(nil, `%s,"location":%q,"qty":%d,"po_id":"PO-LOST-%d"}`, g.head(s, "receipt"), g.loc(), 1+r.IntN(20), g.n)
	}
	return fmt.Appendf(nil, `%s,"location":%q,"qty":%d}`, g.head(s, "receipt"), g.loc(), 20+r.IntN(100))
}

// valid emits an event that applies, in a retailer's mix.
func (g *Generator) valid(s *skuState) []byte {
	r := g.r
	k := r.IntN(100)
	switch {
	case k < 12:
		return g.receipt(s)
	case k < 18:
		po := g.id(s, "PO")
		s.pos = append(s.pos, po)
		return fmt.Appendf(nil, `%s,"po_id":%q,"location":%q,"qty":%d}`, g.head(s, "purchase_order"), po, g.loc(), 10+r.IntN(90))
	case k < 20:
		if po, ok := take(r, &s.pos); ok {
			return fmt.Appendf(nil, `%s,"po_id":%q}`, g.head(s, "purchase_order_closed"), po)
		}
		fallthrough
	case k < 42: // orders: web/marketplace, half pinned to a location
		o := g.id(s, "O")
		s.orders = append(s.orders, o)
		loc := ""
		if r.IntN(2) == 0 {
			loc = fmt.Sprintf(`,"location":%q`, g.loc())
		}
		return fmt.Appendf(nil, `%s,"channel":%q,"order_id":%q,"qty":%d%s%s}`, g.head(s, "order"), g.channel(), o, 1+r.IntN(4), loc, g.convert(s))
	case k < 47:
		if o, ok := take(r, &s.orders); ok {
			q := ""
			if r.IntN(3) == 0 {
				q = fmt.Sprintf(`,"qty":%d`, 1+r.IntN(3))
			}
			return fmt.Appendf(nil, `%s,"order_id":%q%s}`, g.head(s, "order_cancelled"), o, q)
		}
		fallthrough
	case k < 62:
		if o, ok := take(r, &s.orders); ok {
			return fmt.Appendf(nil, `%s,"location":%q,"qty":%d,"order_id":%q}`, g.head(s, "shipment"), g.loc(), 1+r.IntN(4), o)
		}
		fallthrough
	case k < 80:
		return fmt.Appendf(nil, `%s,"channel":"pos","location":%q,"qty":%d}`, g.saleHead(s, "pos_sale"), g.loc(), 1+r.IntN(3))
	case k < 84:
		res := ""
		if r.IntN(3) == 0 {
			res = `,"resellable":false`
		}
		return fmt.Appendf(nil, `%s,"location":%q,"qty":%d%s}`, g.head(s, "return"), g.loc(), 1+r.IntN(2), res)
	case k < 88:
		return fmt.Appendf(nil, `%s,"location":%q,"on_hand_delta":%d,"unavailable_delta":%d,"reason":"damage"}`,
			g.head(s, "adjustment"), g.loc(), -1-r.IntN(3), r.IntN(2))
	case k < 91:
		return fmt.Appendf(nil, `%s,"location":%q,"counted":%d}`, g.head(s, "stock_count"), g.loc(), 10+r.IntN(90))
	case k < 95:
		t := g.id(s, "T")
		s.transfers = append(s.transfers, t)
		from := g.loc()
		to := g.loc()
		for to == from {
			to = g.loc()
		}
		return fmt.Appendf(nil, `%s,"transfer_id":%q,"location":%q,"to_location":%q,"qty":%d}`, g.head(s, "transfer_out"), t, from, to, 1+r.IntN(10))
	case k < 98:
		if t, ok := take(r, &s.transfers); ok {
			return fmt.Appendf(nil, `%s,"transfer_id":%q,"qty":%d}`, g.head(s, "transfer_in"), t, 1+r.IntN(10))
		}
		fallthrough
	default:
		return g.skuPolicy(s)
	}
}

// skuPolicy emits a sku_policy: safety stock, and now and then a reorder
// point and (part 2) a lead time.
func (g *Generator) skuPolicy(s *skuState) []byte {
	r := g.r
	rp := ""
	if r.IntN(2) == 0 {
		rp = fmt.Sprintf(`,"reorder_point":%d`, r.IntN(30))
	}
	if g.cfg.Part2 && r.IntN(2) == 0 {
		rp += fmt.Sprintf(`,"lead_time_days":%d`, 1+r.IntN(30))
	}
	return fmt.Appendf(nil, `%s,"safety_stock":{%q:%d}%s}`, g.head(s, "sku_policy"), g.loc(), r.IntN(5), rp)
}

// refused emits a well-formed event the ledger must refuse for its state.
func (g *Generator) refused(s *skuState) []byte {
	if g.cfg.Part2 && g.r.IntN(3) == 0 {
		return g.refused2(s)
	}
	switch g.r.IntN(6) {
	case 0:
		return fmt.Appendf(nil, `%s,"order_id":"NOPE-%d"}`, g.head(s, "order_cancelled"), g.n)
	case 1:
		return fmt.Appendf(nil, `%s,"transfer_id":"NOPE-%d","qty":1}`, g.head(s, "transfer_in"), g.n)
	case 2:
		return fmt.Appendf(nil, `%s,"po_id":"NOPE-%d"}`, g.head(s, "purchase_order_closed"), g.n)
	case 3:
		return fmt.Appendf(nil, `%s,"location":%q,"on_hand_delta":0,"unavailable_delta":-1000,"reason":"qc"}`, g.head(s, "adjustment"), g.loc())
	case 4:
		if len(s.orders) > 0 {
			return fmt.Appendf(nil, `%s,"channel":"web","order_id":%q,"qty":1}`, g.head(s, "order"), s.orders[0])
		}
		return fmt.Appendf(nil, `%s,"order_id":"NOPE-%d","qty":2}`, g.head(s, "order_cancelled"), g.n)
	default:
		return fmt.Appendf(nil, `%s,"location":%q,"on_hand_delta":0,"reason":"noop"}`, g.head(s, "adjustment"), g.loc())
	}
}

// invalid emits a malformed event.
func (g *Generator) invalid(s *skuState) []byte {
	if g.cfg.Part2 && g.r.IntN(3) == 0 {
		return g.invalid2(s)
	}
	switch g.r.IntN(7) {
	case 0:
		return fmt.Appendf(nil, `%s,"location":%q,"qty":0}`, g.head(s, "receipt"), g.loc())
	case 1:
		return fmt.Appendf(nil, `%s,"qty":3}`, g.head(s, "receipt"))
	case 2:
		return fmt.Appendf(nil, `%s,"location":%q,"qty":"three"}`, g.head(s, "pos_sale"), g.loc())
	case 3:
		return fmt.Appendf(nil, `{"event_id":"bad-%d","type":"teleport","sku":%q,"occurred_at":%q}`, g.n, s.name, g.at())
	case 4:
		return fmt.Appendf(nil, `{"event_id":"bad-%d","type":"receipt","sku":%q,"occurred_at":"yesterday","location":"dc-east","qty":1}`, g.n, s.name)
	case 5:
		return fmt.Appendf(nil, `%s,"channel":"web","order_id":"X","qty":2000000000}`, g.head(s, "order"))
	default:
		return fmt.Appendf(nil, `%s,"channel":"web","location":" store-1","qty":1}`, g.head(s, "pos_sale"))
	}
}
