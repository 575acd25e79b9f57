package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/schemas"
)

// StreamConfig shapes the events a workload generates with ledger/gen:
// the same config and seed always give the same events.
type StreamConfig struct {
	// Seed seeds the generator.
	Seed uint64 `json:"seed"`
	// SKUs is the number of SKUs.
	SKUs int `json:"skus"`
	// Locations and Channels count the retailer's locations and channels
	// (default names first: dc-east, dc-west, store-1, store-2; web,
	// amazon, ebay, pos).
	Locations int `json:"locations"`
	Channels  int `json:"channels"`
	// Zipf is the SKU skew (s > 1; 0 is uniform).
	Zipf float64 `json:"zipf"`
	// DupPct, RefusePct and InvalidPct are the percent of events that are
	// upstream retries, refused by the ledger, and malformed.
	DupPct     int `json:"dup_pct"`
	RefusePct  int `json:"refuse_pct"`
	InvalidPct int `json:"invalid_pct"`
	// Part2 mixes in part 2's events as a retailer's day has them (gen's
	// "checkout" mix: web checkouts holding before they order, abandoned
	// carts, rare listing, override and transfer changes) with a clock
	// event every clockEvery events in every partition.
	Part2 bool `json:"part2,omitempty"`
}

// clockEvery spaces a part 2 stream's clock events: a clock a second at
// 10,000 events/s.
const clockEvery = 10_000

func (c StreamConfig) validate(name string) []error {
	var errs []error
	if c.SKUs < 1 {
		errs = append(errs, fmt.Errorf("%s: skus %d must be at least 1", name, c.SKUs))
	}
	if c.Locations < 2 {
		errs = append(errs, fmt.Errorf("%s: locations %d must be at least 2 (transfers)", name, c.Locations))
	}
	if c.Channels < 1 {
		errs = append(errs, fmt.Errorf("%s: channels %d must be at least 1", name, c.Channels))
	}
	if c.Zipf != 0 && c.Zipf <= 1 {
		errs = append(errs, fmt.Errorf("%s: zipf %g must be 0 or above 1", name, c.Zipf))
	}
	if c.DupPct < 0 || c.RefusePct < 0 || c.InvalidPct < 0 || c.DupPct+c.RefusePct+c.InvalidPct > 50 {
		errs = append(errs, fmt.Errorf("%s: dup/refuse/invalid percents must be non-negative and sum to at most 50", name))
	}
	return errs
}

func names(n int, defaults []string, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		if i < len(defaults) {
			out[i] = defaults[i]
		} else {
			out[i] = fmt.Sprintf("%s-%d", prefix, i)
		}
	}
	return out
}

func (c StreamConfig) locations() []string {
	return names(c.Locations, []string{"dc-east", "dc-west", "store-1", "store-2"}, "loc")
}

func (c StreamConfig) channels() []string {
	return names(c.Channels, []string{"web", "amazon", "ebay", "pos"}, "chan")
}

func (c StreamConfig) gen() *gen.Generator {
	return gen.New(gen.Config{
		Seed: c.Seed, SKUs: c.SKUs, Locations: c.locations(), Channels: c.channels(),
		Zipf: c.Zipf, DupPct: c.DupPct, RefusePct: c.RefusePct, InvalidPct: c.InvalidPct,
		Part2: c.Part2, Part2Mix: "checkout", ClockEvery: map[bool]int{true: clockEvery}[c.Part2],
	})
}

// events holds encoded events as the events topic receives them, packed
// in one buffer: millions of them cost little more than their bytes.
type events struct {
	data   []byte
	ends   []int64 // end of record i's key+value in data
	keyLen []uint8
	policy []bool   // a channel_policy or clock: one copy to every partition
	ids    []uint64 // idHash of the event_id (0 when it has none)
}

