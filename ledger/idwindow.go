package ledger

import "hash/maphash"

// IDWindow remembers applied event ids in the order they were applied,
// forgetting the oldest once there are more than a limit or once they are
// older than a retention (in event time). Every id's tag (a 32-bit hash) is
// kept beside it. Small windows are scanned, by tag, so a check of a new id
// touches no string (the ids of a SKU's few events lie far apart in
// memory: comparing each was a cache miss); past indexAt entries a hash
// table indexes them.
//
// The table is open addressing with linear probing. A slot holds an id's
// position (not the string: the window holds it) and a 32-bit tag of its
// hash, whose top bits are also its home slot. A window is a FIFO of
// unique ids, so every add is an insert and every eviction forgets the
// oldest; a best seller's window (10,000 ids) turns over constantly, which
// a Go map with string keys paid for in hashing, tombstones and rehashes on
// every event. With the tags, a check of a new id (the common case)
// touches no string, and a check followed by an add of the same id
// (lookup, then add: ApplyValid) hashes and probes once.
//
// An eviction does not touch the table: a slot whose position is no longer
// in the window is stale, skipped by probes and reused by inserts, and the
// table is rebuilt from the tags (no string read) once the slots filled
// since the last rebuild reach half of it. Deleting the oldest id's slot
// on every eviction was a second probe per event into a table far larger
// than the caches, a cache miss each: 4% of a replay's CPU.
type IDWindow struct {
	ids  []SeenID
	tags []uint32 // tags[i] is the tag of ids[i] (0 before head)
	head int
	// headAt is ids[head].At, kept here so that an add that forgets
	// nothing does not read the oldest id (a cache miss of its own).
	headAt int64
	ix     *idIndex // nil while scanned
	// evicted counts the ids ever forgotten: the position, in the SKU's
	// sequence of applied ids, of the oldest one remembered. The persisted
	// form (layout.go) uses positions; the canonical encoding does not.
	evicted uint64
}

// idIndex is the hash table of an indexed window.
type idIndex struct {
	slots []uint64 // tag<<32 | uint32(position); 0 for an empty slot
	// used counts the slots filled since the last rebuild, live or
	// stale since, stale ones reused included: at half the table it is
	// rebuilt, so probes stay short and no stale slot lives long enough
	// for its 32-bit position to come round again.
	used  int
	shift uint8 // home slot = tag >> shift
}

// next is the position the next id added will have.
func (w *IDWindow) next() uint64 { return w.evicted + uint64(w.Len()) }

// since returns the remembered ids at positions pos and later.
func (w *IDWindow) since(pos uint64) []SeenID {
	if pos <= w.evicted {
		return w.IDs()
	}
	return w.ids[w.head+int(min(pos-w.evicted, uint64(w.Len()))):]
}

// SeenID is one remembered event id and its occurred_at.
type SeenID struct {
	ID string
	At int64
}

const indexAt = 16

// Len is the number of ids remembered.
func (w *IDWindow) Len() int { return len(w.ids) - w.head }

// IDs returns the remembered ids, oldest first. The slice is w's own.
func (w *IDWindow) IDs() []SeenID { return w.ids[w.head:] }

// Contains reports whether id is remembered.
func (w *IDWindow) Contains(id string) bool {
	_, ok := w.lookup(id)
	return ok
}

// idProbe is where lookup looked for an id: its tag and the slot where it
// is or would go (-1 when the window is scanned; tag 0: not looked up).
type idProbe struct {
	tag  uint32
	slot int
}

// lookup reports whether id is remembered, and where it would be added.
// The probe stays valid until w changes.
func (w *IDWindow) lookup(id string) (idProbe, bool) {
	tag := idTag(id)
	if w.ix == nil {
		for i := w.head; i < len(w.ids); i++ {
			if w.tags[i] == tag && w.ids[i].ID == id {
				return idProbe{tag, -1}, true
			}
		}
		return idProbe{tag, -1}, false
	}
	i, ok := w.find(id, tag)
	return idProbe{tag, i}, ok
}

// Add remembers id, then forgets ids past maxIDs or older than oldest.
func (w *IDWindow) Add(id string, at int64, maxIDs int, oldest int64) {
	w.add(id, at, idProbe{slot: -1}, maxIDs, oldest)
}

