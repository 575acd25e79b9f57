package processors

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// TestRefoldAfterProducedCrash: a batch's outputs were handed to Kafka
// (the produced mark written) and the process died before they were
// acknowledged and marked published. The restart folds the same records
// again, with other batch boundaries: it must not publish a key's value
// with a lower version than the lost batch may have published, so it
// holds every output until it reaches the produced mark and publishes
// them as one batch. Without the mark (the same test with produced 0),
// the first refold batch publishes earlier versions of the same keys.
func TestRefoldAfterProducedCrash(t *testing.T) {
	for _, withMark := range []bool{true, false} {
		t.Run(fmt.Sprintf("mark=%v", withMark), func(t *testing.T) {
			back := refoldAfterCrash(t, withMark)
			if withMark && len(back) > 0 {
				t.Fatalf("the refold published versions below the lost batch's: %v", back[:min(5, len(back))])
			}
			if !withMark && len(back) == 0 {
				t.Fatal("without the produced mark the refold should publish a lower version first; the test no longer exercises the case")
			}
		})
	}
}

// refoldAfterCrash folds a stream as one batch (the lost batch), then folds
// it again from an empty state in three batches, and returns the keys the
// refold published with a version below the lost batch's.
func refoldAfterCrash(t *testing.T, withMark bool) []string {
	recs, reg, st := holdingRecords(t), schemas.NewRegistry(), memStore(t)
	lost := newPartition(0, "events", 1, ledger.DefaultConfig(), st, reg)
	if _, err := lost.foldBatch(recs, 1, false); err != nil {
		t.Fatal(err)
	}
	before := map[string]uint64{}
	for _, c := range lost.coalesce() {
		before[c.u.Channel+"/"+c.u.SKU] = c.u.Version
	}
	if withMark {
		if err := st.SetProduced(map[int32]int64{0: int64(len(recs))}); err != nil {
			t.Fatal(err)
		}
	}

	pt := newPartition(0, "events", 1, ledger.DefaultConfig(), st, reg)
	if err := pt.load(st, 0); err != nil {
		t.Fatal(err)
	}
	var back []string
	cuts := []int{0, len(recs) / 5, len(recs) / 2, len(recs)}
	for i := 1; i < len(cuts); i++ {
		pb, err := pt.foldBatch(recs[cuts[i-1]:cuts[i]], uint64(i), false)
		if err != nil {
			t.Fatal(err)
		}
		if pb.held {
			continue
		}
		for _, c := range pt.coalesce() {
			k := c.u.Channel + "/" + c.u.SKU
			if c.u.Version < before[k] {
				back = append(back, fmt.Sprintf("%s: %d after %d", k, c.u.Version, before[k]))
			}
		}
	}
	return back
}

// holdingRecords is a stream of a few SKUs, each changed many times.
func holdingRecords(t *testing.T) []*kgo.Record {
	lines := gen.Stream(gen.Config{Seed: rand.Uint64(), SKUs: 5}, 400)
	var recs []*kgo.Record
	var ev ledger.Event
	for _, l := range lines {
		ev.Reset()
		if reason, _ := schemas.ParseEventJSON(l, &ev); reason != ledger.ReasonNone {
			continue
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "events", Offset: int64(len(recs)), Key: []byte(ev.SKU), Value: v})
	}
	return recs
}

// TestChangelogMarkersFollowTheirStates: after a crash between the produced
// and published marks, the refold holds its outputs, and the batches that
// hold persist nothing. A changelog offset marker must come with every
// state folded below it: a restore installs the states it finds up to the
// last marker and folds on from the marker's offset, so a marker written
// for a batch that held (its states still dirty in memory) would skip that
// batch's records after a kill. Every time the changelog's last marker is
// the fold's position, each hot state must be what the changelog restores.
func TestChangelogMarkersFollowTheirStates(t *testing.T) {
	recs, reg, st := holdingRecords(t), schemas.NewRegistry(), memStore(t)
	if err := st.SetProduced(map[int32]int64{0: int64(len(recs))}); err != nil {
		t.Fatal(err)
	}
	pt := newPartition(0, "events", 1, ledger.DefaultConfig(), st, reg)
	if err := pt.load(st, 0); err != nil {
		t.Fatal(err)
	}
	view := newChangelogView(0)
	cuts := []int{0, len(recs) / 5, len(recs) / 2, len(recs)}
	checked := 0
	for i := 1; i < len(cuts); i++ {
		pb, err := pt.foldBatch(recs[cuts[i-1]:cuts[i]], uint64(i), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pb.changelogRecords("changelog", nil) {
			view.add(r.Key, r.Value)
		}
		if pb.persisted {
			if err := commitState(st, []partBatch{pb}, false); err != nil {
				t.Fatal(err)
			}
			pt.fold.Saved(uint64(i))
		}
		if view.clNext == pt.next {
			checked++
			checkRestorable(t, pt, &view)
		}
	}
	if checked == 0 {
		t.Fatal("the changelog never reached the fold's position: the test checked nothing")
	}
}

// checkRestorable fails t unless every hot state of pt is what a restore
// of view reads back.
func checkRestorable(t *testing.T, pt *partition, view *changelogView) {
	t.Helper()
	var ps [][]byte
	var got ledger.SKU
	for _, name := range pt.fold.Names() {
		state, ok := view.states[name]
		if !ok {
			t.Fatalf("changelog marker at %d, but no state of %s", view.clNext, name)
		}
		if _, err := view.skuParts(name, state, &ps, &got); err != nil {
			t.Fatal(err)
		}
		want := pt.fold.SKU(name)
		if g, w := got.AppendBinary(nil), want.AppendBinary(nil); !bytes.Equal(g, w) {
			t.Fatalf("changelog marker at %d, but %s restores at version %d, folded %d", view.clNext, name, got.Version, want.Version)
		}
	}
}

// memStore opens a store in memory, closed when t ends.
func memStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open("db", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
