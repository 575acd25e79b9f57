package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// RestartConfig is the restart workload: `stockledger run` (a child
// process, broker outside it) folds a pre-filled topic, takes live
// traffic, is SIGKILLed, and is started again on the same data directory
// while events keep coming; it measures the seconds from the restart to
// folding again.
type RestartConfig struct {
	Stream StreamConfig `json:"stream"`
	// Events pre-fill the topic; the child folds them before the kill.
	Events int `json:"events"`
	// LiveRate is the events/s produced before the kill, while the child
	// is down (one second's worth) and after the restart.
	LiveRate int `json:"live_rate"`
	// LiveSeconds of live traffic before the kill.
	LiveSeconds float64 `json:"live_seconds"`
	// SessionTimeout is the child's --session-timeout: how long the group
	// waits for the killed member before handing its partitions on.
	SessionTimeout time.Duration `json:"session_timeout"`
}

func (c RestartConfig) validate() []error {
	errs := c.Stream.validate("restart")
	if c.Events < 1 || c.LiveRate < 1 || c.LiveSeconds <= 0 {
		errs = append(errs, fmt.Errorf("restart: events, live rate and live seconds must be positive"))
	}
	if c.SessionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("restart: session timeout %v is under 1s", c.SessionTimeout))
	}
	return errs
}

// Run runs the restart workload once.
func (c RestartConfig) Run(ctx context.Context, env *Env, run int) (*Result, error) {
	res := &Result{Workload: "restart", Run: run, Broker: env.BrokerKind(), Config: c, LoadAvgStart: loadAvg()}
	prefix := env.prefix("restart", run)
	topics := processors.TopicsWithPrefix(prefix)
	defer env.deleteTopics(context.WithoutCancel(ctx), topics)
	args := childArgs{prefix: prefix, group: prefix, sessionTimeout: c.SessionTimeout}
	src := newSteadySource(c.Stream)

	t0 := time.Now()
	evs := generate(src, c.Events)
	res.Events, res.GenerateSeconds = evs.len(), time.Since(t0).Seconds()
	prod, err := newProducer(ctx, env, topics)
	if err != nil {
		return nil, err
	}
	defer prod.close()
	t0 = time.Now()
	if _, err := prod.backlog(ctx, evs); err != nil {
		return nil, err
	}
	res.ProduceSeconds = time.Since(t0).Seconds()
	adm, acl, err := env.admin()
	if err != nil {
		return nil, err
	}
	defer acl.Close()
	_, total, err := endOffsets(ctx, adm, topics.Events)
	if err != nil {
		return nil, err
	}
	res.Records = total

	dir, err := env.tempDir("restart")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	first, err := startChild(ctx, env, args, data, "first")
	if err != nil {
		return nil, err
	}
	defer first.kill()
	if res.Processor, err = track(ctx, total, first.folded(ctx), first.cpu, first.stoppedChan(), foldTimeout(total)); err != nil {
		return nil, fmt.Errorf("first child: %w", err)
	}
	env.Log.Info("restart: child folded the topic", "run", run, "per_sec", int(res.Processor.PerSec))

	// Live traffic, then wait until it is folded: the offsets at the kill
	// are then the end offsets.
	live := generate(src, int(float64(c.LiveRate)*c.LiveSeconds))
	if _, _, err := prod.paced(ctx, live, float64(c.LiveRate), make([]int64, live.len())); err != nil {
		return nil, err
	}
	atKill, sum, err := endOffsets(ctx, adm, topics.Events)
	if err != nil {
		return nil, err
	}
	if _, err := track(ctx, sum, first.folded(ctx), first.cpu, first.stoppedChan(), time.Minute); err != nil {
		return nil, fmt.Errorf("first child, live traffic: %w", err)
	}
	child := &ChildFigures{}
	child.PeakRSSBytes, child.RSSBytes, _ = memOf(fmt.Sprint(first.pid()))
	cpu, _ := cpuOf(first.pid())
	child.CPUSeconds = cpu.Seconds()
	res.Child = child
	first.kill()
	killed := time.Now()

	// While it is down, a second of events arrives.
	down := generate(src, c.LiveRate)
	if _, err := prod.backlog(ctx, down); err != nil {
		return nil, err
	}
	afterDown, _, err := endOffsets(ctx, adm, topics.Events)
	if err != nil {
		return nil, err
	}
	// Then live traffic again, from the restart on, until recovered.
	trickle := generate(src, int(float64(c.LiveRate)*(c.SessionTimeout.Seconds()+60)))
	tctx, stopTrickle := context.WithCancel(ctx)
	trickleDone := make(chan struct{})
	defer func() { stopTrickle(); <-trickleDone }()

	start := time.Now()
	second, err := startChild(ctx, env, args, data, "second")
	if err != nil {
		close(trickleDone)
		return nil, err
	}
	defer second.kill()
	go func() {
		defer close(trickleDone)
		_, _, _ = prod.paced(tctx, trickle, float64(c.LiveRate), make([]int64, trickle.len()))
	}()
	rec, err := watchRecovery(ctx, second, env.Partitions, atKill, afterDown, start, c.SessionTimeout+2*time.Minute)
	if err != nil {
		return nil, err
	}
	rec.SessionTimeout, rec.BacklogEvents, rec.LiveRate = c.SessionTimeout.String(), c.LiveRate, c.LiveRate
	rec.DownSeconds = start.Sub(killed).Seconds()
	res.Recovery = rec
	stopTrickle()
	if err := second.terminate(); err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("second child on SIGTERM: %v", err))
	}
	res.PebbleBytes = dirSize(filepath.Join(data, "ledger"))
	res.LoadAvgEnd = loadAvg()
	env.Log.Info("restart: recovered", "run", run, "processing_s", round(rec.ProcessingSeconds, 2),
		"caught_up_s", round(rec.CaughtUpSeconds, 2), "assigned_s", round(rec.AssignedSeconds, 2))
	return res, nil
}

// watchRecovery polls the restarted child every 10ms for its milestones:
// HTTP up, all partitions owned, a partition past its offset at the kill,
// and the downtime's backlog folded.
func watchRecovery(ctx context.Context, c *child, parts int32, atKill, afterDown map[int32]int64,
	start time.Time, timeout time.Duration) (*Recovery, error) {
	rec := &Recovery{}
	since := func() float64 { return time.Since(start).Seconds() }
	for {
		if c.exited() {
			return nil, fmt.Errorf("restarted child exited: %v\n%s", c.err, c.logTail())
		}
		if time.Since(start) > timeout {
			return nil, fmt.Errorf("restarted child not caught up within %v (%+v)\n%s", timeout, *rec, c.logTail())
		}
		if st, err := c.status(ctx); err == nil {
			if rec.HTTPSeconds == 0 {
				rec.HTTPSeconds = since()
			}
			next := st.next()
			if rec.AssignedSeconds == 0 && len(next) == int(parts) {
				rec.AssignedSeconds = since()
			}
			caught := len(next) == int(parts)
			for p, end := range afterDown {
				n, owned := next[p]
				if owned && n > atKill[p] && rec.ProcessingSeconds == 0 {
					rec.ProcessingSeconds = since()
				}
				if !owned || n < end {
					caught = false
				}
			}
			if caught {
				if rec.ProcessingSeconds == 0 {
					rec.ProcessingSeconds = since()
				}
				rec.CaughtUpSeconds = since()
				return rec, nil
			}
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return nil, err
		}
	}
}