func newEvents(n int) *events {
	return &events{data: make([]byte, 0, n*128), ends: make([]int64, 0, n), keyLen: make([]uint8, 0, n),
		policy: make([]bool, 0, n), ids: make([]uint64, 0, n)}
}

func (e *events) len() int { return len(e.ends) }

func (e *events) at(i int) (key, value []byte, policy bool) {
	start := int64(0)
	if i > 0 {
		start = e.ends[i-1]
	}
	k := start + int64(e.keyLen[i])
	return e.data[start:k:k], e.data[k:e.ends[i]:e.ends[i]], e.policy[i]
}

func (e *events) add(key string, policy bool, id string, value []byte) {
	if len(key) > 255 {
		key = key[:255]
	}
	e.data = append(append(e.data, key...), value...)
	e.ends = append(e.ends, int64(len(e.data)))
	e.keyLen = append(e.keyLen, uint8(len(key)))
	e.policy = append(e.policy, policy)
	e.ids = append(e.ids, idHash(id))
}

// idHash is FNV-1a of an event_id (0 stays "no id").
func idHash(id string) uint64 {
	if id == "" {
		return 0
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h | 1
}

func idHashBytes(id []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range id {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h | 1
}

// source emits the JSON lines of a stream, one at a time. A line is not
// changed after it is returned.
type source interface {
	next() []byte
}

// encoder turns a JSON line into what the events topic holds: Avro when
// the line parses (even when the ledger must refuse it), else the raw
// line, which the processor dead-letters as undecodable.
type encoder struct {
	ev  ledger.Event
	buf []byte
}

func (c *encoder) add(dst *events, line []byte) {
	ev := &c.ev
	ev.Reset()
	if r, _ := schemas.ParseEventJSON(line, ev); r == ledger.ReasonNone {
		if v, err := schemas.EncodeEvent(c.buf[:0], ev); err == nil {
			c.buf = v
			dst.add(ev.SKU, ev.Type.Broadcast(), ev.ID, v)
			return
		}
	}
	dst.add(ev.SKU, false, "", line)
}

// steadySource is a retailer's realistic stream (ledger/gen).
type steadySource struct {
	g *gen.Generator
}

func newSteadySource(c StreamConfig) *steadySource { return &steadySource{g: c.gen()} }

func (s *steadySource) next() []byte { return s.g.Next() }

// HotSpot is a flash sale: HotPct percent of events are on HotSKUs
// SKUs, mostly orders (with the shipments, cancellations and restocking
// receipts that keep open orders bounded), the rest the steady stream.
type HotSpot struct {
	HotSKUs int `json:"hot_skus"`
	HotPct  int `json:"hot_pct"`
}

// flashSource interleaves hot-SKU flash-sale events with a steady stream.
type flashSource struct {
	cfg        HotSpot
	bg         *steadySource
	r          *rand.Rand
	channels   []string
	locations  []string
	open       [][]string // per hot SKU: open order ids, oldest first
	n          int
	start      time.Time
	primedUpTo int
}

func newFlashSource(c StreamConfig, f HotSpot) *flashSource {
	return &flashSource{
		cfg: f, bg: newSteadySource(c), r: rand.New(rand.NewPCG(c.Seed, 0xf1a54)),
		channels: c.channels(), locations: c.locations(), open: make([][]string, f.HotSKUs),
		start: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
	}
}

func (s *flashSource) next() []byte {
	if s.primedUpTo < len(s.channels) {
		s.primedUpTo++
		return s.bg.next() // the generator's first events are the channel policies
	}
	s.n++
	if s.r.IntN(100) >= s.cfg.HotPct {
		return s.bg.next()
	}
	h := s.r.IntN(s.cfg.HotSKUs)
	sku := fmt.Sprintf("FLASH-%03d", h)
	at := s.start.Add(time.Duration(s.n) * time.Millisecond).Format(time.RFC3339Nano)
	head := fmt.Sprintf(`{"event_id":"f-%d","sku":%q,"occurred_at":%q`, s.n, sku, at)
	loc := s.locations[s.r.IntN(len(s.locations))]
	k := s.r.IntN(100)
	switch open := &s.open[h]; {
	case k < 4: // the warehouse restocks
		return fmt.Appendf(nil, `%s,"type":"receipt","location":%q,"qty":%d}`, head, loc, 20+s.r.IntN(40))
	case k < 6 && len(*open) > 0: // a buyer changes their mind
		id := (*open)[0]
		*open = (*open)[1:]
		return fmt.Appendf(nil, `%s,"type":"order_cancelled","order_id":%q}`, head, id)
	case len(*open) > 0 && (len(*open) >= 200 || k < 45): // the oldest order ships
		id := (*open)[0]
		*open = (*open)[1:]
		return fmt.Appendf(nil, `%s,"type":"shipment","location":%q,"qty":1,"order_id":%q}`, head, loc, id)
	default:
		id := fmt.Sprintf("FO-%d", s.n)
		*open = append(*open, id)
		pin := ""
		if s.r.IntN(2) == 0 {
			pin = fmt.Sprintf(`,"location":%q`, loc)
		}
		return fmt.Appendf(nil, `%s,"type":"order","channel":%q,"order_id":%q,"qty":%d%s}`,
			head, s.channels[s.r.IntN(len(s.channels))], id, 1+s.r.IntN(2), pin)
	}
}

// catalogSource is a catalog being stocked: the channel policies, then one
// receipt per (SKU, location), SKU by SKU, so n events leave about n
// SKU-locations of state (the scale workload).
type catalogSource struct {
	channels, locations []string
	policies            *gen.Generator
	sent                int
	start               time.Time
}

func newCatalogSource(c StreamConfig) *catalogSource {
	return &catalogSource{channels: c.channels(), locations: c.locations(), policies: c.gen(),
		start: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
}

func (s *catalogSource) next() []byte {
	if s.sent < len(s.channels) {
		s.sent++
		return s.policies.Next()
	}
	i := s.sent - len(s.channels)
	s.sent++
	l := len(s.locations)
	at := s.start.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `{"event_id":"init-%d","type":"receipt","sku":"S-%08d","occurred_at":%q,"location":%q,"qty":%d}`,
		i, i/l, at, s.locations[i%l], 10+i%90)
}

// generate returns the next n events of src, encoded. The source runs on
// one goroutine; parsing and encoding, the expensive part, on one per CPU,
// chunk by chunk, and the chunks are joined in order: the result is the
// same as encoding the lines one by one.
func generate(src source, n int) *events {
	const chunk = 4096
	type job struct {
		lines [][]byte
		out   chan *events
	}
	jobs := make(chan job, 4)
	order := make(chan chan *events, 64)
	go func() {
		defer close(jobs)
		defer close(order)
		for done := 0; done < n; {
			k := min(chunk, n-done)
			lines := make([][]byte, k)
			for i := range lines {
				lines[i] = src.next()
			}
			done += k
			j := job{lines: lines, out: make(chan *events, 1)}
			order <- j.out
			jobs <- j
		}
	}()
	for range max(1, runtime.GOMAXPROCS(0)) {
		go func() {
			var enc encoder
			for j := range jobs {
				e := newEvents(len(j.lines))
				for _, l := range j.lines {
					enc.add(e, l)
				}
				j.out <- e
			}
		}()
	}
	all := newEvents(n)
	for out := range order {
		all.append(<-out)
	}
	return all
}

// append adds every event of o to e.
func (e *events) append(o *events) {
	base := int64(len(e.data))
	e.data = append(e.data, o.data...)
	for _, end := range o.ends {
		e.ends = append(e.ends, base+end)
	}
	e.keyLen = append(e.keyLen, o.keyLen...)
	e.policy = append(e.policy, o.policy...)
	e.ids = append(e.ids, o.ids...)
}
