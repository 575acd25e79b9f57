package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// The replay benchmark: one large events topic (STOCKLEDGER_BENCH_EVENTS,
// default 1,000,000; 8 partitions; 100,000 SKUs), produced once per
// process, then read to its end by a raw consumer (records counted,
// nothing decoded: the ceiling) and replayed into a scratch store, so both
// rates come from the same run on the same topic:
//
//	go test -run '^$' -bench Replay -benchtime 1x -count 5 ./processors/audit/ | tee replay.txt
//	STOCKLEDGER_BENCH_EVENTS=10000000 go test -run '^$' -bench Replay -benchtime 1x -count 5 -timeout 60m ./processors/audit/
//	go run golang.org/x/perf/cmd/benchstat@latest replay.txt   # medians
//
// With STOCKLEDGER_TEST_BROKERS the topic is on that Kafka instead of an
// in-process kfake (which shares this process's CPUs).
// STOCKLEDGER_BENCH_CPUPROFILE=FILE profiles the replays alone (FILE.1, FILE.2, ... one per run), and
// STOCKLEDGER_BENCH_FETCH_MAX=BYTES sets both readers' FetchMaxBytes;
// BenchmarkReplayFold's size is STOCKLEDGER_BENCH_FOLD_EVENTS.
var bench struct {
	once sync.Once
	cl   *e2etest.Cluster
	n    int64
	err  error
}

const benchPartitions = 8

var profiles int // replay profiles written (STOCKLEDGER_BENCH_CPUPROFILE)

func benchCluster(b *testing.B) (*e2etest.Cluster, int64) {
	b.Helper()
	bench.once.Do(func() {
		n := 1_000_000
		if s := os.Getenv("STOCKLEDGER_BENCH_EVENTS"); s != "" {
			if v, err := strconv.Atoi(s); err == nil && v > 0 {
				n = v
			}
		}
		bench.cl, bench.err = e2etest.NewCluster("bench", benchPartitions)
		if bench.err != nil {
			return
		}
		start := time.Now()
		bench.n, bench.err = produceGenerated(bench.cl, n)
		b.Logf("produced %d events (%d records) in %v", n, bench.n, time.Since(start))
		// The broker's log was just written: let the kernel write it back
		// before anything is measured, as a topic an audit reads was
		// written long before.
		syscall.Sync()
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.cl, bench.n
}

// produceGenerated produces n generated events (the steady mix with
// retries and refusals) and returns the records the topic then holds.
func produceGenerated(cl *e2etest.Cluster, n int) (int64, error) {
	ctx := context.Background()
	p, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), benchPartitions)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	g := gen.New(gen.Config{Seed: 99, SKUs: 100_000, DupPct: 2, RefusePct: 2, Zipf: 1.05})
	var ev ledger.Event
	var records int64
	for i := range n {
		line := g.Next()
		ev.Reset()
		if r, _ := schemas.ParseEventJSON(line, &ev); r != ledger.ReasonNone {
			continue
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			continue
		}
		policy := ev.Type == ledger.TypeChannelPolicy
		p.Produce(ctx, ev.SKU, policy, v)
		records++
		if policy {
			records += benchPartitions - 1
		}
		if i%100_000 == 0 {
			if err := p.Flush(ctx); err != nil {
				return 0, err
			}
		}
	}
	return records, p.Flush(ctx)
}

