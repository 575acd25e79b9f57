package ledger

// IDWindow remembers applied event ids in the order they were applied,
// forgetting the oldest once there are more than a limit or once they are
// older than a retention (in event time). Small windows are scanned; past
// indexAt entries a map indexes them.
type IDWindow struct {
	ids   []SeenID
	head  int
	index map[string]struct{}
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
	if w.index != nil {
		_, ok := w.index[id]
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
	w.ids = append(w.ids, SeenID{ID: id, At: at})
	if w.index != nil {
		w.index[id] = struct{}{}
	} else if w.Len() > indexAt {
		w.index = make(map[string]struct{}, 2*w.Len())
		for _, s := range w.ids[w.head:] {
			w.index[s.ID] = struct{}{}
		}
	}
	for w.Len() > 0 && (w.Len() > maxIDs || w.ids[w.head].At < oldest) {
		if w.index != nil {
			delete(w.index, w.ids[w.head].ID)
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

// restore appends a remembered id (decoding).
func (w *IDWindow) restore(id string, at int64) {
	w.ids = append(w.ids, SeenID{ID: id, At: at})
	if w.index != nil {
		w.index[id] = struct{}{}
	} else if w.Len() > indexAt {
		w.index = make(map[string]struct{}, 2*w.Len())
		for _, s := range w.ids[w.head:] {
			w.index[s.ID] = struct{}{}
		}
	}
}
