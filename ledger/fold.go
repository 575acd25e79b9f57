package ledger

import "slices"

// Loader reads the states a Fold does not hold in memory: a store's, for a
// fold whose states do not all fit, or were committed before it started.
type Loader interface {
	// LoadSKU reads name's state into s, reporting whether there was one.
	LoadSKU(name string, s *SKU) (bool, error)
	// LoadSKUs calls fn with every state the loader holds.
	LoadSKUs(fn func(*SKU) error) error
}

// ManyLoader is a Loader that also reads many states in one pass: names
// sorted and distinct, fn called with each state it holds (the SKU may be
// reused once fn returns).
type ManyLoader interface {
	Loader
	LoadMany(names []string, fn func(*SKU) error) error
}

// Fold is one partition's fold of events: validate, find the SKU's state
// (in memory, else from the Loader, else new), apply, and bring an applied
// channel_policy to every SKU the partition knows. It holds the hot states,
// finds them by name without allocating (Name), and remembers which changed
// since the last Clean. Every driver of the fold (the processor, replays,
// history, backtests, tests) folds through it; they differ in settings
// (P.DeferPublish), in their Loader and in what they do with the results.
type Fold struct {
	P    Partition
	load Loader // nil: every state is in memory
	// Cold: the loader may hold states that are not hot (they were
	// committed before this fold started, or evicted since).
	Cold bool

	hot   map[string]*hotState
	short map[NameKey]*hotState // the hot states whose names fit a NameKey
	dirty []*hotState           // changed since Clean, in the order first changed
	// saved: the batches up to this one are in the loader (CleanAs, Saved).
	saved uint64
	hit   *hotState // the state Name last handed out a name of
	last  *hotState // the state Name last found (events of a SKU often follow each other)

	// absent: names the last Prefetch found neither hot nor in the loader;
	// a name leaves it when its state becomes hot (put), so the loader
	// cannot have gained it meanwhile.
	absent map[string]struct{}
	want   []string // Prefetch's scratch

	// expiry: the partition's open holds by expiry (expiry.go); complete
	// once expiryKnown (a fold with a loader fills it at its first clock).
	expiry      expiryHeap
	expiryKnown bool
}

type hotState struct {
	s     SKU
	dirty bool
	// batch: the last batch whose writes carry this state (CleanAs); until
	// the loader holds it (Saved), the state must stay hot.
	batch uint64
}

// NewFold returns an empty fold. With a loader, the fold starts cold: it
// looks there for every SKU it does not hold.
func NewFold(cfg Config, load Loader) *Fold {
	return &Fold{P: Partition{Config: cfg}, load: load, Cold: load != nil, expiryKnown: load == nil,
		hot: make(map[string]*hotState), short: make(map[NameKey]*hotState)}
}

// Name returns the name b spells: a hot SKU's own string when there is
// one (found without allocating, and remembered, so the Apply that follows
// does not look it up again), else a new string. A decoder that interns
// SKU names through it hands every event of a hot SKU the same string.
func (f *Fold) Name(b []byte) string {
	if h := f.last; h != nil && h.s.Name == string(b) {
		f.hit = h
		return h.s.Name
	}
	if h, _ := LookupName(f.short, f.hot, b); h != nil {
		f.hit, f.last = h, h
		return h.s.Name
	}
	f.hit = nil
	return string(b)
}

// Apply applies ev: a channel_policy to the partition and then to every
// known SKU, in SKU order; any other event, once valid, to its SKU. Updates
// and alerts go to fx. An error is the loader's: nothing of ev is applied
// to a SKU the loader could not read, and the caller must not commit.
func (f *Fold) Apply(ev *Event, fx *Effects) (Result, error) {
	switch ev.Type {
	case TypeChannelPolicy:
		res := f.P.ApplyChannelPolicy(ev)
		if res.Outcome != Applied {
			return res, nil
		}
		return res, f.reachAll(ev, fx)
	case TypeClock:
		return f.applyClock(ev, fx)
	}
	if r, d := Validate(ev); r != ReasonNone {
		return refuse(r, d), nil
	}
	h, hot, err := f.state(ev.SKU)
	if err != nil {
		return Result{}, err
	}
	h0 := len(fx.HoldResults)
	res := f.P.ApplyValid(&h.s, ev, fx)
	if res.Outcome == Applied {
		if !hot {
			f.put(h) // a SKU joins the hot set once an event applies to it
		}
		f.markDirty(h)
		f.noteHolds(fx, h0)
	}
	return res, nil
}

