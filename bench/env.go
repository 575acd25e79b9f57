package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
)

// ProcessorConfig is what the harness changes in the in-process
// processor's config; everything else is processors.DefaultConfig, as
// `stockledger run` uses it. Child processes (restart, scale) run the
// binary with its defaults.
type ProcessorConfig struct {
	// MaxBatchRecords caps the records per processing batch. Default 20,000
	// (the processor's default).
	MaxBatchRecords int `json:"max_batch_records"`
	// Changelog mirrors committed states to the changelog topic. Default
	// true (the processor's default).
	Changelog bool `json:"changelog"`
	// ProducerLinger, when 0 or more, overrides the processor's Kafka
	// producer linger (processors sets 0; franz-go's default is 10ms);
	// negative keeps the processor's own.
	ProducerLinger time.Duration `json:"producer_linger"`
	// CommitInterval, when 0 or more, overrides how often the processor
	// commits states and offsets (--commit-interval); negative keeps the
	// processor's default.
	CommitInterval time.Duration `json:"commit_interval"`
}

func (c ProcessorConfig) apply(cfg *processors.Config) {
	if c.MaxBatchRecords > 0 {
		cfg.MaxBatchRecords = c.MaxBatchRecords
	}
	cfg.Changelog = c.Changelog
	// The streams carry their own clock events, in the generator's time:
	// the processor's wall clock would expire every generated hold.
	cfg.ClockInterval = 0
	if c.ProducerLinger >= 0 {
		cfg.ClientOpts = append(cfg.ClientOpts, kgo.ProducerLinger(c.ProducerLinger))
	}
	if c.CommitInterval >= 0 {
		cfg.CommitInterval = c.CommitInterval
	}
}

// Env is where workloads run: the broker, a scratch directory, the
// stockledger binary for child processes, and the profile to take.
type Env struct {
	// Brokers are the Kafka brokers every client and child uses.
	Brokers []string
	// External is true for a Kafka given with --brokers, false for the
	// embedded broker the harness started.
	External bool
	// Partitions of every topic the harness creates.
	Partitions int32
	// Dir is the scratch directory (stores, children's data); removed by Close.
	Dir string
	// Processor is what the harness changes in processors.DefaultConfig.
	Processor ProcessorConfig
	// Log receives progress; processors log through it at warn level.
	Log *slog.Logger
	// Bin is the stockledger binary for child processes; built with `go
	// build` on first use when empty.
	Bin string
	// BinBuilt is when the harness built Bin (zero if it was given): the
	// children run the working tree of that moment, which may differ from
	// the harness's own build when others edit the code meanwhile.
	BinBuilt time.Time

	cpuProfile string // taken during the steady workload's first run, then cleared
	// holdsProfile is taken during the holds workload's first run's
	// offered rates, then cleared.
	holdsProfile string
	emb          *processors.Embedded
	// streams keeps generated events of workloads that read nothing after
	// them (replay, scale), so their second and third runs skip generating:
	// the same config gives the same events anyway.
	streams   map[string]*events
	buildOnce sync.Once
	buildErr  error
	seq       int
}

// NewEnv starts the embedded broker unless brokers are given, and makes
// the scratch directory.
func NewEnv(brokers []string, partitions int32, proc ProcessorConfig, cpuProfile string, log *slog.Logger) (*Env, error) {
	dir, err := os.MkdirTemp("", "stockledger-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{Brokers: brokers, External: len(brokers) > 0, Partitions: partitions, Dir: dir,
		Processor: proc, Log: log, cpuProfile: cpuProfile}
	if !e.External {
		// In memory: the harness measures the processor, not kfake's disk.
		emb, err := processors.StartEmbedded("127.0.0.1:0", "", partitions)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		e.emb, e.Brokers = emb, []string{emb.Addr()}
	}
	return e, nil
}

// Close stops the embedded broker and removes the scratch directory.
func (e *Env) Close() {
	if e.emb != nil {
		e.emb.Close()
	}
	os.RemoveAll(e.Dir)
}

// BrokerKind names the broker for results.
func (e *Env) BrokerKind() string {
	if e.External {
		return "external"
	}
	return "embedded"
}

// stream returns the events key names, generating them on first use.
func (e *Env) stream(key string, gen func() *events) *events {
	if ev, ok := e.streams[key]; ok {
		return ev
	}
	if e.streams == nil {
		e.streams = map[string]*events{}
	}
	ev := gen()
	e.streams[key] = ev
	return ev
}

// prefix returns a topic prefix (and group name) no other run uses, so
// runs can share a real broker.
func (e *Env) prefix(workload string, run int) string {
	e.seq++
	return fmt.Sprintf("bench-%s-%d-%d-%d", workload, run, e.seq, time.Now().UnixNano()%1_000_000_000)
}

// tempDir makes a fresh directory under Dir.
func (e *Env) tempDir(name string) (string, error) {
	return os.MkdirTemp(e.Dir, name+"-")
}

// binary returns the stockledger binary, building it on first use.
func (e *Env) binary(ctx context.Context) (string, error) {
	e.buildOnce.Do(func() {
		if e.Bin != "" {
			return
		}
		out := filepath.Join(e.Dir, "stockledger-bin")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/stockledger/stockledger/cmd/stockledger")
		if b, err := cmd.CombinedOutput(); err != nil {
			e.buildErr = fmt.Errorf("building stockledger: %v\n%s", err, b)
			return
		}
		e.Bin, e.BinBuilt = out, time.Now().UTC().Truncate(time.Second)
	})
	return e.Bin, e.buildErr
}

// profilePaths are the CPU profiles of the steady workload's first run:
// the fold of the pre-filled topic (peak throughput) and the fixed-load
// phases (live traffic); empty when none is wanted.
func (e *Env) profilePaths() (fold, live string) {
	if e.cpuProfile == "" {
		return "", ""
	}
	return e.cpuProfile, withSuffix(e.cpuProfile, ".live")
}

// withSuffix puts suffix before path's extension: x.prof, .live: x.live.prof.
func withSuffix(path, suffix string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + suffix + ext
}

// startProfile starts a CPU profile into path ("" does nothing); the
// returned func stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// admin returns an admin client on the env's brokers; close its client.
func (e *Env) admin() (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers...))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

// endOffsets returns topic's end offset per partition and their sum.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, 0, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var sum int64
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = fmt.Errorf("end offset of %s/%d: %w", topic, o.Partition, o.Err)
			return
		}
		out[o.Partition] = o.Offset
		sum += o.Offset
	})
	return out, sum, ferr
}

// deleteTopics removes a run's topics, so the embedded broker's memory
// (and a real broker's disk) does not grow run after run.
func (e *Env) deleteTopics(ctx context.Context, t processors.Topics) {
	adm, cl, err := e.admin()
	if err != nil {
		return
	}
	defer cl.Close()
	if _, err := adm.DeleteTopics(ctx, t.Events, t.Updates, t.Alerts, t.DeadLetters, t.Changelog, t.HoldResults, t.Listings); err != nil {
		e.Log.Warn("deleting topics", "prefix", t.Events, "err", err)
	}
}
