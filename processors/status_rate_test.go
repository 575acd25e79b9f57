package processors

import (
	"testing"
	"time"
)

// TestSampleRates checks the throughput /v1/status reports: the next
// offset's movement over the time between two samples, 0 for a
// partition's first sample, forgotten once the partition is revoked.
func TestSampleRates(t *testing.T) {
	p := &Processor{}
	p.mu.next, p.mu.end, p.mu.rate = map[int32]int64{0: 100, 1: 7}, map[int32]int64{}, map[int32]rateSample{}
	t0 := time.Unix(1_800_000_000, 0)
	p.sampleRates(t0)
	if got := p.Status().Partitions[0].Rate; got != 0 {
		t.Errorf("after one sample: %v events/s, want 0", got)
	}
	p.mu.next[0] = 150
	p.sampleRates(t0.Add(2 * time.Second))
	st := p.Status()
	if st.Partitions[0].Rate != 25 || st.Partitions[1].Rate != 0 {
		t.Errorf("50 events in 2 s on partition 0, none on 1: %+v", st.Partitions)
	}
	delete(p.mu.next, 0)
	p.sampleRates(t0.Add(3 * time.Second))
	if _, ok := p.mu.rate[0]; ok {
		t.Error("a revoked partition's rate is kept")
	}
}