// state returns name's state and whether it is hot: the one Name just
// found, else from memory, else from the loader when the fold is cold,
// else a new SKU (not hot until an event applies to it).
func (f *Fold) state(name string) (*hotState, bool, error) {
	if h := f.hit; h != nil && h.s.Name == name {
		f.hit = nil
		return h, true, nil
	}
	if h, ok := f.hot[name]; ok {
		return h, true, nil
	}
	h := &hotState{}
	if _, absent := f.absent[name]; f.Cold && !absent {
		found, err := f.load.LoadSKU(name, &h.s)
		if err != nil {
			return nil, false, err
		}
		if found {
			f.put(h)
			return h, true, nil
		}
	}
	h.s = SKU{Name: name}
	return h, false, nil
}

// Prefetch loads, ahead of the events that need them, the states of names
// (a batch's SKUs, repeats allowed; the bytes are not kept) that are not
// hot, in one sorted pass over the loader when it is a ManyLoader: the
// fold then reads none of them one by one. The names the loader does not
// hold are remembered as absent until their state becomes hot.
func (f *Fold) Prefetch(names [][]byte) error {
	clear(f.absent)
	if !f.Cold {
		return nil
	}
	want := f.want[:0]
	for _, b := range names {
		if h, _ := LookupName(f.short, f.hot, b); h == nil {
			want = append(want, string(b))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	f.want = want
	if len(want) == 0 {
		return nil
	}
	if f.absent == nil {
		f.absent = make(map[string]struct{}, len(want))
	}
	for _, n := range want {
		f.absent[n] = struct{}{}
	}
	if err := f.loadMany(want); err != nil {
		clear(f.absent) // some of them may be there after all
		return err
	}
	return nil
}

// loadMany makes hot the states of names (sorted, distinct) the loader
// holds.
func (f *Fold) loadMany(names []string) error {
	keep := func(s *SKU) error {
		f.put(&hotState{s: *s})
		return nil
	}
	if ml, ok := f.load.(ManyLoader); ok {
		return ml.LoadMany(names, keep)
	}
	for _, n := range names {
		var s SKU
		found, err := f.load.LoadSKU(n, &s)
		if err == nil && found {
			err = keep(&s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reachAll brings an applied channel_policy to every known SKU in SKU
// order, first loading every state the loader holds that is not hot.
func (f *Fold) reachAll(ev *Event, fx *Effects) error {
	if f.Cold {
		err := f.load.LoadSKUs(func(s *SKU) error {
			if _, ok := f.hot[s.Name]; !ok {
				f.put(&hotState{s: *s})
			}
			return nil
		})
		if err != nil {
			return err
		}
		f.Cold = false
	}
	names := make([]string, 0, len(f.hot))
	for name, h := range f.hot {
		if h.s.Known() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		h := f.hot[name]
		f.P.ReachSKU(&h.s, ev, fx)
		f.markDirty(h)
	}
	return nil
}

func (f *Fold) put(h *hotState) {
	if len(f.absent) > 0 {
		delete(f.absent, h.s.Name)
	}
	f.hot[h.s.Name] = h
	if k, ok := MakeNameKey([]byte(h.s.Name)); ok {
		f.short[k] = h
	}
}

func (f *Fold) markDirty(h *hotState) {
	if !h.dirty {
		h.dirty = true
		f.dirty = append(f.dirty, h)
	}
}

// Dirty calls fn with every state changed since the last Clean, in the
// order each first changed, stopping at the first error.
func (f *Fold) Dirty(fn func(*SKU) error) error {
	for _, h := range f.dirty {
		if err := fn(&h.s); err != nil {
			return err
		}
	}
	return nil
}

// DirtyLen is the number of states changed since the last Clean.
func (f *Fold) DirtyLen() int { return len(f.dirty) }

// Clean forgets which states changed: the caller has persisted them.
func (f *Fold) Clean() { f.CleanAs(0) }

// CleanAs forgets which states changed: the caller has taken their
// persisted forms into batch (numbered from 1, increasing), which reaches
// the loader later (Saved). Until then Evict keeps them: loaded again, they
// would be read as they were before the batch.
func (f *Fold) CleanAs(batch uint64) {
	for _, h := range f.dirty {
		h.dirty = false
		h.batch = batch
	}
	clear(f.dirty)
	f.dirty = f.dirty[:0]
}

// Saved records that the loader holds every batch up to batch.
func (f *Fold) Saved(batch uint64) { f.saved = max(f.saved, batch) }

// SKU returns name's hot state, or nil.
func (f *Fold) SKU(name string) *SKU {
	if h, ok := f.hot[name]; ok {
		return &h.s
	}
	return nil
}

// State returns name's hot state, or a new, empty one (not held) when the
// fold holds none: what an event of name would start from.
func (f *Fold) State(name string) *SKU {
	if s := f.SKU(name); s != nil {
		return s
	}
	return &SKU{Name: name}
}

// Put makes s its SKU's hot state (a state read back or restored from
// elsewhere), replacing the one held.
func (f *Fold) Put(s *SKU) {
	f.pushOpenHolds(s)
	if h, ok := f.hot[s.Name]; ok {
		h.s = *s
		return
	}
	f.put(&hotState{s: *s})
}

// Names lists the hot SKUs in order.
func (f *Fold) Names() []string {
	names := make([]string, 0, len(f.hot))
	for n := range f.hot {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Hot is the number of states held in memory.
func (f *Fold) Hot() int { return len(f.hot) }

// Evict drops clean states once more than max are hot, down to three
// quarters of max; the fold is then cold. Small states go first: a best
// seller's (thousands of orders and ids) costs the most to load again.
// Dirty states stay, and so do states of batches not yet Saved: the loader
// does not hold them yet.
func (f *Fold) Evict(max int) {
	if len(f.hot) <= max || f.load == nil {
		return
	}
	f.hit, f.last = nil, nil
	target := max * 3 / 4
	for _, small := range [2]bool{true, false} {
		for name, h := range f.hot {
			if len(f.hot) <= target {
				return
			}
			if !h.dirty && h.batch <= f.saved && (!small || h.s.Seen.Len() < 64) {
				f.drop(name)
			}
		}
	}
}

// Drop forgets every hot state (the caller rewinds to what the loader
// holds); the fold is then cold.
func (f *Fold) Drop() {
	for name := range f.hot {
		f.drop(name)
	}
	clear(f.absent)
	f.Clean()
	f.expiry, f.expiryKnown = nil, f.load == nil
}

func (f *Fold) drop(name string) {
	delete(f.hot, name)
	if k, ok := MakeNameKey([]byte(name)); ok {
		delete(f.short, k)
	}
	f.hit, f.last = nil, nil
	f.Cold = true
}

// NameKey is a SKU name of up to 23 bytes held in the key itself, zero
// padded, its length in the last byte (so "A" and "A\x00" differ). Looking
// a name up by a string key compares the bytes the key points to: a cache
// miss of its own per event in a ledger of many SKUs, which an inline key
// does not have.
type NameKey [24]byte

// MakeNameKey returns name's key, and false when name is too long for one.
func MakeNameKey(name []byte) (k NameKey, ok bool) {
	if len(name) >= len(k) {
		return k, false
	}
	copy(k[:], name)
	k[len(k)-1] = byte(len(name))
	return k, true
}

// LookupName looks a name up in short by its NameKey when it fits one,
// else in long (no string allocated).
func LookupName[V any](short map[NameKey]V, long map[string]V, name []byte) (V, bool) {
	if k, ok := MakeNameKey(name); ok {
		v, found := short[k]
		return v, found
	}
	v, found := long[string(name)]
	return v, found
}
