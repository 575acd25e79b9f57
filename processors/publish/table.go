package publish

import (
	"container/heap"
	"time"
)

// value is one update of a key, as the table keeps it.
type value struct {
	sku, listing string
	available    int64
	version      uint64
	occurredAt   int64     // event time, µs since the epoch
	appended     time.Time // the update record's timestamp
	offset       int64     // the update record's offset
}

// key is what the table knows of one key of the updates topic (one
// channel/sku, or channel/sku/listing_sku).
type key struct {
	name      string // the record key
	partition int32
	latest    value // the highest version read
	acked     value // the last value the channel acknowledged
	hasAcked  bool
	inFlight  bool
	// queued: in the zero queue (bit 1) and/or the other queue (bit 2).
	queued uint8
}

const (
	inZero  = 1
	inOther = 2
)

// dirty reports whether the channel lacks k's latest value.
func (k *key) dirty() bool { return !k.hasAcked || k.latest.version > k.acked.version }

// Observed is what the table made of an update read from the topic.
type Observed uint8

const (
	ObservedNewer   Observed = iota // a new value, to send
	ObservedSkipped                 // a new version of the value the channel acknowledged: nothing to send
	ObservedOld                     // a version the table already had, or a lower one (a repeat after a crash)
)

// table is the publisher's state: every key of its partitions, the keys to
// send in the order to send them (zero-outs first, then in the order they
// became dirty), and per partition the offsets of dirty keys, so that the
// committed offset stays below the oldest one. Not safe for concurrent
// use: the publisher guards it.
type table struct {
	keys        map[string]*key
	zero, other []*key // FIFO queues; entries whose key is no longer dirty are dropped when popped
	parts       map[int32]*partOffsets
	pending     int // dirty keys
}

func newTable() *table {
	return &table{keys: map[string]*key{}, parts: map[int32]*partOffsets{}}
}

// observe folds in an update read at (partition, offset).
func (t *table) observe(name string, partition int32, v value) Observed {
	k := t.keys[name]
	if k == nil {
		k = &key{name: name, partition: partition}
		t.keys[name] = k
	} else if v.version <= k.latest.version {
		return ObservedOld
	}
	wasDirty := k.latest.version != 0 && k.dirty()
	k.latest = v
	if k.hasAcked && k.acked.available == v.available && !k.inFlight {
		k.acked = v
		if wasDirty {
			t.pending--
		}
		return ObservedSkipped
	}
	if !wasDirty {
		t.pending++
	}
	t.part(partition).push(v.offset, k)
	t.enqueue(k)
	return ObservedNewer
}

func (t *table) part(p int32) *partOffsets {
	po := t.parts[p]
	if po == nil {
		po = &partOffsets{}
		t.parts[p] = po
	}
	return po
}

// enqueue puts a dirty key that is not in flight in the queue its latest
// value belongs to (a key can sit in both: it is sent from whichever it is
// popped from first).
func (t *table) enqueue(k *key) {
	if k.inFlight {
		return
	}
	if k.latest.available == 0 && k.queued&inZero == 0 {
		k.queued |= inZero
		t.zero = append(t.zero, k)
	} else if k.latest.available != 0 && k.queued&inOther == 0 {
		k.queued |= inOther
		t.other = append(t.other, k)
	}
}

// ready reports whether take would return a key.
func (t *table) ready() bool {
	t.zero = t.dropStale(t.zero, inZero)
	t.other = t.dropStale(t.other, inOther)
	return len(t.zero)+len(t.other) > 0
}

// dropStale pops the queue's leading keys that have nothing to send.
func (t *table) dropStale(q []*key, bit uint8) []*key {
	for len(q) > 0 && (q[0].inFlight || !q[0].dirty()) {
		q[0].queued &^= bit
		q[0] = nil
		q = q[1:]
	}
	return q
}

// take returns up to n dirty keys' latest values to send, zero-outs first,
// and marks those keys in flight.
func (t *table) take(n int) []sentValue {
	var out []sentValue
	for _, bit := range []uint8{inZero, inOther} {
		q := &t.zero
		if bit == inOther {
			q = &t.other
		}
		for len(out) < n && len(*q) > 0 {
			k := (*q)[0]
			(*q)[0] = nil
			*q = (*q)[1:]
			k.queued &^= bit
			if k.inFlight || !k.dirty() {
				continue
			}
			k.inFlight = true
			out = append(out, sentValue{k, k.latest})
		}
	}
	return out
}

// settle ends a request that carried sent (each key's value as sent): with
// ok, the channel holds those values. A key the table no longer has (its
// partition went to another publisher meanwhile) is ignored.
func (t *table) settle(sent []sentValue, ok bool) {
	for _, s := range sent {
		k := s.key
		if t.keys[k.name] != k {
			continue
		}
		k.inFlight = false
		if ok && (!k.hasAcked || s.v.version > k.acked.version) {
			k.acked, k.hasAcked = s.v, true
			// A later value equal to the one just acknowledged (read
			// while this one was in flight) needs no request of its own.
			if k.dirty() && k.latest.available == k.acked.available {
				k.acked = k.latest
			}
			if !k.dirty() {
				t.pending--
			}
		}
		if !ok {
			// The channel may have applied the request and lost its
			// answer: what it holds is unknown until the next ack, so no
			// later value may be skipped as equal to the last acked one.
			k.hasAcked = false
		}
		if k.dirty() {
			t.enqueue(k)
		}
	}
}

// sentValue is a key's value as a request carried it.
type sentValue struct {
	key *key
	v   value
}

// commitOffsets returns, per partition the table has read, the offset a
// restart may resume at: the oldest dirty key's latest offset, else next.
func (t *table) commitOffsets() map[int32]int64 {
	out := make(map[int32]int64, len(t.parts))
	for p, po := range t.parts {
		if po.next == 0 {
			continue
		}
		out[p] = po.safe()
	}
	return out
}

// read records that partition p has been read up to next (exclusive).
func (t *table) read(p int32, next int64) {
	if po := t.part(p); next > po.next {
		po.next = next
	}
}

// drop forgets partition p's keys (another publisher has it now).
func (t *table) drop(p int32) {
	for name, k := range t.keys {
		if k.partition == p {
			if k.dirty() {
				t.pending--
			}
			k.inFlight, k.hasAcked, k.acked = false, true, k.latest // so queued copies are dropped
			delete(t.keys, name)
		}
	}
	delete(t.parts, p)
}

// partOffsets is a partition's read position and a min-heap of the
// offsets of its dirty keys' latest values; an entry whose key is no
// longer dirty, or has a later value, is dropped when it reaches the top.
type partOffsets struct {
	next int64
	h    offsetHeap
}

func (po *partOffsets) push(off int64, k *key) { heap.Push(&po.h, offsetEntry{off, k}) }

func (po *partOffsets) safe() int64 {
	for len(po.h) > 0 {
		e := po.h[0]
		if e.k.dirty() && e.k.latest.offset == e.off {
			return min(e.off, po.next)
		}
		heap.Pop(&po.h)
	}
	return po.next
}

type offsetEntry struct {
	off int64
	k   *key
}

type offsetHeap []offsetEntry

func (h offsetHeap) Len() int           { return len(h) }
func (h offsetHeap) Less(i, j int) bool { return h[i].off < h[j].off }
func (h offsetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *offsetHeap) Push(x any)        { *h = append(*h, x.(offsetEntry)) }
func (h *offsetHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
