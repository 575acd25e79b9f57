package main

import "fmt"

// The targets (issue 16, "Benchmarks that show the limit"). The
// charts draw each as a labelled line where its figure is plotted, so a
// reader sees the distance at a glance; the README's tables state them
// beside the figures.
const (
	// targetSteadyPerSec: the steady workload folded end to end at 1M
	// SKUs and 2M events, on the embedded broker.
	targetSteadyPerSec = 500_000
	// targetKafkaSteadyPerSec: the same against a real Kafka.
	targetKafkaSteadyPerSec = 300_000
	// targetCeilingRatio: the processor's events/s over the I/O ceiling's.
	targetCeilingRatio = 0.6
	// targetRecoverySeconds: a SIGKILLed processor, started again on its
	// store, is folding again within this.
	targetRecoverySeconds = 1.0
	// targetHoldP99Millis: a hold's round trip (POST /v1/holds → answer)
	// at 1k holds/s with 1M SKUs, p99.
	targetHoldP99Millis = 10.0
)

// target is one line on a chart: a value and what it means.
type target struct {
	value float64
	label string
}

// throughputTargets are the events/s targets of r's throughput chart.
func throughputTargets(r *Result) []target {
	var ts []target
	if r.Workload == "steady" {
		if r.Broker == "external" {
			ts = append(ts, target{targetKafkaSteadyPerSec, "target on Kafka (1M SKUs, 2M events): ≥ 300k ev/s"})
		} else {
			ts = append(ts, target{targetSteadyPerSec, "target (1M SKUs, 2M events): ≥ 500k ev/s"})
		}
	}
	if r.Ceiling != nil && r.Ceiling.PerSec > 0 {
		v := targetCeilingRatio * r.Ceiling.PerSec
		ts = append(ts, target{v, fmt.Sprintf("target: ≥ %.1f × the I/O ceiling = %s ev/s", targetCeilingRatio, fmtNum(v))})
	}
	return ts
}

// latencyTarget is the p99 target (ms) at an offered load of r, if the
// issue sets one: 5 ms at 10k ev/s (20 ms against a real Kafka), 50 ms
// at 100k ev/s.
func latencyTarget(r *Result, offered float64) (target, bool) {
	switch {
	case offered == 10_000 && r.Broker == "external":
		return target{20, "target on Kafka at 10k ev/s: p99 ≤ 20 ms"}, true
	case offered == 10_000:
		return target{5, "target at 10k ev/s: p99 ≤ 5 ms"}, true
	case offered == 100_000:
		return target{50, "target at 100k ev/s: p99 ≤ 50 ms"}, true
	}
	return target{}, false
}

// holdsTarget is the holds workload's p99 target (ms) at an offered
// rate, if the issue sets one: 10 ms at 1k holds/s.
func holdsTarget(offered float64) (target, bool) {
	if offered == 1000 {
		return target{targetHoldP99Millis, "target at 1k holds/s: p99 ≤ 10 ms"}, true
	}
	return target{}, false
}
