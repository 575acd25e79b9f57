package ledger

import "hash/maphash"

// IDWindow remembers applied event ids in the order they were applied,
// forgetting the oldest once there are more than a limit or once they are
// older than a retention (in event time). Small windows are scanned; past
// indexAt entries a hash table indexes them.
//
// The table is open addressing with linear probing over the ids' positions
// (not the strings: the window holds them), with backward-shift deletion.
// A window is a FIFO of unique ids, so every add is an insert and every
// eviction deletes the oldest; a best seller's window (10,000 ids) turns
// over constantly, which a Go map with string keys paid for in hashing,
// tombstones and rehashes on every event.
type IDWindow struct {
	ids   []SeenID
	head  int
	slots []uint64 // position+1 of an id, 0 for an empty slot; nil while scanned
	used  int
	// evicted counts the ids ever forgotten: the position, in the SKU's
	// sequence of applied ids, of the oldest one remembered. The persisted
	// form (layout.go) uses positions; the canonical encoding does not.
	evicted uint64
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
	if w.slots != nil {
		_, ok := w.find(id)
		return ok
	}
	for i := w.head; i < len(w.ids); i++ {
		if w.ids[i].ID == id {
			return true
		}
	}
	return false
}

// Add remembers id, then forgets ids past maxIDs or older than oldest.
func (w *IDWindow) Add(id string, at int64, maxIDs int, oldest int64) {
	w.restore(id, at)
	for w.Len() > 0 && (w.Len() > maxIDs || w.ids[w.head].At < oldest) {
		if w.slots != nil {
			w.remove(w.ids[w.head].ID)
		}
		w.ids[w.head] = SeenID{}
		w.head++
		w.evicted++
	}
	if w.head > 32 && w.head > len(w.ids)/2 {
		n := copy(w.ids, w.ids[w.head:])
		clear(w.ids[n:])
		w.ids = w.ids[:n]
		w.head = 0
	}
}

// restore appends a remembered id (decoding; Add after its check).
func (w *IDWindow) restore(id string, at int64) {
	w.ids = append(w.ids, SeenID{ID: id, At: at})
	switch {
	case w.slots != nil && 2*(w.used+1) <= len(w.slots):
		i, _ := w.find(id)
		w.slots[i] = w.next()
		w.used++
	case w.slots != nil || w.Len() > indexAt:
		w.rebuild()
	}
}

var idSeed = maphash.MakeSeed()

// at returns the id at position pos (stored as pos+1 in a slot).
func (w *IDWindow) at(slot uint64) string { return w.ids[w.head+int(slot-1-w.evicted)].ID }

func (w *IDWindow) home(id string) int { return int(maphash.String(idSeed, id)) & (len(w.slots) - 1) }

// find returns id's slot, or the empty slot where it would go.
func (w *IDWindow) find(id string) (int, bool) {
	mask := len(w.slots) - 1
	for i := w.home(id); ; i = (i + 1) & mask {
		v := w.slots[i]
		if v == 0 {
			return i, false
		}
		if w.at(v) == id {
			return i, true
		}
	}
}

// remove deletes id from the table, shifting back the entries after it
// that would otherwise become unreachable.
func (w *IDWindow) remove(id string) {
	i, ok := w.find(id)
	if !ok {
		return
	}
	mask := len(w.slots) - 1
	for j := (i + 1) & mask; w.slots[j] != 0; j = (j + 1) & mask {
		// The entry at j may move to i unless its home lies cyclically
		// in (i, j].
		if k := w.home(w.at(w.slots[j])); (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			w.slots[i] = w.slots[j]
			i = j
		}
	}
	w.slots[i] = 0
	w.used--
}

// rebuild sizes the table for twice the window and indexes every id.
func (w *IDWindow) rebuild() {
	n := 64
	for n < 4*w.Len() {
		n *= 2
	}
	w.slots, w.used = make([]uint64, n), 0
	for p := range w.Len() {
		i, _ := w.find(w.ids[w.head+p].ID)
		w.slots[i] = w.evicted + uint64(p) + 1
		w.used++
	}
}
