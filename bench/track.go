package main

import (
	"context"
	"fmt"
	"time"
)

// track samples count every 50ms until it reaches total, and turns the
// samples into a Throughput. cpu is the CPU clock of whoever does the
// work; stopped, when it delivers, means the worker stopped early.
func track(ctx context.Context, total int64, count func() int64, cpu func() time.Duration,
	stopped <-chan error, timeout time.Duration) (*Throughput, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var samples []Sample
	var cpus []time.Duration
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n := count()
		samples = append(samples, Sample{T: time.Since(start).Seconds(), Records: n})
		cpus = append(cpus, cpu())
		if n >= total {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d records done after %v", n, total, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-stopped:
			return nil, fmt.Errorf("stopped after %d of %d records: %v", n, total, err)
		case <-tick.C:
		}
	}
	return throughputOf(samples, cpus, total), nil
}

// throughputOf computes the rates of a finished timeline. The work starts
// at the last sample that saw nothing done.
func throughputOf(s []Sample, cpus []time.Duration, total int64) *Throughput {
	first := 0
	for i := range s {
		if s[i].Records > s[0].Records {
			break
		}
		first = i
	}
	last := len(s) - 1
	th := &Throughput{Records: total, StartupSeconds: s[first].T, Seconds: s[last].T - s[first].T, Timeline: s}
	if th.Seconds > 0 {
		th.PerSec = float64(total-s[first].Records) / th.Seconds
	}
	th.CPUSeconds = (cpus[last] - cpus[first]).Seconds()
	if total > 0 {
		th.CPUMicrosPerRecord = th.CPUSeconds * 1e6 / float64(total-s[first].Records)
	}
	t10, t90 := crossing(s, s[first].Records+(total-s[first].Records)/10), crossing(s, s[first].Records+(total-s[first].Records)*9/10)
	if t90 > t10 {
		th.SustainedPerSec = float64(total-s[first].Records) * 0.8 / (t90 - t10)
	} else {
		th.SustainedPerSec = th.PerSec
	}
	return th
}

// crossing interpolates when the timeline reached n records.
func crossing(s []Sample, n int64) float64 {
	for i := 1; i < len(s); i++ {
		if s[i].Records >= n {
			a, b := s[i-1], s[i]
			if b.Records == a.Records {
				return b.T
			}
			return a.T + (b.T-a.T)*float64(n-a.Records)/float64(b.Records-a.Records)
		}
	}
	return s[len(s)-1].T
}
