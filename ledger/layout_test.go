package ledger_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/schemas"
)

// kv is a SKU's persisted form as a store holds it: the state key and the
// parts, applied write by write.
type kv struct {
	state []byte
	parts map[uint32][]byte
}

// write is one StateWriter call.
type write struct {
	op  byte // 's' state, 'p' put part, 'd' delete part
	seq uint32
	v   []byte
}

type recorder struct{ ws []write }

func (r *recorder) PutState(v []byte)            { r.ws = append(r.ws, write{'s', 0, v}) }
func (r *recorder) PutPart(seq uint32, v []byte) { r.ws = append(r.ws, write{'p', seq, v}) }
func (r *recorder) DeletePart(seq uint32)        { r.ws = append(r.ws, write{'d', seq, nil}) }

// lender is a recorder that copies each value, as a store's batch does,
// and lends Persist its buffer for them (ledger's valueBuffer).
type lender struct {
	recorder
	buf []byte
}

func (l *lender) PutState(v []byte)            { l.recorder.PutState(bytes.Clone(v)) }
func (l *lender) PutPart(seq uint32, v []byte) { l.recorder.PutPart(seq, bytes.Clone(v)) }
func (l *lender) ValueBuffer() *[]byte         { return &l.buf }

func (k *kv) apply(ws []write) {
	if k.parts == nil {
		k.parts = map[uint32][]byte{}
	}
	for _, w := range ws {
		switch w.op {
		case 's':
			k.state = w.v
		case 'p':
			k.parts[w.seq] = w.v
		case 'd':
			delete(k.parts, w.seq)
		}
	}
}

func (k *kv) clone() *kv {
	return &kv{state: k.state, parts: maps.Clone(k.parts)}
}

// load decodes the SKU as a store reads it: the state key, then the parts
// of its range.
func (k *kv) load(name string) (*ledger.SKU, error) {
	first, next, split, err := ledger.PartRange(k.state)
	if err != nil {
		return nil, err
	}
	var parts [][]byte
	if split {
		for q := first; q < next; q++ {
			p, ok := k.parts[q]
			if !ok {
				return nil, fmt.Errorf("part %d missing", q)
			}
			parts = append(parts, p)
		}
	}
	s := new(ledger.SKU)
	return s, ledger.DecodeSKUParts(name, k.state, parts, s)
}

// TestPersistRoundTrip folds seeded streams and persists the SKUs at random
// batch boundaries (whole or split, with deltas, new bases and a return to
// whole), then checks that what a store would read back is the live state
// exactly, that folding on from states read back gives the straight fold,
// and that a reader that stops part-way through one SKU's writes (the
// changelog after a crash) reads the state before or the state after.
func TestPersistRoundTrip(t *testing.T) {
	configs := []ledger.Config{
		ledger.DefaultConfig(),
		{IDRetention: time.Hour, MaxIDsPerSKU: 300}, // ids and closed records forgotten all along
		{IDRetention: 10 * time.Minute, MaxIDsPerSKU: 40},
	}
	for ci, cfg := range configs {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("config=%d/seed=%d", ci, seed), func(t *testing.T) {
				lines := gen.Stream(gen.Config{Seed: seed, SKUs: 30, Zipf: 1.3, DupPct: 3, RefusePct: 3, InvalidPct: 1,
					PolicyChanges: []int{2000, 9000}}, 20000)
				r := rand.New(rand.NewPCG(seed, uint64(ci)))
				straight := ledger.NewBook(cfg)
				book := ledger.NewBook(cfg)
				store := map[string]*kv{}
				var fx ledger.Effects
				splits, partial := 0, 0
				var lent []byte // one buffer lent to every other Persist, across SKUs
				persist := func() {
					for _, name := range book.Names() {
						s := book.SKU(name)
						var rec recorder
						before := store[name]
						if before == nil {
							before = &kv{}
						}
						if r.IntN(2) == 0 {
							l := &lender{buf: lent}
							s.Persist(l)
							rec, lent = l.recorder, l.buf
						} else {
							s.Persist(&rec)
						}
						after := before.clone()
						after.apply(rec.ws)
						store[name] = after
						if first, _, split, _ := ledger.PartRange(after.state); split && first > 0 {
							splits++
						}
						want := s.AppendBinary(nil)
						got, err := after.load(name)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if string(got.AppendBinary(nil)) != string(want) {
							t.Fatalf("%s: read back differs from the live state", name)
						}
						// A reader that saw only the first k writes.
						if before.state != nil && len(rec.ws) > 1 {
							k := r.IntN(len(rec.ws))
							mid := before.clone()
							mid.apply(rec.ws[:k])
							old, err1 := before.load(name)
							got, err2 := mid.load(name)
							if err1 != nil || err2 != nil {
								t.Fatalf("%s: after %d of %d writes: %v %v", name, k, len(rec.ws), err1, err2)
							}
							if g := string(got.AppendBinary(nil)); g != string(old.AppendBinary(nil)) && g != string(want) {
								t.Fatalf("%s: after %d of %d writes the state is neither the old nor the new one", name, k, len(rec.ws))
							}
							partial++
						}
						// Fold on from the state read back half the time.
						if r.IntN(2) == 0 {
							book.Put(got)
						}
					}
				}
				next := r.IntN(500)
				for i, l := range lines {
					var ev ledger.Event
					if reason, _ := schemas.ParseEventJSON(l, &ev); reason == ledger.ReasonNone {
						book.Apply(&ev, &fx)
						straight.Apply(&ev, &fx)
					}
					if i == next {
						persist()
						next += 1 + r.IntN(500)
					}
				}
				persist()
				for _, name := range straight.Names() {
					if string(book.SKU(name).AppendBinary(nil)) != string(straight.SKU(name).AppendBinary(nil)) {
						t.Fatalf("%s: folding on from persisted states differs from the straight fold", name)
					}
				}
				if splits == 0 {
					t.Fatal("no SKU was split and rebased: the test does not cover the split form")
				}
				if cap(lent) == 0 {
					t.Fatal("no Persist used the lent buffer")
				}
				t.Logf("%d rebased split states, %d partial reads", splits, partial)
			})
		}
	}
}

