package ledger

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIDWindowIndexMatchesScan drives windows of many sizes through adds
// (count and age evictions, compaction of the slice, table growth) and
// decodes, and checks Contains for remembered, forgotten and never-seen ids
// against a plain FIFO of the same ids.
func TestIDWindowIndexMatchesScan(t *testing.T) {
	t.Run("tags", func(t *testing.T) { testIDWindowIndex(t) })
	t.Run("colliding tags", func(t *testing.T) {
		// Two tags, so most probes meet other ids with the same tag, and
		// one home slot per tag: long chains, deletions inside them.
		defer func(m uint32) { idTagMask = m }(idTagMask)
		idTagMask = 1<<31 | 1
		testIDWindowIndex(t)
	})
}

func testIDWindowIndex(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		maxIDs := []int{1, 5, 17, 40, 300, 5000}[seed%6]
		var w IDWindow
		var fifo []SeenID
		at := int64(0)
		for step := range 20000 {
			at += int64(r.IntN(3))
			id := fmt.Sprint("e", r.IntN(3*maxIDs+10)) // ids come back after they are forgotten
			if slices.ContainsFunc(fifo, func(s SeenID) bool { return s.ID == id }) != w.Contains(id) {
				t.Fatalf("seed %d step %d: Contains(%s) = %v, the FIFO disagrees", seed, step, id, w.Contains(id))
			}
			oldest := at - int64(r.IntN(200))
			if r.IntN(2) == 0 { // as ApplyValid does: one probe for the check and the add
				pr, seen := w.lookup(id)
				if seen {
					continue
				}
				w.add(id, at, pr, maxIDs, oldest)
			} else {
				if w.Contains(id) {
					continue
				}
				w.Add(id, at, maxIDs, oldest)
			}
			fifo = append(fifo, SeenID{id, at})
			for len(fifo) > 0 && (len(fifo) > maxIDs || fifo[0].At < oldest) {
				fifo = fifo[1:]
			}
			if !slices.Equal(w.IDs(), fifo) {
				t.Fatalf("seed %d step %d: window holds %d ids, the FIFO %d", seed, step, w.Len(), len(fifo))
			}
			if r.IntN(2000) == 0 { // as a decode rebuilds it
				var d IDWindow
				d.evicted = w.evicted
				for _, s := range w.IDs() {
					d.restore(s.ID, s.At)
				}
				w = d
			}
		}
		for _, s := range fifo {
			if !w.Contains(s.ID) {
				t.Fatalf("seed %d: %s forgotten", seed, s.ID)
			}
		}
		if w.Contains("never") {
			t.Fatalf("seed %d: contains an id never added", seed)
		}
	}
}
