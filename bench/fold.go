package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// The fold workloads (steady, flash, replay) share one shape: generate a
// seeded stream, pre-fill a fresh events topic with it, read the topic from
// the start once with a raw consumer (the ceiling of reading) and once with
// an in-process processor on a fresh Pebble store, measure the I/O ceiling
// (reading it again while writing what the processor wrote, ceiling.go),
// then offer further events at fixed rates to the running processor and
// measure event-to-update latency at each.

// foldSpec is one run of a fold workload.
type foldSpec struct {
	workload string
	run      int
	config   any
	src      source
	backlog  int
	raw      bool
	ceiling  bool // measure the I/O ceiling (ceiling.go) after the fold
	phases   []phaseSpec
}

// phaseSpec is one offered load.
type phaseSpec struct {
	name    string
	rate    float64 // events/s; 0 means peakFraction of the measured throughput
	seconds float64
	peak    float64 // the fraction of the measured throughput when rate is 0
	warmup  float64 // seconds offered at the rate, unmeasured, first
}

// inproc is a processor running in this process on its own store.
type inproc struct {
	p      *processors.Processor
	reg    *prometheus.Registry
	st     *store.Store
	dir    string
	cancel context.CancelFunc
	done   chan error
}

func startProcessor(ctx context.Context, env *Env, t processors.Topics, group string) (*inproc, error) {
	dir, err := env.tempDir("store")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	cfg := processors.DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.Group, cfg.InstanceID = env.Brokers, t, group, group
	cfg.Partitions = env.Partitions
	env.Processor.apply(&cfg)
	log := slog.New(env.Log.Handler()).With("component", "processor")
	reg := prometheus.NewRegistry()
	p, err := processors.New(ctx, cfg, st, schemas.NewRegistry(), reg, quiet(log))
	if err != nil {
		st.Close()
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	ip := &inproc{p: p, reg: reg, st: st, dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { ip.done <- p.Run(pctx) }()
	return ip, nil
}

// quiet drops the processor's info logs (joins, assignments).
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelHandler{l.Handler(), slog.LevelWarn})
}

type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// folded is the sum of the owned partitions' committed next offsets: the
// records folded, when they started at 0.
func (ip *inproc) folded() int64 {
	parts := ip.p.Status().Partitions
	var n int64
	for _, s := range parts {
		n += s.Next
	}
	return n
}

