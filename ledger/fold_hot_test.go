package ledger

import (
	"fmt"
	"testing"
)

// memLoader is a store of committed states in memory (a Loader).
type memLoader map[string]SKU

func (m memLoader) LoadSKU(name string, s *SKU) (bool, error) {
	v, ok := m[name]
	if ok {
		*s = v
	}
	return ok, nil
}

func (m memLoader) LoadSKUs(fn func(*SKU) error) error {
	for _, v := range m {
		if err := fn(&v); err != nil {
			return err
		}
	}
	return nil
}

func receiptEvent(i int, sku string) *Event {
	return &Event{ID: fmt.Sprintf("e-%d", i), Type: TypeReceipt, SKU: sku, OccurredAt: int64(i), Location: "dc", Qty: 1,
		Has: FieldEventID | FieldType | FieldSKU | FieldOccurredAt | FieldLocation | FieldQty}
}

// TestFoldHotNames: SKUs whose names fit the inline key and SKUs whose
// names do not are found hot by Name (which hands back the hot state's own
// string, and the state to the Apply that follows), and states evicted
// from memory are forgotten by both indexes and read back from the loader.
func TestFoldHotNames(t *testing.T) {
	names := []string{"A", "SKU-000001", "ABCDEFGHIJKLMNOPQRSTUVW" /* 23 */, "ABCDEFGHIJKLMNOPQRSTUVWX" /* 24 */, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"}
	load := memLoader{}
	f := NewFold(DefaultConfig(), load)
	var fx Effects
	for i := range 20 {
		ev := receiptEvent(i, names[i%len(names)])
		ev.SKU = f.Name([]byte(ev.SKU))
		if res, err := f.Apply(ev, &fx); err != nil || res.Outcome != Applied {
			t.Fatalf("event %d: %v %v", i, res, err)
		}
	}
	for _, name := range names {
		f.last = nil // not the last one found: the indexes
		if got := f.Name([]byte(name)); got != name || f.hit == nil || f.hit.s.Name != name {
			t.Fatalf("%q: Name %q, hot state %v", name, got, f.hit)
		}
		if got := f.hit.s.Location("dc").OnHand; got != 4 {
			t.Errorf("%q: on_hand %d, want 4 (its four receipts)", name, got)
		}
	}
	if len(f.short) != 3 {
		t.Errorf("%d SKUs by inline key, want the 3 of up to 23 bytes", len(f.short))
	}
	if err := f.Dirty(func(s *SKU) error { load[s.Name] = *s; return nil }); err != nil {
		t.Fatal(err)
	}
	f.Clean()
	f.Evict(4) // keeps 3
	for _, name := range names {
		f.last, f.hit = nil, nil
		f.Name([]byte(name))
		if _, hot := f.hot[name]; hot != (f.hit != nil) {
			t.Errorf("%q: hot %v, but Name found it %v", name, hot, f.hit != nil)
		}
	}
	short := 0
	for name := range f.hot {
		if len(name) < len(NameKey{}) {
			short++
		}
	}
	if len(f.hot) != 3 || len(f.short) != short || !f.Cold {
		t.Errorf("after evicting all but 3: %d hot SKUs (%d short), %d by inline key, cold %v", len(f.hot), short, len(f.short), f.Cold)
	}
	// An evicted SKU folds on from the loader's state.
	for i, name := range names {
		if res, err := f.Apply(receiptEvent(100+i, name), &fx); err != nil || res.Outcome != Applied {
			t.Fatalf("%q: %v %v", name, res, err)
		}
		if got := f.SKU(name).Location("dc").OnHand; got != 5 {
			t.Errorf("%q: on_hand %d after the loader's 4 and one more", name, got)
		}
	}
	if a, _ := MakeNameKey([]byte("A")); a == func() NameKey { k, _ := MakeNameKey([]byte("A\x00")); return k }() {
		t.Error(`"A" and "A\x00" have the same inline key`)
	}
}

// TestFoldEvictKeepsDirty: a state changed since the last Clean is never
// evicted: the loader does not hold it yet.
func TestFoldEvictKeepsDirty(t *testing.T) {
	f := NewFold(DefaultConfig(), memLoader{})
	var fx Effects
	for i := range 10 {
		if _, err := f.Apply(receiptEvent(i, fmt.Sprintf("S-%d", i)), &fx); err != nil {
			t.Fatal(err)
		}
	}
	f.Evict(2)
	if f.Hot() != 10 {
		t.Fatalf("%d hot states after evicting dirty ones, want all 10", f.Hot())
	}
}

// countingLoader is a memLoader that counts its one-by-one reads, and
// reads many names in one pass when many is set (a ManyLoader).
type countingLoader struct {
	memLoader
	gets int
}

func (c *countingLoader) LoadSKU(name string, s *SKU) (bool, error) {
	c.gets++
	return c.memLoader.LoadSKU(name, s)
}

type manyLoader struct{ *countingLoader }

func (m manyLoader) LoadMany(names []string, fn func(*SKU) error) error {
	for _, n := range names {
		if v, ok := m.memLoader[n]; ok {
			if err := fn(&v); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestFoldPrefetch: after Prefetch, a cold fold reads no state one by one
// for the names it was given, whether the loader holds them or not, with a
// ManyLoader or a plain Loader; the states it folds on from are the
// loader's (on_hand counts every receipt, before and after); and a name
// found absent that becomes hot and is evicted back to the loader is read
// from there, not taken as absent.
func TestFoldPrefetch(t *testing.T) {
	for _, many := range []bool{false, true} {
		cl := &countingLoader{memLoader: memLoader{}}
		var load Loader = cl
		if many {
			load = manyLoader{cl}
		}
		f := NewFold(DefaultConfig(), load)
		var fx Effects
		apply := func(i int, name string) {
			t.Helper()
			if res, err := f.Apply(receiptEvent(i, name), &fx); err != nil || res.Outcome != Applied {
				t.Fatalf("many %v, %q: %v %v", many, name, res, err)
			}
		}
		for i, name := range []string{"OLD-1", "OLD-2", "OLD-1"} {
			apply(i, name)
		}
		_ = f.Dirty(func(s *SKU) error { cl.memLoader[s.Name] = *s; return nil })
		f.Clean()
		f.Drop() // every state is the loader's now
		names := [][]byte{[]byte("OLD-1"), []byte("NEW-1"), []byte("OLD-2"), []byte("NEW-1"), []byte("OLD-1")}
		if err := f.Prefetch(names); err != nil {
			t.Fatal(err)
		}
		before := cl.gets
		for i, n := range names {
			apply(10+i, string(n))
		}
		if cl.gets != before {
			t.Errorf("many %v: %d reads one by one after Prefetch, want none", many, cl.gets-before)
		}
		for name, want := range map[string]Qty{"OLD-1": 4, "OLD-2": 2, "NEW-1": 2} {
			if got := f.SKU(name).Location("dc").OnHand; got != want {
				t.Errorf("many %v, %q: on_hand %d, want %d", many, name, got, want)
			}
		}
		// NEW-1 went to the loader and out of memory: read back, not absent.
		_ = f.Dirty(func(s *SKU) error { cl.memLoader[s.Name] = *s; return nil })
		f.Clean()
		f.Evict(0)
		if f.Hot() != 0 {
			t.Fatalf("many %v: %d states hot after evicting every clean one", many, f.Hot())
		}
		apply(20, "NEW-1")
		if got := f.SKU("NEW-1").Location("dc").OnHand; got != 3 {
			t.Errorf("many %v: NEW-1 on_hand %d after the loader's 2 and one more", many, got)
		}
	}
}
