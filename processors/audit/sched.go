package audit

import "sync"

// foldSched lets at most n partitions fold at once and, when more wait,
// lets the one with the most records left go first (longest remaining
// first).
//
// Why: partitions of a retailer's events topic are far from even (a best
// seller is all on one partition; in the replay benchmark the largest
// partition holds 21% of 10M events, the smallest 9%). With every worker
// running, the runtime shares the cores among them evenly, the small
// partitions finish first and the largest is left folding its last
// records alone on one core while the other idles. Folding the largest
// first keeps every core busy to the end. The poll loop, the client and an
// in-process broker run outside the scheduler.
type foldSched struct {
	mu      sync.Mutex
	free    int
	waiting []*schedSlot
}

// schedSlot is one partition's place in the scheduler.
type schedSlot struct {
	left int64         // records not yet folded (an upper bound)
	wake chan struct{} // receives the token handed over by release
}

func newFoldSched(n int) *foldSched { return &foldSched{free: max(1, n)} }

func (s *foldSched) slot(left int64) *schedSlot {
	return &schedSlot{left: left, wake: make(chan struct{}, 1)}
}

// acquire blocks until x holds a token.
func (s *foldSched) acquire(x *schedSlot) {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return
	}
	s.waiting = append(s.waiting, x)
	s.mu.Unlock()
	<-x.wake
}

// release gives back x's token after it folded n records (and has no more
// at hand): to the waiting partition with the most records left, else to
// the pool.
func (s *foldSched) release(x *schedSlot, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x.left -= int64(n)
	if w := s.takeWaiter(-1); w != nil {
		w.wake <- struct{}{}
		return
	}
	s.free++
}

// yield is release for x with more records at hand: x keeps its token
// unless a waiting partition has more records left, which then takes it
// while x waits.
func (s *foldSched) yield(x *schedSlot, n int) {
	s.mu.Lock()
	x.left -= int64(n)
	w := s.takeWaiter(x.left)
	if w == nil {
		s.mu.Unlock()
		return
	}
	s.waiting = append(s.waiting, x)
	w.wake <- struct{}{}
	s.mu.Unlock()
	<-x.wake
}

// takeWaiter removes and returns the waiting slot with the most records
// left, if it has more than than; nil if none has.
func (s *foldSched) takeWaiter(than int64) *schedSlot {
	best := -1
	for i, w := range s.waiting {
		if w.left > than && (best < 0 || w.left > s.waiting[best].left) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	w := s.waiting[best]
	s.waiting = append(s.waiting[:best], s.waiting[best+1:]...)
	return w
}
