package audit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor waits until n slots wait in s.
func waitFor(t *testing.T, s *foldSched, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		k := len(s.waiting)
		s.mu.Unlock()
		if k == n {
			return
		}
	}
	t.Fatalf("%d slots never waited", n)
}

// TestFoldSchedLongestFirst: a freed token goes to the waiting partition
// with the most records left, and a holder with records at hand keeps its
// token unless a waiter has more left.
func TestFoldSchedLongestFirst(t *testing.T) {
	s := newFoldSched(1)
	a, b, c := s.slot(100), s.slot(30), s.slot(60)
	s.acquire(a)
	got := make(chan string, 3)
	for name, x := range map[string]*schedSlot{"b": b, "c": c} {
		go func() {
			s.acquire(x)
			got <- name
		}()
	}
	waitFor(t, s, 2)
	// a folded 20 and has more at hand: 80 left beats 60, it keeps going.
	s.yield(a, 20)
	select {
	case name := <-got:
		t.Fatalf("%s got the token while a, with the most left, kept folding", name)
	case <-time.After(50 * time.Millisecond):
	}
	// a folded 50 more: 30 left, c (60) goes first, a waits.
	yielded := make(chan struct{})
	go func() {
		s.yield(a, 50)
		close(yielded)
	}()
	if name := <-got; name != "c" {
		t.Fatalf("token went to %s, want c (60 left, the most)", name)
	}
	waitFor(t, s, 2) // a and b
	s.release(c, 60) // c is done: a (30) and b (30) tie; one of them runs
	select {
	case <-yielded: // a took it
		s.release(a, 30)
		if name := <-got; name != "b" {
			t.Fatalf("token went to %s, want b", name)
		}
	case name := <-got: // b took it
		if name != "b" {
			t.Fatalf("token went to %s, want a or b", name)
		}
		s.release(b, 30)
		<-yielded
	}
}

// TestFoldSchedBound: never more than n slots hold a token at once, and
// every acquire is served.
func TestFoldSchedBound(t *testing.T) {
	const n = 2
	s := newFoldSched(n)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		x := s.slot(int64(1000 * (i + 1)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.acquire(x)
			for k := range 10 {
				r := running.Add(1)
				for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
				}
				time.Sleep(100 * time.Microsecond)
				running.Add(-1)
				if k < 9 {
					s.yield(x, 100)
				}
			}
			s.release(x, 100)
		}()
	}
	wg.Wait()
	if m := most.Load(); m > n || m < 1 {
		t.Fatalf("at most %d held tokens at once, want 1..%d", m, n)
	}
	if s.free != n || len(s.waiting) != 0 {
		t.Fatalf("after every release: %d tokens free, %d waiting; want %d and 0", s.free, len(s.waiting), n)
	}
}
