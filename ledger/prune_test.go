package ledger

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// naivePrune is the sweep as the retention rule states it: every closed
// record touched before cutoff goes.
func naivePrune(s *SKU, cutoff int64) {
	maps.DeleteFunc(s.Orders, func(_ string, o Order) bool { return o.Open == 0 && o.Touched < cutoff })
	maps.DeleteFunc(s.POs, func(_ string, l POLine) bool { return l.Closed && l.Touched < cutoff })
	maps.DeleteFunc(s.Transfers, func(_ string, t Transfer) bool { return t.Expected == 0 && t.Touched < cutoff })
}

// TestPruneHeapMatchesSweep changes records at random (opened, closed,
// touched again while closed, out of event-time order), sometimes through
// a decode (the heap is rebuilt), and checks every prune against the naive
// sweep of a copy.
func TestPruneHeapMatchesSweep(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		s := &SKU{Name: "S", Orders: map[string]Order{}, POs: map[string]POLine{}, Transfers: map[string]Transfer{}}
		now := int64(0)
		for step := range 5000 {
			now += int64(r.IntN(10))
			at := now - int64(r.IntN(50)) // events arrive out of order
			id := fmt.Sprint(r.IntN(300))
			switch r.IntN(3) {
			case 0:
				s.putOrder(id, Order{Channel: "web", Open: Qty(r.IntN(2)), Touched: at})
			case 1:
				s.putPO(id, POLine{Location: "dc", Closed: r.IntN(2) == 0, Touched: at})
			case 2:
				s.putTransfer(id, Transfer{From: "a", To: "b", Expected: Qty(r.IntN(2)), Touched: at})
			}
			if r.IntN(500) == 0 { // a reload: the heap is rebuilt on the next prune
				var d SKU
				if err := DecodeSKU("S", s.AppendBinary(nil), &d); err != nil {
					t.Fatal(err)
				}
				s = &d
				if s.Orders == nil {
					s.Orders = map[string]Order{}
				}
				if s.POs == nil {
					s.POs = map[string]POLine{}
				}
				if s.Transfers == nil {
					s.Transfers = map[string]Transfer{}
				}
			}
			if r.IntN(20) == 0 {
				cutoff := now - int64(r.IntN(400))
				want := &SKU{Orders: maps.Clone(s.Orders), POs: maps.Clone(s.POs), Transfers: maps.Clone(s.Transfers)}
				naivePrune(want, cutoff)
				s.prune(cutoff)
				if !maps.Equal(s.Orders, want.Orders) || !maps.Equal(s.POs, want.POs) || !maps.Equal(s.Transfers, want.Transfers) {
					t.Fatalf("seed %d step %d: prune(%d) kept %d/%d/%d records, the sweep %d/%d/%d", seed, step, cutoff,
						len(s.Orders), len(s.POs), len(s.Transfers), len(want.Orders), len(want.POs), len(want.Transfers))
				}
			}
		}
	}
}