// TestPersistAfterLostBatch: the store and a second reader of the writes
// (the changelog) disagree about one batch — the reader saw a batch the
// store never committed (exactly-once: the transaction committed, the store
// commit failed), or the store committed a batch the reader never saw (a
// crash before the changelog records went out). The SKU is then loaded from
// the store and folded on, with other batch boundaries; from the next
// persist on, both must read back the same state.
func TestPersistAfterLostBatch(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		for _, readerAhead := range []bool{true, false} {
			t.Run(fmt.Sprintf("seed=%d/reader_ahead=%v", seed, readerAhead), func(t *testing.T) {
				lines := gen.Stream(gen.Config{Seed: seed, SKUs: 3, DupPct: 2}, 6000)
				r := rand.New(rand.NewPCG(seed, 5))
				cfg := ledger.Config{IDRetention: time.Hour, MaxIDsPerSKU: 200}
				book := ledger.NewBook(cfg)
				st, cl := map[string]*kv{}, map[string]*kv{}
				get := func(m map[string]*kv, name string) *kv {
					if m[name] == nil {
						m[name] = &kv{}
					}
					return m[name]
				}
				var fx ledger.Effects
				apply := func(from, to int) {
					for _, l := range lines[from:to] {
						var ev ledger.Event
						if reason, _ := schemas.ParseEventJSON(l, &ev); reason == ledger.ReasonNone {
							book.Apply(&ev, &fx)
						}
					}
				}
				persist := func(toStore, toReader bool) {
					for _, name := range book.Names() {
						s := book.SKU(name)
						var rec recorder
						s.Persist(&rec)
						if toStore {
							get(st, name).apply(rec.ws)
						}
						if toReader {
							get(cl, name).apply(rec.ws)
						}
					}
				}
				i := 0
				step := func() int { return 1 + r.IntN(300) }
				for ; i < 3000; i += 100 { // history both saw
					apply(i, i+100)
					persist(true, true)
				}
				lost := 3000 + step() // the batch one of them lost
				apply(i, lost)
				persist(!readerAhead, readerAhead)
				// Reload from the store (every SKU), fold on from the store's
				// position with other boundaries.
				for _, name := range book.Names() {
					s, err := get(st, name).load(name)
					if err != nil {
						t.Fatal(err)
					}
					book.Put(s)
				}
				from := lost
				if readerAhead {
					from = i // the store never had the lost batch: fold it again
				}
				split := 0
				for from < len(lines) {
					to := min(len(lines), from+step())
					apply(from, to)
					persist(true, true)
					from = to
					// After every persist, not only at the end: a later new
					// base would hide a reader left unable to load for a while.
					for _, name := range book.Names() {
						s := book.SKU(name)
						want := string(s.AppendBinary(nil))
						for what, m := range map[string]map[string]*kv{"store": st, "reader": cl} {
							got, err := get(m, name).load(name)
							if err != nil {
								t.Fatalf("%s: %s: %v", name, what, err)
							}
							if string(got.AppendBinary(nil)) != want {
								t.Fatalf("%s: the %s reads back another state", name, what)
							}
						}
						if _, _, sp, _ := ledger.PartRange(get(st, name).state); sp {
							split++
						}
					}
				}
				if split == 0 {
					t.Fatal("no SKU is split: the test does not cover parts")
				}
			})
		}
	}
}
