package ledger

import "slices"

// Book is an in-memory ledger of one partition: its policies and every SKU
// it knows. It is the whole fold in one value, for replays, audits and
// tests; the processor keeps the same states in Pebble instead.
type Book struct {
	Partition Partition
	SKUs      map[string]*SKU
}

// NewBook returns an empty book.
func NewBook(cfg Config) *Book {
	return &Book{Partition: Partition{Config: cfg}, SKUs: make(map[string]*SKU)}
}

// Apply applies any event. A channel_policy reaches every known SKU in SKU
// order.
func (b *Book) Apply(ev *Event, fx *Effects) Result {
	if ev.Type == TypeChannelPolicy {
		res := b.Partition.ApplyChannelPolicy(ev)
		if res.Outcome == Applied {
			for _, name := range b.Names() {
				b.Partition.ReachSKU(b.SKUs[name], ev, fx)
			}
		}
		return res
	}
	if r, d := Validate(ev); r != ReasonNone {
		return refuse(r, d)
	}
	s, ok := b.SKUs[ev.SKU]
	if !ok {
		s = &SKU{Name: ev.SKU}
	}
	res := b.Partition.ApplyValid(s, ev, fx)
	if res.Outcome == Applied && !ok {
		b.SKUs[ev.SKU] = s
	}
	return res
}

// ApplyRecord applies an event read from a record placed as pl: an event
// of a SKU's type that sits where its SKU does not belong is refused
// (Placement.Check) before anything else looks at it.
func (b *Book) ApplyRecord(ev *Event, pl *Placement, fx *Effects) Result {
	if r, d := pl.Check(ev); r != ReasonNone {
		return refuse(r, d)
	}
	return b.Apply(ev, fx)
}

// Names lists the known SKUs in order.
func (b *Book) Names() []string {
	names := make([]string, 0, len(b.SKUs))
	for n := range b.SKUs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