// add is Add with lookup's probe of id (w unchanged since).
func (w *IDWindow) add(id string, at int64, pr idProbe, maxIDs int, oldest int64) {
	w.insert(id, at, pr)
	for w.Len() > 0 && (w.Len() > maxIDs || w.headAt < oldest) {
		w.tags[w.head] = 0 // its slot in the table goes stale
		w.ids[w.head] = SeenID{}
		w.head++
		w.evicted++
		if w.Len() > 0 {
			w.headAt = w.ids[w.head].At
		}
	}
	if w.head > 32 && w.head > len(w.ids)/2 {
		n := copy(w.ids, w.ids[w.head:])
		clear(w.ids[n:])
		w.ids = w.ids[:n]
		copy(w.tags, w.tags[w.head:])
		w.tags = w.tags[:n]
		w.head = 0
	}
}

// restore appends a remembered id (decoding).
func (w *IDWindow) restore(id string, at int64) { w.insert(id, at, idProbe{slot: -1}) }

// insert appends id, indexing it (at pr's slot when pr was probed).
func (w *IDWindow) insert(id string, at int64, pr idProbe) {
	if pr.tag == 0 {
		pr.tag = idTag(id)
	}
	w.ids = append(w.ids, SeenID{ID: id, At: at})
	w.tags = append(w.tags, pr.tag)
	if w.Len() == 1 {
		w.headAt = at
	}
	x := w.ix
	switch {
	case x != nil && 2*(x.used+1) <= len(x.slots):
		if pr.slot < 0 {
			pr.slot, _ = w.find(id, pr.tag)
		}
		// An empty or a stale slot: lookup's probe, before the append,
		// saw the same stale slots (positions below evicted stay out of
		// the window).
		x.slots[pr.slot] = uint64(pr.tag)<<32 | uint64(uint32(w.next()-1))
		x.used++
	case x != nil || w.Len() > indexAt:
		w.rebuild()
	}
}

var idSeed = maphash.MakeSeed()

// idTagMask is all ones; tests narrow it to make tags collide.
var idTagMask = ^uint32(0)

// idTag is id's tag: the top half of its hash, never 0.
func idTag(id string) uint32 { return (uint32(maphash.String(idSeed, id)>>32) | 1) & idTagMask }

// at returns the id of slot value v (a live one).
func (w *IDWindow) at(v uint64) string { return w.ids[w.head+int(uint32(v)-uint32(w.evicted))].ID }

// live reports whether slot value v (not empty) names an id in the window.
func (w *IDWindow) live(v uint64) bool { return uint32(v)-uint32(w.evicted) < uint32(w.Len()) }

// find returns id's slot, or the slot where it would go: the first stale
// slot on its probe, else the empty slot that ends it.
func (w *IDWindow) find(id string, tag uint32) (int, bool) {
	x := w.ix
	mask := len(x.slots) - 1
	free := -1
	for i := int(tag >> x.shift); ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			if free < 0 {
				free = i
			}
			return free, false
		}
		if !w.live(v) {
			if free < 0 {
				free = i
			}
			continue
		}
		if uint32(v>>32) == tag && w.at(v) == id {
			return i, true
		}
	}
}

// rebuild sizes the table for at least three times the window and indexes
// every id in it, from the tags alone (the ids are unique: no compare).
// The table is at most a third full after a rebuild and half full before
// the next (insert); a capped window of 10,000 ids settles in 32,768 slots
// (256 KiB), rebuilt in place every 6,000 or so adds.
func (w *IDWindow) rebuild() {
	n, bits := 64, 6
	for n < 3*w.Len() {
		n, bits = n*2, bits+1
	}
	x := w.ix
	if x != nil && len(x.slots) == n {
		clear(x.slots)
	} else {
		x = &idIndex{slots: make([]uint64, n)}
		w.ix = x
	}
	x.shift = uint8(32 - bits)
	mask := n - 1
	for p := w.head; p < len(w.ids); p++ {
		tag := w.tags[p]
		i := int(tag >> x.shift)
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = uint64(tag)<<32 | uint64(uint32(w.evicted+uint64(p-w.head)))
	}
	x.used = w.Len()
}