// BenchmarkReplay reports events/s of a raw consume of the whole topic
// (the ceiling) and of a replay of it, in the same run.
func BenchmarkReplay(b *testing.B) {
	cl, n := benchCluster(b)
	cfg := auditConfig(cl)
	if v, err := strconv.Atoi(os.Getenv("STOCKLEDGER_BENCH_FETCH_MAX")); err == nil && v > 0 {
		cfg.FetchMaxBytes = int32(v)
	}
	b.Run("consume", func(b *testing.B) {
		for range b.N {
			if got := rawConsume(b, cfg); got != n {
				b.Fatalf("consumed %d records, want %d", got, n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("replay", func(b *testing.B) {
		if f := os.Getenv("STOCKLEDGER_BENCH_CPUPROFILE"); f != "" {
			profiles++ // -count runs: one file each (replay.prof.1, ...)
			stop := startProfile(b, fmt.Sprintf("%s.%d", f, profiles))
			defer stop()
		}
		var use usage
		use.start()
		for range b.N {
			res, err := audit.Replay(context.Background(), cfg, audit.Stop{}, filepath.Join(b.TempDir(), "scratch"), nil)
			if err != nil {
				b.Fatal(err)
			}
			if res.Counts.Records != n {
				b.Fatalf("replayed %d records, want %d", res.Counts.Records, n)
			}
			b.StopTimer()
			use.stop()
			use.heap()
			res.Close()
			use.start()
			b.StartTimer()
		}
		use.stop()
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		use.report(b)
	})
}

// usage adds up the process's CPU time and minor page faults over the
// timed part of a benchmark: cores used says how much of the machine a run
// kept busy, and faults what first touches of memory cost it (each a
// kernel entry; in a VM also the host's).
type usage struct {
	at            syscall.Rusage
	stealAt       float64
	cpu, faults   float64
	steal         float64 // CPU seconds the hypervisor gave others (all CPUs of the machine)
	live, touched float64 // at the end of the last run: live heap as of the last GC, and memory the runtime has mapped
	gcAt          [2]float64
	gcCPU, gcs    float64 // the collector's CPU seconds and cycles
}

// gcNow reads the collector's CPU seconds and cycles so far.
func gcNow() [2]float64 {
	m := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(m)
	return [2]float64{m[0].Value.Float64(), float64(m[1].Value.Uint64())}
}

// heap records the runtime's memory at the end of a run.
func (u *usage) heap() {
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	u.live = float64(m[0].Value.Uint64()) / (1 << 20)
	u.touched = float64(m[1].Value.Uint64()-m[2].Value.Uint64()) / (1 << 20)
}

func (u *usage) start() {
	syscall.Getrusage(syscall.RUSAGE_SELF, &u.at)
	u.stealAt = stealSeconds()
	u.gcAt = gcNow()
}

func (u *usage) stop() {
	var now syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &now)
	u.steal += stealSeconds() - u.stealAt
	gc := gcNow()
	u.gcCPU += gc[0] - u.gcAt[0]
	u.gcs += gc[1] - u.gcAt[1]
	u.cpu += time.Duration(now.Utime.Nano() + now.Stime.Nano() - u.at.Utime.Nano() - u.at.Stime.Nano()).Seconds()
	u.faults += float64(now.Minflt - u.at.Minflt)
}

func (u *usage) report(b *testing.B) {
	b.ReportMetric(u.cpu/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(u.faults/float64(b.N), "faults/op")
	b.ReportMetric(u.steal/float64(b.N), "steal-s/op")
	b.ReportMetric(u.gcCPU/float64(b.N), "gc-cpu-s/op")
	b.ReportMetric(u.gcs/float64(b.N), "gcs/op")
	b.ReportMetric(u.live, "live-MiB")
	b.ReportMetric(u.touched, "mapped-MiB")
}

// startProfile writes a CPU profile of the replay alone (not of producing
// the topic) to file, until the returned func is called:
// STOCKLEDGER_BENCH_CPUPROFILE=replay.prof.
func startProfile(b *testing.B, file string) func() {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// rawConsume reads every partition to its end with the replay's client
// settings, counting records.
func rawConsume(b *testing.B, cfg audit.Config) int64 {
	ctx := context.Background()
	ends := map[int32]int64{}
	adm, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		b.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	for p := range int32(benchPartitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes), kgo.FetchMaxPartitionBytes(cfg.FetchMaxBytes/4),
		kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	lo, err := listEnds(ctx, adm, cfg.Topic)
	adm.Close()
	if err != nil {
		b.Fatal(err)
	}
	for p, o := range lo {
		if o > 0 {
			ends[p] = o
		}
	}
	var count int64
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			count += int64(len(fp.Records))
			if k := len(fp.Records); k > 0 && fp.Records[k-1].Offset+1 >= ends[fp.Partition] {
				delete(ends, fp.Partition)
			}
		})
	}
	return count
}

func listEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, ends.Error()
}

// stealSeconds is the machine's steal time so far (/proc/stat: CPU time a
// virtual machine was ready to run but the hypervisor ran something else),
// or 0 where there is none. A run with steal was slowed by neighbours.
func stealSeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	v, err := strconv.ParseFloat(f[8], 64)
	if err != nil {
		return 0
	}
	return v / 100 // USER_HZ
}