// waitFolded waits until the processor has folded target records.
func (ip *inproc) waitFolded(ctx context.Context, target int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for ip.folded() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("processor folded %d records, want %d", ip.folded(), target)
		}
		select {
		case err := <-ip.done:
			return fmt.Errorf("processor stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// settle waits (at most max) until the store has neither a flush nor a
// compaction running, three checks in a row, and returns how long it took.
func (ip *inproc) settle(ctx context.Context, max time.Duration) time.Duration {
	start := time.Now()
	for quiet := 0; quiet < 3 && time.Since(start) < max && ctx.Err() == nil; {
		quiet++
		if db := ip.st.DB(); db != nil {
			if m := db.Metrics(); m.Compact.NumInProgress > 0 || m.Flush.NumInProgress > 0 {
				quiet = 0
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// batches is the processor's count of committed processing batches.
func (ip *inproc) batches() int64 {
	mfs, err := ip.reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == "stockledger_processor_batches_total" && len(mf.GetMetric()) == 1 {
			return int64(mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	return 0
}

// storeFigures is what a processor's store holds after a run.
type storeFigures struct {
	skus, skuLocs, bytes int64
	largest              int64 // the largest SKU state, encoded
}

// stop stops the processor and counts what its store holds; the store is
// closed afterwards.
func (ip *inproc) stop() (storeFigures, error) {
	var err error
	ip.cancel()
	if rerr := <-ip.done; rerr != nil {
		err = fmt.Errorf("processor: %w", rerr)
	}
	f, cerr := countSKULocations(ip.st)
	if err == nil {
		err = cerr
	}
	if cerr := ip.st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	f.bytes = dirSize(ip.dir)
	return f, err
}

// countSKULocations counts the SKUs in st, the locations they have and
// the largest state.
func countSKULocations(st *store.Store) (storeFigures, error) {
	var f storeFigures
	parts, err := st.Partitions()
	if err != nil {
		return f, err
	}
	var s ledger.SKU
	for _, p := range parts {
		err := st.SKUs(p, func(name string, val []byte) error {
			if err := ledger.DecodeSKU(name, val, &s); err != nil {
				return err
			}
			f.skus++
			f.largest = max(f.largest, int64(len(val)))
			for i := range s.Locations {
				if s.Locations[i].Named {
					f.skuLocs++
				}
			}
			return nil
		})
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// foldTimeout bounds reading records: generous, so only a stuck run trips it.
func foldTimeout(records int64) time.Duration {
	return 2*time.Minute + time.Duration(records)*100*time.Microsecond
}

// runFold runs one fold workload run.
func runFold(ctx context.Context, env *Env, spec foldSpec) (*Result, error) {
	res := &Result{Workload: spec.workload, Run: spec.run, Broker: env.BrokerKind(), Config: spec.config, LoadAvgStart: loadAvg()}
	prefix := env.prefix(spec.workload, spec.run)
	topics := processors.TopicsWithPrefix(prefix)
	defer env.deleteTopics(context.WithoutCancel(ctx), topics)
	prod, err := prefill(ctx, env, spec, topics, res)
	if err != nil {
		return nil, err
	}
	defer prod.close()
	if spec.raw {
		if res.Raw, err = rawConsume(ctx, env, topics.Events, prefix+"-raw", res.Records); err != nil {
			return nil, fmt.Errorf("raw consume: %w", err)
		}
		env.Log.Info("raw consume", "workload", spec.workload, "per_sec", int(res.Raw.PerSec))
	}
	var foldProf, liveProf string
	if spec.workload == "steady" {
		foldProf, liveProf = env.profilePaths()
		env.cpuProfile = ""
	}
	ip, err := foldBacklog(ctx, env, spec, topics, prefix, foldProf, res)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			ip.stop()
		}
	}()
	if len(spec.phases) > 0 || spec.ceiling {
		// The backlog's fold leaves the store compacting for a while, on
		// the same two cores; the ceiling and the phases measure at a
		// steady state, so they start once that work is done.
		res.SettleSeconds = ip.settle(ctx, time.Minute).Seconds()
		env.Log.Info("store settled", "workload", spec.workload, "seconds", round(res.SettleSeconds, 1))
	}
	foldPeak, _, _ := memOf("self")
	if spec.ceiling {
		if err := measureCeiling(ctx, env, res, topics, prefix); err != nil {
			return nil, fmt.Errorf("I/O ceiling: %w", err)
		}
		env.Log.Info("I/O ceiling", "workload", spec.workload, "per_sec", int(res.Ceiling.PerSec),
			"ratio_to_ceiling", round(res.RatioToCeiling, 2), "outputs_per_event", round(res.Outputs.RecordsPerEvent, 2),
			"output_bytes_per_event", int(res.Outputs.BytesPerEvent))
		// The captured outputs are garbage now; the harness's peak RSS is
		// the processor's, not the ceiling's copy.
		freeMemory()
	}
	if len(spec.phases) == 0 {
		liveProf = ""
	}
	if err := runPhases(ctx, env, spec, topics, prod, ip, liveProf, res); err != nil {
		return nil, err
	}
	peak, _, _ := memOf("self")
	res.HarnessPeakRSSBytes = max(foldPeak, peak)
	stopped = true
	sf, err := ip.stop()
	if err != nil {
		return nil, err
	}
	res.SKUs, res.SKULocations, res.PebbleBytes, res.LargestSKUStateBytes = sf.skus, sf.skuLocs, sf.bytes, sf.largest
	if res.SKULocations > 0 {
		res.PebbleBytesPerSKULocation = float64(res.PebbleBytes) / float64(res.SKULocations)
	}
	res.LoadAvgEnd = loadAvg()
	return res, nil
}

// freeMemory returns the garbage to the OS and restarts the peak RSS
// count (VmHWM) from here.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
}

// prefill generates the workload's backlog and produces it to a fresh
// events topic; the producer stays open for the phases.
func prefill(ctx context.Context, env *Env, spec foldSpec, topics processors.Topics, res *Result) (*producer, error) {
	t0 := time.Now()
	var evs *events
	if len(spec.phases) == 0 {
		evs = env.stream(fmt.Sprintf("%s %#v %d", spec.workload, spec.config, spec.backlog), func() *events { return generate(spec.src, spec.backlog) })
	} else {
		evs = generate(spec.src, spec.backlog) // the phases go on from where it ends
	}
	res.Events, res.GenerateSeconds = evs.len(), time.Since(t0).Seconds()
	prod, err := newProducer(ctx, env, topics)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	if _, err := prod.backlog(ctx, evs); err != nil {
		prod.close()
		return nil, err
	}
	res.ProduceSeconds = time.Since(t0).Seconds()
	adm, acl, err := env.admin()
	if err != nil {
		prod.close()
		return nil, err
	}
	_, total, err := endOffsets(ctx, adm, topics.Events)
	acl.Close()
	if err != nil {
		prod.close()
		return nil, err
	}
	res.Records = total
	env.Log.Info("pre-filled", "workload", spec.workload, "run", spec.run, "events", res.Events, "records", total,
		"generate_s", round(res.GenerateSeconds, 1), "produce_s", round(res.ProduceSeconds, 1))
	return prod, nil
}

// foldBacklog starts the processor on a fresh store and measures its fold
// of the pre-filled topic (CPU profile to prof, if any).
func foldBacklog(ctx context.Context, env *Env, spec foldSpec, topics processors.Topics, prefix, prof string, res *Result) (*inproc, error) {
	// The generated backlog is gone; what the harness holds from here is
	// the broker's copy, the processor and the phases' events.
	freeMemory()
	stopProfile, err := startProfile(prof)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	ip, err := startProcessor(ctx, env, topics, prefix+"-proc")
	if err != nil {
		return nil, err
	}
	res.Processor, err = track(ctx, res.Records, ip.folded, cpuSelf, ip.done, foldTimeout(res.Records))
	if err != nil {
		ip.stop()
		return nil, fmt.Errorf("processor: %w", err)
	}
	res.Processor.Batches = ip.batches()
	if res.Raw != nil && res.Raw.PerSec > 0 {
		res.RatioToRaw = res.Processor.PerSec / res.Raw.PerSec
	}
	env.Log.Info("processor folded the topic", "workload", spec.workload, "per_sec", int(res.Processor.PerSec),
		"sustained_per_sec", int(res.Processor.SustainedPerSec), "ratio_to_raw", round(res.RatioToRaw, 2))
	return ip, nil
}

// runPhases offers each phase's load to the running processor and
// measures its latency (CPU profile to prof, if any).
func runPhases(ctx context.Context, env *Env, spec foldSpec, topics processors.Topics, prod *producer, ip *inproc,
	prof string, res *Result) error {
	// Every phase's events are generated before the first is offered, so
	// generating never competes with the processor (nor shows in a profile).
	rates := make([]float64, len(spec.phases))
	phaseEvents := make([]*events, len(spec.phases))
	warmEvents := make([]*events, len(spec.phases))
	for i, ph := range spec.phases {
		if rates[i] = ph.rate; rates[i] <= 0 {
			rates[i] = ph.peak * res.Processor.PerSec
		}
		if n := int(rates[i] * ph.warmup); n > 0 {
			warmEvents[i] = generate(spec.src, n)
		}
		phaseEvents[i] = generate(spec.src, max(1, int(rates[i]*ph.seconds)))
	}
	stopProfile, err := startProfile(prof)
	if err != nil {
		return err
	}
	defer stopProfile()
	for i, ph := range spec.phases {
		if warmEvents[i] != nil {
			if err := warmUp(ctx, prod, ip, rates[i], warmEvents[i]); err != nil {
				return fmt.Errorf("phase %s warm-up: %w", ph.name, err)
			}
			warmEvents[i] = nil
		}
		lp, err := runPhase(ctx, env, topics, prod, ip, ph.name, rates[i], phaseEvents[i])
		if err != nil {
			return fmt.Errorf("phase %s: %w", ph.name, err)
		}
		phaseEvents[i] = nil
		res.Latency = append(res.Latency, *lp)
		env.Log.Info("latency", "workload", spec.workload, "phase", lp.Name, "offered", int(lp.OfferedPerSec),
			"processed", int(lp.ProcessedPerSec), "p50_ms", lp.Record.P50, "p99_ms", lp.Record.P99, "p999_ms", lp.Record.P999,
			"seen_p99_ms", round(lp.Seen.P99, 2), "matched", lp.Matched)
	}
	return nil
}

// warmUp offers evs at rate events/s and waits until they are folded,
// measuring nothing.
func warmUp(ctx context.Context, prod *producer, ip *inproc, rate float64, evs *events) error {
	base := ip.folded()
	records, _, err := prod.paced(ctx, evs, rate, make([]int64, evs.len()))
	if err != nil {
		return err
	}
	return ip.waitFolded(ctx, base+int64(records), foldTimeout(int64(records)))
}

// runPhase offers the events evs at rate events/s and measures.
func runPhase(ctx context.Context, env *Env, t processors.Topics, prod *producer, ip *inproc,
	name string, rate float64, evs *events) (*LatencyPhase, error) {
	n := evs.len()
	sent := make([]int64, n)
	lr, err := newLatencyReader(ctx, env, t.Updates, evs, sent)
	if err != nil {
		return nil, err
	}
	rctx, stopReader := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() { lr.run(rctx); close(readerDone) }()
	defer func() {
		stopReader()
		<-readerDone
		lr.cl.Close()
	}()

	base, batches0 := ip.folded(), ip.batches()
	cpu0 := cpuSelf()
	start := time.Now()
	records, took, err := prod.paced(ctx, evs, rate, sent)
	if err != nil {
		return nil, err
	}
	if err := ip.waitFolded(ctx, base+int64(records), foldTimeout(int64(records))); err != nil {
		return nil, err
	}
	processed := time.Since(start)
	cpu := cpuSelf() - cpu0
	batches := ip.batches() - batches0
	if err := lr.waitFor(ctx, env, t.Updates, time.Minute); err != nil {
		return nil, err
	}
	stopReader()
	<-readerDone
	lp := &LatencyPhase{
		Name: name, OfferedPerSec: rate, ProducedPerSec: float64(n) / took.Seconds(),
		ProcessedPerSec: float64(records) / processed.Seconds(), Events: n, CPUSeconds: cpu.Seconds(),
		Batches: batches,
	}
	if batches > 0 {
		lp.RecordsPerBatch = float64(records) / float64(batches)
		lp.BatchMillis = processed.Seconds() * 1000 / float64(batches)
	}
	lp.KeptUp = lp.ProcessedPerSec >= 0.95*float64(records)/took.Seconds()
	lr.mu.Lock()
	lp.Updates, lp.Matched = lr.updates, len(lr.record)
	lp.Record, lp.Seen = summarize(lr.record), summarize(lr.seen)
	lr.mu.Unlock()
	return lp, nil
}

// rawConsume reads topic from the start with the processor's client
// settings (a consumer group member blocking rebalances on poll, read
// committed, the same buffer and batch caps), polling every record and
// doing nothing else.
func rawConsume(ctx context.Context, env *Env, topic, group string, total int64) (*Throughput, error) {
	opts, pcfg := consumerOpts(env, "stockledger-bench-raw", topic, group)
	cl, err := kgo.NewClient(append(opts, kgo.ProducerBatchMaxBytes(1<<20))...)
	if err != nil {
		return nil, err
	}
	var n atomic.Int64
	var sink int
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		for {
			pctx, pcancel := context.WithTimeout(cctx, 200*time.Millisecond)
			fs := cl.PollRecords(pctx, pcfg.MaxBatchRecords)
			pcancel()
			if cctx.Err() != nil || fs.IsClientClosed() {
				done <- nil
				return
			}
			c := 0
			fs.EachRecord(func(r *kgo.Record) { c++; sink += len(r.Value) })
			n.Add(int64(c))
			cl.AllowRebalance()
		}
	}()
	th, err := track(ctx, total, n.Load, cpuSelf, nil, foldTimeout(total))
	cancel()
	<-done
	cl.AllowRebalance()
	cl.Close()
	_ = sink
	return th, err
}

// consumerOpts are the processor's consumer settings (processors.New): a
// group member blocking rebalances on poll, reading committed records,
// with the same buffer; and the processor's config for its batch cap.
func consumerOpts(env *Env, clientID, topic, group string) ([]kgo.Opt, processors.Config) {
	pcfg := processors.DefaultConfig()
	env.Processor.apply(&pcfg)
	return append([]kgo.Opt{
		kgo.SeedBrokers(env.Brokers...),
		kgo.ClientID(clientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MaxBufferedRecords(1 << 20),
	}, pcfg.ClientOpts...), pcfg
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
