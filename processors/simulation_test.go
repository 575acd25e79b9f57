package processors

// A deterministic simulation test of the processor's fold, in the style of
// TigerBeetle's VOPR and Pebble's metamorphic test. One seed chooses an
// event stream (ledger/gen with retries, refusals, malformed events and
// policy changes, plus repeats of any earlier record and bytes that are not
// events), batch sizes, store options, crash points and an I/O fault
// schedule. The real fold runs over the real Pebble store on an in-memory
// filesystem, either as Folder.Fold or as the processor's batch protocol
// (fold, publish, mark published, commit: batcher.process without Kafka).
//
// Checked:
//   - after every reopen (and after every batch with
//     STOCKLEDGER_SIM_PARANOID=1), every SKU in the store against the spec
//     model folded up to the store's next offset: version, unassigned,
//     per-location quantities, published channel values, policies; the
//     offset never below what was durable nor above what was committed;
//   - now and then after a batch, every hot state in memory against the
//     store (trimming a hot state must lose nothing);
//   - at the end, the outputs (returned by committed folds, or published)
//     against the model: every update and alert the model has, nothing it
//     does not, repeats allowed; every dead letter; the last value seen per
//     channel/sku (also checked along the way once the fold is past every
//     output seen); with processor mode and every write synced, no version
//     going down;
//   - on about half the seeds the stream is part 2's mix (holds expiring on
//     clock events, listings, overrides): hold results, listing updates and
//     the SKUs' part 2 state too (simulation2_test.go).
//
//	go test -run TestSimulation -v ./processors/                  # default seeds
//	go test -run TestSimulation -v ./processors/ -sim.seed=12345  # replay one seed
//	STOCKLEDGER_SIM_SEED=12345 go test -run TestSimulation ./processors/
//	STOCKLEDGER_SIM_ITERATIONS=100 go test -run TestSimulation -timeout 1h ./processors/
//
// A killed process's Pebble stays in memory (its goroutines blocked on the
// fence) until the test binary exits: a hundred seeds take gigabytes, so
// many seeds are better run as several binaries (-sim.seed=N with
// STOCKLEDGER_SIM_ITERATIONS runs N, N+1, ...).
//
// The stream, the plan of actions and every fault decision come from the
// seed. Pebble's background goroutines (WAL flushing, compactions) can move
// which filesystem operation a fault lands on, so a replay takes the same
// path through the test but not always the same path through Pebble.
//
// Crashes:
//   - clean close (everything durable) and reopen;
//   - machine crash: the crashable MemFS is cloned as it would be after
//     the crash (what was synced), Pebble is closed on the lost disk, and
//     the store reopens on the clone;
//   - process kill: the dead process's I/O is fenced (operations in flight
//     finish, its goroutines then block forever) and the store reopens on
//     a copy of what it had written, synced or not (the page cache survives
//     a kill), or only of what was synced (the machine went down too). This
//     is also how a store that Pebble gave up on (a failed WAL write) ends:
//     the processor exits (its deferred Store.Close must return).
//
// Faults (errorfs, only while a batch is folded and committed): sstable
// reads (the batch fails; the test resumes with a new Folder as the
// processor does when it stalls, after a probe, or restarts), WAL writes
// and syncs (Pebble stops; the store reports itself broken; the process
// exits and restarts), and in processor mode failed publishes (nothing
// committed; restart). Read faults hit Pebble's compactions too, where
// Pebble v1.1.5 lost data (see injector.compactionReads). WAL faults are
// withheld only while a commit could rotate the log (logMayRotate).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

var simSeedFlag = flag.Uint64("sim.seed", 0, "run TestSimulation with this one seed (0: the default seeds, or STOCKLEDGER_SIM_SEED)")

const simDir = "/ledger"

// TestSimulation folds seeded streams through the processor's fold with
// crashes, reopens and injected I/O faults, and checks the store and the
// outputs against ledger/specmodel.
func TestSimulation(t *testing.T) {
	seeds := make([]uint64, 16)
	if testing.Short() {
		seeds = seeds[:4]
	}
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	if s := os.Getenv("STOCKLEDGER_SIM_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STOCKLEDGER_SIM_SEED: %v", err)
		}
		seeds = []uint64{v}
	}
	if *simSeedFlag != 0 {
		seeds = []uint64{*simSeedFlag}
	}
	if s := os.Getenv("STOCKLEDGER_SIM_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("STOCKLEDGER_SIM_ITERATIONS: want a positive integer, got %q", s)
		}
		base := uint64(time.Now().UnixNano())
		if os.Getenv("STOCKLEDGER_SIM_SEED") != "" || *simSeedFlag != 0 {
			base = seeds[0] // the given seed, then the next ones
		}
		seeds = seeds[:0]
		for i := range n {
			seeds = append(seeds, base+uint64(i))
		}
	}
	failed := 0
	for _, seed := range seeds {
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d (replay: go test -run TestSimulation -v ./processors/ -sim.seed=%d)", seed, seed)
			runSimulation(t, seed)
		})
		if !ok {
			t.Logf("FAILED: replay with -sim.seed=%d", seed)
			if failed++; failed >= 5 {
				return
			}
		}
	}
}

// wireEvent is one record of the simulated events partition and what the
// model is fed for it.
type wireEvent struct {
	value   []byte // what the processor reads (Avro, or the raw bytes)
	model   []byte // what the spec model folds (the JSON line, or the raw bytes)
	key     []byte
	id      string // event_id, if the line has one
	deadKey string // for raw records: the dead letter the processor must produce
	clock   bool   // a clock event (part 2)
	policy  bool   // a channel_policy event
}

type simConfig struct {
	n          int
	gen        gen.Config
	processor  bool    // the processor's batch protocol (publish, mark, commit) instead of Folder.Fold
	syncPct    int     // percent of store opens with Options.Sync
	crashPct   int     // per step: restart (clean, machine crash or kill)
	flushPct   int     // per step: flush memtables to sstables
	folderPct  int     // per step: resume with a new Folder over the same open store
	pRead      float64 // per sstable read while armed
	pWAL       float64 // per WAL write/sync while armed
	pPublish   float64 // per batch (processor mode): publishing fails
	maxBatch   int
	cacheBytes int64
	// order: the order the fold hands a batch's records in (the live
	// processor's, or a replay's grouped by SKU).
	order Order
}

func (c simConfig) String() string {
	mode := "folder"
	if c.processor {
		mode = "processor"
	}
	order := "offset"
	if c.order == SKUOrder {
		order = "sku"
	}
	return fmt.Sprintf("mode=%s n=%d skus=%d zipf=%.2f step=%s dup=%d%% refuse=%d%% invalid=%d%% policyAt=%v part2=%v clockEvery=%d sync=%d%% crash=%d%% flush=%d%% refolder=%d%% pRead=%g pWAL=%g pPublish=%g maxBatch=%d cache=%d order=%s",
		mode, c.n, c.gen.SKUs, c.gen.Zipf, c.gen.Step, c.gen.DupPct, c.gen.RefusePct, c.gen.InvalidPct, c.gen.PolicyChanges, c.gen.Part2, c.gen.ClockEvery,
		c.syncPct, c.crashPct, c.flushPct, c.folderPct, c.pRead, c.pWAL, c.pPublish, c.maxBatch, c.cacheBytes, order)
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func newSimConfig(r *rand.Rand) simConfig {
	c := simConfig{n: 1500 + r.IntN(2500), processor: r.IntN(2) == 0}
	c.gen = gen.Config{
		Seed:       r.Uint64(),
		SKUs:       pick(r, 3, 20, 100, 400),
		Zipf:       pick(r, 0, 1.1, 1.5),
		Step:       pick(r, time.Second, 30*time.Second),
		DupPct:     r.IntN(9),
		RefusePct:  r.IntN(7),
		InvalidPct: r.IntN(6),
	}
	for range r.IntN(6) {
		c.gen.PolicyChanges = append(c.gen.PolicyChanges, 5+r.IntN(c.n))
	}
	slices.Sort(c.gen.PolicyChanges)
	c.syncPct = pick(r, 0, 50, 100)
	c.crashPct = 2 + r.IntN(6)
	c.flushPct = r.IntN(8)
	c.folderPct = r.IntN(4)
	c.pRead = pick(r, 0, 0.002, 0.01, 0.03)
	c.pWAL = pick(r, 0, 0.002, 0.01, 0.03)
	if c.processor {
		c.pPublish = pick(r, 0, 0.02)
	}
	c.maxBatch = pick(r, 4, 16, 64, 256)
	c.cacheBytes = pick[int64](r, 4<<10, 1<<20)
	c.order = pick(r, OffsetOrder, SKUOrder) // drawn last: the draws before keep their seeds' configs
	drawPart2(r, &c)                         // after order, for the same reason
	return c
}

// buildStream generates the stream and adds what the generator does not:
// repeats of arbitrary earlier records (policies and malformed ones
// included), bytes that are not JSON, an unknown Avro fingerprint and
// truncated Avro bodies.
func buildStream(r *rand.Rand, c simConfig) []wireEvent {
	lines := gen.Stream(c.gen, c.n)
	for range r.IntN(20) {
		i := r.IntN(len(lines))
		at := i + 1 + r.IntN(len(lines)-i)
		lines = slices.Insert(lines, at, lines[i])
	}
	var out []wireEvent
	var ev ledger.Event
	for _, l := range lines {
		ev.Reset()
		if reason, _ := schemas.ParseEventJSON(l, &ev); reason == ledger.ReasonNone {
			if v, err := schemas.EncodeEvent(nil, &ev); err == nil {
				out = append(out, wireEvent{value: v, model: l, key: []byte(ev.SKU), id: ev.ID,
					clock: ev.Type == ledger.TypeClock, policy: ev.Type == ledger.TypeChannelPolicy})
				continue
			}
		}
		out = append(out, rawEvent(l))
	}
	for range r.IntN(4) {
		var raw []byte
		switch r.IntN(3) {
		case 0:
			raw = []byte("\x00\x01garbage")
		case 1:
			raw = []byte("\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08rest")
		default:
			// A real record cut short: right framing, bad body.
			for {
				w := out[r.IntN(len(out))]
				if w.deadKey == "" && len(w.value) > 12 {
					raw = bytes.Clone(w.value[:10+r.IntN(len(w.value)-11)])
					break
				}
			}
		}
		out = slices.Insert(out, r.IntN(len(out)+1), rawEvent(raw))
	}
	return out
}

var simRegistry = schemas.NewRegistry()

func rawEvent(b []byte) wireEvent {
	var ev ledger.Event
	r, _, err := simRegistry.DecodeEvent(b, &ev)
	if err != nil {
		panic(err) // simRegistry asks no schema registry: it cannot fail so
	}
	reason := "undecodable"
	if r == ledger.ReasonUnknownSchema {
		reason = "unknown_schema"
	}
	return wireEvent{value: b, model: b, deadKey: "|" + reason}
}

// injector fails sstable reads and WAL writes/syncs with seeded
// probabilities while armed (while a batch is folded and committed).
//
// Read faults reach Pebble's background compactions too. Pebble v1.1.5
// lost data there: sstable.compactionIterator.First ignored the error of
// the first data block (skipForward moved on to the next block, whose
// successful load reset the iterator's error), so the compaction
// succeeded without that block's keys and deleted its inputs, and a key
// vanished or an older version of it came back. Pebble v2 removed those
// iterator wrappers: a compaction that cannot read fails and is retried.
// compactionReads counts the faults that landed in one, so a run shows
// the path was taken.
type injector struct {
	mu              sync.Mutex
	r               *rand.Rand
	armed           bool
	pRead, pWAL     float64
	reads, wals     int // injected so far
	compactionReads int // of reads, those in a compaction
	withheldWALs    int // WAL faults not injected: a commit could rotate the log (logMayRotate)
}

// inCompaction reports whether the caller runs in a Pebble compaction
// (every one runs on a goroutine started at DB.compact).
func inCompaction() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "github.com/cockroachdb/pebble/v2.(*DB).compact") {
			return true
		}
		if !more {
			return false
		}
	}
}

// logMayRotate reports whether a goroutine is in a store write that can
// still rotate Pebble's log (it has not yet applied its batch), or is
// rotating it. A WAL fault there can make the rotation fail, and in Pebble
// v2 that is a fatal error (ledger/store/logwatch.go), which a test binary
// cannot survive: the store's check for a failed log comes before it.
// What the store holds after such a crash is what a kill leaves, which the
// simulation does test.
func logMayRotate() bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for n == len(buf) {
		buf = make([]byte, 2*len(buf))
		n = runtime.Stack(buf, true)
	}
	for _, g := range bytes.Split(buf[:n], []byte("\n\n")) {
		if bytes.Contains(g, []byte("pebble/v2.(*DB).rotateWAL(")) {
			return true
		}
		if bytes.Contains(g, []byte("ledger/store.(*Store).write(")) &&
			!bytes.Contains(g, []byte("pebble/v2.(*DB).commitApply(")) &&
			!bytes.Contains(g, []byte("pebble/v2.(*commitPipeline).publish(")) {
			return true
		}
	}
	return false
}

func (in *injector) String() string { return "simulation injector" }

func (in *injector) MaybeError(op errorfs.Op) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.armed {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileRead, errorfs.OpFileReadAt:
		if strings.HasSuffix(op.Path, ".sst") && in.r.Float64() < in.pRead {
			if inCompaction() {
				in.compactionReads++
			}
			in.reads++
			return fmt.Errorf("sst read %s: %w", op.Path, errorfs.ErrInjected)
		}
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		if strings.HasSuffix(op.Path, ".log") && in.r.Float64() < in.pWAL {
			if logMayRotate() {
				in.withheldWALs++
				return nil
			}
			in.wals++
			return fmt.Errorf("wal write %s: %w", op.Path, errorfs.ErrInjected)
		}
	}
	return nil
}

func (in *injector) arm(on bool) {
	in.mu.Lock()
	in.armed = on
	in.mu.Unlock()
}

// process is one simulated process's access to the filesystem. When the
// process dies its I/O is fenced: operations in flight finish, and every
// later operation of its goroutines (Pebble's flusher, compactions,
// cleaner) blocks forever, so it cannot touch what the next process opens.
type process struct {
	ops      *opLog
	mu       sync.Mutex
	idle     sync.Cond
	dead     bool
	inflight int
}

func newProcess() *process {
	p := &process{}
	p.idle.L = &p.mu
	return p
}

func (p *process) enter() {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		select {} // the process is gone; so is this goroutine
	}
	p.inflight++
	p.mu.Unlock()
}

func (p *process) exit() {
	p.mu.Lock()
	if p.inflight--; p.inflight == 0 {
		p.idle.Broadcast()
	}
	p.mu.Unlock()
}

// kill fences the process's I/O and waits for what is in flight.
func (p *process) kill() {
	p.mu.Lock()
	p.dead = true
	for p.inflight > 0 {
		p.idle.Wait()
	}
	p.mu.Unlock()
}

// opLog keeps the last file operations, for a diagnosis.
type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) add(op string) {
	l.mu.Lock()
	if len(l.ops) >= 200 {
		l.ops = l.ops[1:]
	}
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

func (l *opLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.ops, "\n  ")
}

// fenceFS runs every operation of a process through its fence.
type fenceFS struct {
	vfs.FS
	p *process
}

func (fs fenceFS) file(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return fenceFile{f, fs.p}, nil
}

func (fs fenceFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	fs.p.enter()
	defer fs.p.exit()
	fs.p.ops.add("create " + name)
	return fs.file(fs.FS.Create(name, category))
}

func (fs fenceFS) Link(oldname, newname string) error {
	fs.p.enter()
	defer fs.p.exit()
	return fs.FS.Link(oldname, newname)
}

func (fs fenceFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	fs.p.enter()
	defer fs.p.exit()
	return fs.file(fs.FS.Open(name, opts...))
}

func (fs fenceFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	fs.p.enter()
	defer fs.p.exit()
	return fs.file(fs.FS.OpenReadWrite(name, category, opts...))
}

func (fs fenceFS) OpenDir(name string) (vfs.File, error) {
	fs.p.enter()
	defer fs.p.exit()
	return fs.file(fs.FS.OpenDir(name))
}

func (fs fenceFS) Remove(name string) error {
	fs.p.enter()
	defer fs.p.exit()
	fs.p.ops.add("remove " + name)
	return fs.FS.Remove(name)
}

func (fs fenceFS) RemoveAll(name string) error {
	fs.p.enter()
	defer fs.p.exit()
	return fs.FS.RemoveAll(name)
}

func (fs fenceFS) Rename(oldname, newname string) error {
	fs.p.enter()
	defer fs.p.exit()
	fs.p.ops.add("rename " + oldname + " " + newname)
	return fs.FS.Rename(oldname, newname)
}

func (fs fenceFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	fs.p.enter()
	defer fs.p.exit()
	fs.p.ops.add("reuse " + oldname + " " + newname)
	return fs.file(fs.FS.ReuseForWrite(oldname, newname, category))
}

func (fs fenceFS) MkdirAll(dir string, perm os.FileMode) error {
	fs.p.enter()
	defer fs.p.exit()
	return fs.FS.MkdirAll(dir, perm)
}

func (fs fenceFS) List(dir string) ([]string, error) {
	fs.p.enter()
	defer fs.p.exit()
	return fs.FS.List(dir)
}

func (fs fenceFS) Stat(name string) (vfs.FileInfo, error) {
	fs.p.enter()
	defer fs.p.exit()
	return fs.FS.Stat(name)
}

type fenceFile struct {
	vfs.File
	p *process
}

func (f fenceFile) Close() error {
	f.p.enter()
	defer f.p.exit()
	return f.File.Close()
}

func (f fenceFile) Read(b []byte) (int, error) {
	f.p.enter()
	defer f.p.exit()
	return f.File.Read(b)
}

func (f fenceFile) ReadAt(b []byte, off int64) (int, error) {
	f.p.enter()
	defer f.p.exit()
	return f.File.ReadAt(b, off)
}

func (f fenceFile) Write(b []byte) (int, error) {
	f.p.enter()
	defer f.p.exit()
	return f.File.Write(b)
}

func (f fenceFile) WriteAt(b []byte, off int64) (int, error) {
	f.p.enter()
	defer f.p.exit()
	return f.File.WriteAt(b, off)
}

func (f fenceFile) Preallocate(off, n int64) error {
	f.p.enter()
	defer f.p.exit()
	return f.File.Preallocate(off, n)
}

func (f fenceFile) Sync() error {
	f.p.enter()
	defer f.p.exit()
	return f.File.Sync()
}

func (f fenceFile) SyncTo(n int64) (bool, error) {
	f.p.enter()
	defer f.p.exit()
	return f.File.SyncTo(n)
}

func (f fenceFile) SyncData() error {
	f.p.enter()
	defer f.p.exit()
	return f.File.SyncData()
}

// sim is one seed's run.
type sim struct {
	t     *testing.T
	r     *rand.Rand
	c     simConfig
	evs   []wireEvent
	recs  []*kgo.Record
	cfg   ledger.Config
	mem   *vfs.MemFS
	inj   *injector
	proc  *process
	st    *store.Store
	sync  bool // the open store commits with Sync
	f     *Folder
	model *specmodel.Model
	mAt   int // events folded into model

	// What the store may hold after a restart.
	committed int64 // next offset of the last successful commit
	attempted int64 // ... or of a failed one (it may have reached the log)
	durable   int64 // an offset that must survive any crash
	published int64 // processor mode: the in-memory published mark
	seen      int64 // outputs of every event below were returned or published

	// Outputs of committed (folder mode) or acknowledged (processor mode)
	// batches, in order.
	updates    map[string]int
	last       map[string]int64  // channel/sku (or channel/sku/listing_sku) -> last available returned
	lastVer    map[string]uint64 // channel/sku (or channel/sku/listing_sku) -> last version returned
	isListing  map[string]bool   // keys of last that are listings'
	p2         part2Outputs      // hold results (simulation2_test.go)
	warm       bool              // the Folder has folded a clock since it started
	regressed  []string          // versions that went down
	alerts     map[string]int
	deads      map[string]int
	unobserved map[string]bool // ids of events whose outputs were lost with a failed Fold that committed anyway

	unobservedNoID map[int]bool // offsets of such events without an id

	stats map[string]int
	trace []string // recent actions, printed on failure
	ops   *opLog
}

// logf records an action; the last ones are printed if the run fails.
func (s *sim) logf(format string, args ...any) {
	if len(s.trace) >= 80 {
		s.trace = s.trace[1:]
	}
	s.trace = append(s.trace, fmt.Sprintf(format, args...))
}

func runSimulation(t *testing.T, seed uint64) {
	start := time.Now()
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	c := newSimConfig(r)
	t.Logf("config: %s", c)
	s := &sim{
		t: t, r: r, c: c, cfg: ledger.DefaultConfig(),
		inj:     &injector{r: rand.New(rand.NewPCG(r.Uint64(), r.Uint64())), pRead: c.pRead, pWAL: c.pWAL},
		updates: map[string]int{}, last: map[string]int64{}, lastVer: map[string]uint64{}, isListing: map[string]bool{}, p2: newPart2Outputs(),
		alerts: map[string]int{}, deads: map[string]int{}, unobserved: map[string]bool{}, unobservedNoID: map[int]bool{},
		stats: map[string]int{},
	}
	s.mem = cloneFS(t, vfs.NewCrashableMem(), false)
	s.evs = buildStream(r, c)
	s.recs = make([]*kgo.Record, len(s.evs))
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i, e := range s.evs {
		s.recs[i] = &kgo.Record{Topic: "events", Partition: 0, Offset: int64(i), Key: e.key, Value: e.value,
			Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
	}
	defer func() {
		if t.Failed() {
			t.Logf("last actions:\n  %s", strings.Join(s.trace, "\n  "))
		}
	}()
	s.open()
	n := int64(len(s.recs))
	steps := 0
	for s.f.Next() < n {
		steps++
		if steps > 20*len(s.recs) {
			t.Fatalf("no progress after %d steps (next %d of %d)", steps, s.f.Next(), n)
		}
		k := r.IntN(100)
		switch {
		case k < c.crashPct:
			s.restart()
		case k < c.crashPct+c.flushPct:
			s.flush()
		case k < c.crashPct+c.flushPct+c.folderPct:
			s.stats["new folders"]++
			s.logf("new folder")
			s.newFolder()
		default:
			s.step()
		}
		if t.Failed() {
			return
		}
	}
	// The end: a clean close and reopen, then everything. A WAL write that
	// failed in the background can still surface at the close and lose a
	// tail: fold it again, without faults.
	for range 10 {
		s.closeClean()
		s.open()
		if s.f.Next() == n {
			break
		}
		s.inj.mu.Lock()
		s.inj.pRead, s.inj.pWAL = 0, 0
		s.inj.mu.Unlock()
		s.c.pPublish = 0
		for s.f.Next() < n && !t.Failed() {
			s.step()
		}
	}
	if got := s.f.Next(); got != n {
		t.Fatalf("after the final clean close the store's next offset is %d, want %d", got, n)
	}
	s.checkOutputs()
	s.closeClean()
	t.Logf("%d events, %d steps, %s; injected: %d sst read faults (%d in compactions), %d WAL faults (%d more withheld while a commit could rotate the log); %s",
		n, steps, time.Since(start).Round(time.Millisecond), s.inj.reads, s.inj.compactionReads, s.inj.wals, s.inj.withheldWALs, fmtStats(s.stats))
}

func fmtStats(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return b.String()
}

// cloneFS copies src's store directory (all of it, or only what was
// synced) into a new crashable MemFS where all of it is synced. With a new
// MemFS nothing of src (an abandoned Pebble's files, its lock) is shared.
func cloneFS(t *testing.T, src *vfs.MemFS, onlySynced bool) *vfs.MemFS {
	t.Helper()
	if onlySynced {
		src = src.CrashClone(vfs.CrashCloneCfg{})
	}
	dst := vfs.NewCrashableMem()
	if err := dst.MkdirAll(simDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := vfs.Clone(src, dst, simDir, simDir, vfs.CloneSync); err != nil {
		t.Fatalf("copying the store's files: %v", err)
	}
	// Pebble does not sync the parent of the directory it creates.
	d, err := dst.OpenDir("/")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	return dst
}

// open opens the store on the simulated filesystem and resumes from it.
func (s *sim) open() {
	s.t.Helper()
	s.inj.arm(false)
	s.sync = s.r.IntN(100) < s.c.syncPct
	s.proc = newProcess()
	if s.ops == nil {
		s.ops = &opLog{}
	}
	s.ops.add("---- open")
	s.proc.ops = s.ops
	fs := fenceFS{errorfs.Wrap(s.mem, s.inj), s.proc}
	st, err := store.Open(simDir, store.Options{FS: fs, Sync: s.sync, CacheBytes: s.c.cacheBytes})
	if err != nil {
		s.t.Fatalf("reopening the store: %v", err)
	}
	s.st = st
	s.stats["opens"]++
	s.logf("open sync=%v", s.sync)
	s.resume()
	s.published = s.f.pt.published // a new process knows only the store's mark
}

// resume checks the store against the model at the store's offset and
// starts a Folder from there.
func (s *sim) resume() {
	s.t.Helper()
	next, _, err := s.st.Offset(0)
	if err != nil {
		s.t.Fatalf("reading the offset: %v", err)
	}
	s.logf("  store at %d (committed %d, attempted %d, durable %d)", next, s.committed, s.attempted, s.durable)
	if next < s.durable {
		s.t.Fatalf("the store resumes at offset %d, but offset %d was durable (synced commit or clean close): committed state lost", next, s.durable)
	}
	if next > max(s.committed, s.attempted) {
		s.t.Fatalf("the store resumes at offset %d, beyond the last commit %d", next, max(s.committed, s.attempted))
	}
	if next < s.committed {
		s.stats["events rolled back"] += int(s.committed - next)
	}
	if next > s.committed {
		// A commit that reported an error reached the log anyway (Pebble
		// applied it, then failed to sync). Folder mode never saw its
		// outputs.
		s.stats["failed commits kept"]++
		if !s.c.processor {
			for i, e := range s.evs[s.committed:next] {
				if e.id != "" {
					s.unobserved[e.id] = true
				} else {
					s.unobservedNoID[int(s.committed)+i] = true
				}
			}
		}
	}
	s.committed, s.attempted = next, next
	s.checkStore(next)
	s.newFolder()
}

func (s *sim) newFolder() {
	s.t.Helper()
	f, err := NewFolder(s.st, simRegistry, "events", 0, 1, s.cfg, pick(s.r, 1, 7, 50, 100_000))
	if err != nil {
		s.t.Fatalf("NewFolder: %v", err)
	}
	if f.Next() != s.committed {
		s.t.Fatalf("a new Folder starts at %d, the last commit was %d", f.Next(), s.committed)
	}
	if s.c.processor {
		// As Processor.stall: fresh state, the in-memory mark kept.
		f.pt.published = max(f.pt.published, s.published)
	}
	f.pt.fold.Order = s.c.order
	s.f = f
	s.warm = false
}

// step folds and commits one random batch with faults armed.
func (s *sim) step() {
	s.t.Helper()
	from := s.f.Next()
	size := 1 + s.r.IntN(s.c.maxBatch)
	if s.r.IntN(10) == 0 {
		size = 0 // an empty batch commits the same offset
	}
	to := min(from+int64(size), int64(len(s.recs)))
	s.logf("batch [%d,%d) sync=%v", from, to, s.sync)
	recs := s.recs[from:to]
	s.attempted = max(s.attempted, to)
	if simParanoid {
		s.checkReads()
	}
	s.noteColdClock(from, to)
	var err error
	if s.c.processor {
		err = s.processorBatch(recs)
	} else {
		err = s.folderBatch(recs)
	}
	if err != nil {
		if errors.Is(err, errPublish) {
			// Not a store error: Run returns it and the process exits.
			s.logf("  publish failed")
			s.stats["publish failures"]++
			s.closeClean()
			s.open()
			return
		}
		if !isInjected(err) {
			s.t.Fatalf("a batch failed with an error that was not injected: %v", err)
		}
		s.logf("  failed: %v", err)
		s.stats["batch errors"]++
		s.recoverFromError()
		return
	}
	if got := s.f.Next(); got != to {
		s.t.Fatalf("after folding [%d,%d) Next is %d", from, to, got)
	}
	s.stats["batches"]++
	s.committed = to
	if s.sync {
		s.durable = to
	}
	if s.r.IntN(8) == 0 {
		s.checkHot()
	}
	if to >= s.seen && (s.r.IntN(4) == 0 || simParanoid) {
		s.checkLatest(to)
	}
	if simParanoid {
		s.inj.arm(false)
		s.checkStore(to)
	}
}

// dumpDB describes the Pebble database, for a diagnosis.
func (s *sim) dumpDB() string {
	db := s.st.DB()
	var b strings.Builder
	it, err := db.NewIter(nil)
	if err != nil {
		return err.Error()
	}
	for it.First(); it.Valid(); it.Next() {
		fmt.Fprintf(&b, "  key %q (%d bytes)\n", it.Key(), len(it.Value()))
	}
	fmt.Fprintf(&b, "  iter err %v\n", it.Error())
	it.Close()
	for _, k := range [][]byte{store.PartitionStateKey(0), store.OffsetKey(0)} {
		v, c, err := db.Get(k)
		fmt.Fprintf(&b, "  get %q: %d bytes, %v\n", k, len(v), err)
		if c != nil {
			c.Close()
		}
	}
	tables, err := db.SSTables()
	for l, ts := range tables {
		for _, t := range ts {
			fmt.Fprintf(&b, "  L%d %s [%q, %q] seqnums [%d, %d]\n", l, t.FileNum, t.Smallest.UserKey, t.Largest.UserKey, t.SmallestSeqNum, t.LargestSeqNum)
		}
	}
	fmt.Fprintf(&b, "  %v\n%s", err, db.Metrics())
	ls, _ := s.mem.List(simDir)
	fmt.Fprintf(&b, "  files %v\n  file ops:\n  %s\n", ls, s.ops)
	return b.String()
}

// checkReads compares point reads with a scan of the store.
func (s *sim) checkReads() {
	s.t.Helper()
	err := s.st.SKUs(0, func(name string, val []byte) error {
		var sk ledger.SKU
		found, err := s.st.SKU(0, name, &sk)
		if err != nil || !found {
			return fmt.Errorf("%s: get: found %v, %v", name, found, err)
		}
		if !bytes.Equal(sk.AppendBinary(nil), val) {
			var scanned ledger.SKU
			_ = ledger.DecodeSKU(name, val, &scanned)
			return fmt.Errorf("%s: get returns version %d, a scan version %d", name, sk.Version, scanned.Version)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("reads disagree: %v", err)
	}
}

// simParanoid checks the store against the model after every batch.
var simParanoid = os.Getenv("STOCKLEDGER_SIM_PARANOID") != ""

var errPublish = errors.New("simulated publish failure")

// folderBatch is Folder.Fold; its outputs count once it returns.
func (s *sim) folderBatch(recs []*kgo.Record) error {
	s.inj.arm(true)
	fx, deads, err := s.f.Fold(recs)
	s.inj.arm(false)
	if err != nil {
		return err
	}
	for i := range fx.Updates {
		s.addUpdate(&fx.Updates[i])
	}
	s.p2.addHoldResults(fx.HoldResults)
	s.addOutputs(fx.Alerts, deads)
	s.seen = max(s.seen, s.f.Next())
	return nil
}

// processorBatch is the live pipeline's stages for one partition, one
// after the other: fold (foldBatch), publish (coalesced updates, alerts,
// dead letters) and wait for acks, record the published mark
// (markPublished), commit (commitState). Outputs count once acknowledged.
func (s *sim) processorBatch(recs []*kgo.Record) error {
	pt := s.f.pt
	s.f.seq++
	s.inj.arm(true)
	defer s.inj.arm(false)
	pb, err := pt.foldBatch(recs, s.f.seq, true)
	if err != nil {
		return err
	}
	if s.r.Float64() < s.c.pPublish {
		return errPublish
	}
	for _, c := range pt.coalesce() {
		s.addUpdate(&c.u)
	}
	// Every key the batch changed: consumers now hold the ledger's value.
	for i := range pt.fx.Updates {
		u := &pt.fx.Updates[i]
		k := updateOutputKey(u.Channel, u.SKU, u.ListingSKU)
		sk := pt.fold.SKU(u.SKU)
		want, _ := sk.PublishedATS(u.Channel)
		if u.ListingSKU != "" {
			want = ledger.Qty(ledgerListingValue(sk, u.Channel, u.ListingSKU))
		}
		if got, ok := s.last[k]; !ok || got != int64(want) {
			s.t.Fatalf("after publishing [%d,%d) consumers hold %s = %d (present %v), the ledger %d",
				recs[0].Offset, pt.next, k, got, ok, want)
		}
	}
	s.p2.addHoldResults(pt.fx.HoldResults)
	s.addOutputs(pt.fx.Alerts, pt.deads)
	s.seen = max(s.seen, pt.next)
	pt.published = max(pt.published, pb.mark)
	s.published = pt.published
	parts := []partBatch{pb}
	if err := markPublished(s.st, parts); err != nil {
		return err
	}
	if err := commitState(s.st, parts, false); err != nil {
		return err
	}
	pt.fold.Saved(s.f.seq)
	pt.fold.Evict(s.f.max)
	return nil
}

func (s *sim) addUpdate(u *ledger.Update) {
	k := updateOutputKey(u.Channel, u.SKU, u.ListingSKU)
	if u.ListingSKU != "" {
		s.isListing[k] = true
	}
	if v, ok := s.lastVer[k]; ok && u.Version < v && len(s.regressed) < 10 {
		s.regressed = append(s.regressed, fmt.Sprintf("%s: version %d after %d", k, u.Version, v))
	}
	s.updates[ledgerUpdateKey(u)]++
	s.last[k] = int64(u.Available)
	s.lastVer[k] = u.Version
}

func (s *sim) addOutputs(alerts []ledger.Alert, deads []schemas.DeadLetter) {
	for i := range alerts {
		s.alerts[keys.Alert(&alerts[i])]++
	}
	for i := range deads {
		s.deads[deads[i].EventID+"|"+deads[i].Reason.String()]++
	}
}

func isInjected(v any) bool {
	if err, ok := v.(error); ok && errors.Is(err, errorfs.ErrInjected) {
		return true
	}
	return strings.Contains(fmt.Sprint(v), errorfs.ErrInjected.Error())
}

// recoverFromError continues after a batch failed on the store. A broken
// store (Pebble stopped: a WAL write or sync failed) ends the process, as
// Processor.Run does. Otherwise the processor stalls and resumes from the
// store's offset with fresh state (a new Folder), or restarts.
func (s *sim) recoverFromError() {
	s.t.Helper()
	if s.st.Broken() != nil {
		s.stats["broken stores"]++
		s.exitBroken()
		return
	}
	if s.r.IntN(2) == 0 {
		s.stats["stalls"]++
		s.logf("  stall and resume")
		if err := s.st.Probe(); err != nil {
			// With NoSync commits a WAL write can fail in the background
			// and go unnoticed until the probe's synced write: Pebble
			// stops there. Processor.tryRecover only logs a failed probe
			// and probes again, forever; a process must exit instead.
			if s.st.Broken() == nil {
				s.t.Fatalf("probing the store with faults off: %v", err)
			}
			s.logf("  probe: %v", err)
			s.stats["probes that broke the store"]++
			s.exitBroken()
			return
		}
		s.durable = max(s.durable, s.committed) // the probe's synced write synced the log
		s.resume()
		return
	}
	s.restart()
}

// exitBroken is the process exiting on a broken store (cmd/stockledger:
// Run returns, the deferred Store.Close runs), then a restart after a kill
// or a machine crash.
func (s *sim) exitBroken() {
	s.t.Helper()
	s.logf("  store broken: exit")
	s.closeWithin(s.st.Close, "Store.Close of a broken store")
	s.die(s.r.IntN(2) == 0)
	s.open()
}

// closeWithin runs close, failing the test if it does not return.
func (s *sim) closeWithin(close func() error, what string) error {
	s.t.Helper()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("panic: %v", v)
			}
		}()
		done <- close()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		s.t.Fatalf("%s hangs; goroutines:\n%s", what, b.String())
		return nil
	}
}

// die kills the process: its I/O is fenced and the store is left as it
// is (Pebble is not closed). The next process sees what was written, or
// only what was synced if the machine went down too.
func (s *sim) die(machine bool) {
	s.t.Helper()
	s.logf("  killed (machine down too: %v)", machine)
	s.inj.arm(false)
	s.proc.kill()
	s.mem = cloneFS(s.t, s.mem, machine)
	s.st = nil
	if machine {
		s.stats["kills with machine crash"]++
	} else {
		s.stats["kills"]++
	}
}

// flush moves memtables into sstables (so reads hit files and faults).
func (s *sim) flush() {
	s.t.Helper()
	s.logf("flush")
	db := s.st.DB()
	if db == nil {
		// The store saw its log fail (a WAL write in the background) and
		// is broken; a flush would rotate the failed log. The process
		// exits, as Processor.Run does.
		s.logf("  store broken: its log failed")
		s.stats["broken stores"]++
		s.exitBroken()
		return
	}
	var err error
	crashed := func() (v any) {
		defer func() { v = recover() }()
		err = db.Flush()
		return nil
	}()
	if crashed != nil || err != nil {
		if !isInjected(crashed) && !isInjected(err) {
			s.t.Fatalf("flush: %v %v", crashed, err)
		}
		// Pebble stopped with a panic it survives: it is done.
		s.logf("  flush failed: %v %v", crashed, err)
		s.stats["flush panics"]++
		s.die(s.r.IntN(2) == 0)
		s.open()
		return
	}
	s.stats["flushes"]++
}

// restart closes the store cleanly, crashes the machine or kills the
// process, then reopens it.
func (s *sim) restart() {
	s.t.Helper()
	switch s.r.IntN(4) {
	case 0:
		s.stats["clean restarts"]++
		s.closeClean()
	case 1:
		s.stats["machine crashes"]++
		s.machineCrash()
	default:
		s.die(s.r.IntN(2) == 0)
	}
	s.open()
}

func (s *sim) closeClean() {
	s.t.Helper()
	s.logf("close")
	s.inj.arm(false)
	err := s.closeWithin(s.st.Close, "Store.Close")
	s.st = nil
	if err != nil {
		if !isInjected(err) {
			s.t.Fatalf("closing the store: %v", err)
		}
		// A WAL write failed in the background (NoSync) and surfaces
		// only here: what was not written is lost, as in a crash.
		s.logf("  close failed: %v", err)
		s.stats["close errors"]++
		return
	}
	s.durable = s.committed // a clean close syncs the WAL
}

// machineCrash: whatever the store did not sync is lost. The disk after
// the crash is a clone of what was synced; Pebble is then closed on the
// old one (so its goroutines stop), where nothing it writes is seen again.
func (s *sim) machineCrash() {
	s.t.Helper()
	s.logf("machine crash")
	s.inj.arm(false)
	crashed := s.mem.CrashClone(vfs.CrashCloneCfg{})
	_ = s.closeWithin(s.st.Close, "closing a crashed store")
	s.st = nil
	s.mem = crashed
}

// modelAt returns the spec model folded over events [0, next).
func (s *sim) modelAt(next int64) *specmodel.Model {
	if s.model == nil || int64(s.mAt) > next {
		s.model, s.mAt = specmodel.New(), 0
	}
	for ; int64(s.mAt) < next; s.mAt++ {
		s.model.Apply(s.evs[s.mAt].model)
	}
	return s.model
}

// checkStore compares every SKU of the store with the model folded up to
// the store's next offset.
func (s *sim) checkStore(next int64) {
	s.t.Helper()
	m := s.modelAt(next)
	var diffs []string
	add := func(f string, a ...any) {
		if len(diffs) < 20 {
			diffs = append(diffs, fmt.Sprintf(f, a...))
		}
	}
	var p ledger.Partition
	p.Config = s.cfg
	if err := s.st.Partition(0, &p); err != nil {
		s.t.Fatalf("reading the partition state: %v", err)
	}
	stored := map[string]bool{}
	err := s.st.SKUs(0, func(name string, val []byte) error {
		var sk ledger.SKU
		if err := ledger.DecodeSKU(name, val, &sk); err != nil {
			return err
		}
		stored[name] = true
		w, ok := m.SKU(name)
		if !ok {
			add("%s: in the store (version %d), unknown to the model", name, sk.Version)
			return nil
		}
		if int64(sk.Version) != w.Version || int64(sk.Unassigned) != w.Unassigned {
			add("%s: version/unassigned %d/%d, model %d/%d", name, sk.Version, sk.Unassigned, w.Version, w.Unassigned)
		}
		named := 0
		for _, l := range sk.Locations {
			if !l.Named {
				continue
			}
			named++
			got := specmodel.LocationView{OnHand: int64(l.OnHand), Reserved: int64(l.Reserved), Unavailable: int64(l.Unavailable),
				Incoming: int64(l.Incoming), SafetyStock: int64(l.SafetyStock), Available: int64(l.Available())}
			if wl, ok := w.Locations[l.Code]; !ok || got != wl {
				add("%s@%s: %+v, model %+v (has %v)", name, l.Code, got, wl, ok)
			}
		}
		if named != len(w.Locations) {
			add("%s: %d locations, model %d", name, named, len(w.Locations))
		}
		if len(sk.Published) != len(w.Channels) {
			add("%s: %d published channels %v, model %v", name, len(sk.Published), sk.Published, w.Channels)
		}
		for _, cv := range sk.Published {
			if v, ok := w.Channels[cv.Channel]; !ok || int64(cv.ATS) != v {
				add("%s/%s: published %d, model %d (has %v)", cv.Channel, name, cv.ATS, v, ok)
			}
		}
		if d := diffPart2State(&p, &sk, &w); d != "" {
			add("%s: %s", name, d)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("reading the store's SKUs: %v", err)
	}
	for _, name := range m.SKUs() {
		if !stored[name] {
			add("%s: known to the model, not in the store", name)
		}
	}
	if d := s.diffPolicies(&p, next); d != "" {
		add("partition: %s", d)
	}
	if len(diffs) > 0 {
		s.t.Fatalf("store at offset %d differs from the model:\n  %s\n%s%s", next, strings.Join(diffs, "\n  "), s.whereFrom(), s.dumpDB())
	}
	s.stats["store checks"]++
}

// whereFrom finds, for a diagnosis, the offsets at which the model's SKUs
// had the versions the store holds.
func (s *sim) whereFrom() string {
	versions := map[string]int64{}
	_ = s.st.SKUs(0, func(name string, val []byte) error {
		var sk ledger.SKU
		if err := ledger.DecodeSKU(name, val, &sk); err == nil {
			versions[name] = int64(sk.Version)
		}
		return nil
	})
	m := specmodel.New()
	at := map[string][]int{}
	for i, e := range s.evs {
		m.Apply(e.model)
		for name, v := range versions {
			if w, ok := m.SKU(name); ok && w.Version == v {
				at[name] = append(at[name], i+1)
			}
		}
	}
	var b strings.Builder
	for name, offs := range at {
		if len(offs) > 0 {
			fmt.Fprintf(&b, "  store's %s (version %d) is the model's after offsets %d..%d\n", name, versions[name], offs[0], offs[len(offs)-1])
		}
	}
	return b.String()
}

// checkLatest checks, once the fold has passed every event whose outputs
// were seen, that the last value seen for each channel/sku is the model's
// at next: what consumers hold is what the ledger holds. A replay that
// dropped an update as "unchanged" (its previous taken from the committed
// state rather than from what was published) would leave a stale value.
func (s *sim) checkLatest(next int64) {
	s.t.Helper()
	m := s.modelAt(next)
	var diffs []string
	final := m.Final()
	for k, v := range final {
		if g, ok := s.last[k]; !ok || g != v {
			if len(diffs) < 10 {
				diffs = append(diffs, fmt.Sprintf("%s: last seen %d (present %v), ledger %d", k, g, ok, v))
			}
		}
	}
	diffs = append(diffs, diffLatestListings(m, s.last, s.isListing)...)
	for k, v := range s.last {
		if _, ok := final[k]; !ok && !s.isListing[k] && v != 0 {
			diffs = append(diffs, fmt.Sprintf("%s: last seen %d, no longer a channel of the SKU in the ledger (0)", k, v))
		}
	}
	if len(diffs) > 0 && len(s.unobserved) == 0 {
		slices.Sort(diffs)
		s.t.Fatalf("at offset %d the outputs seen disagree with the ledger:\n  %s", next, strings.Join(diffs, "\n  "))
	}
	s.stats["latest checks"]++
}

// checkHot checks that every hot state of the Folder is what the store
// holds: after a commit nothing in memory may be ahead of (or behind) the
// store, or trimming it would lose state.
func (s *sim) checkHot() {
	s.t.Helper()
	pt := s.f.pt
	for _, name := range pt.fold.Names() {
		sk := pt.fold.SKU(name)
		var stored ledger.SKU
		found, err := s.st.SKU(0, name, &stored)
		if err != nil {
			s.t.Fatalf("reading %s: %v", name, err)
		}
		if !sk.Known() {
			if found {
				s.t.Fatalf("%s: unknown in memory, in the store (version %d)", name, stored.Version)
			}
			continue
		}
		if !found {
			s.t.Fatalf("%s: hot state (version %d) not in the store", name, sk.Version)
		}
		if a, b := sk.AppendBinary(nil), stored.AppendBinary(nil); !bytes.Equal(a, b) {
			s.t.Fatalf("%s: hot state (version %d) differs from the store's (version %d)", name, sk.Version, stored.Version)
		}
	}
	var p ledger.Partition
	p.Config = s.cfg
	if err := s.st.Partition(0, &p); err != nil {
		s.t.Fatalf("reading the partition state: %v", err)
	}
	if a, b := pt.fold.P.AppendBinary(nil), p.AppendBinary(nil); !bytes.Equal(a, b) {
		s.t.Fatalf("partition state in memory differs from the store's:\n  memory: newest %d policySeq %d channels %+v seen %v\n  store:  newest %d policySeq %d channels %+v seen %v\n%s",
			pt.fold.P.Newest, pt.fold.P.PolicySeq, pt.fold.P.Channels, pt.fold.P.Seen.IDs(), p.Newest, p.PolicySeq, p.Channels, p.Seen.IDs(), s.dumpDB())
	}
	s.stats["hot checks"]++
}

// checkOutputs compares what committed folds returned (folder mode) or
// what was published (processor mode) with the model over the whole
// stream. Repeats are allowed (a batch whose commit was lost is folded
// again with the same results), nothing else.
func (s *sim) checkOutputs() {
	s.t.Helper()
	m := s.modelAt(int64(len(s.evs)))
	var diffs []string
	add := func(f string, a ...any) {
		if len(diffs) < 20 {
			diffs = append(diffs, fmt.Sprintf(f, a...))
		}
	}
	// Outputs of events in unobserved batches are optional.
	optional := map[string]bool{}
	want := map[string]int{}
	lastCause := map[string]string{}
	for _, u := range m.Updates() {
		k := modelUpdateKey(&u)
		want[k]++
		optional[k] = optional[k] || s.unobserved[u.CauseEventID]
		lastCause[updateOutputKey(u.Channel, u.SKU, u.ListingSKU)] = u.CauseEventID
	}
	if s.c.processor {
		// Updates are coalesced per batch: each published one must be one
		// of the model's (previous aside), and not every model update is
		// published.
		for k, g := range s.updates {
			if want[k] == 0 {
				add("update %s: published %d times, not in the model", k, g)
			}
		}
	} else {
		compareCounts("update", want, optional, s.updates, add)
	}
	final := m.Final()
	maps.Copy(final, modelListings(m))
	for k := range s.last {
		if _, ok := final[k]; !ok && lastCause[k] != "" {
			// A listing removed, or a channel only an override gave the
			// SKU, removed: its 0 was published last.
			final[k] = 0
		}
	}
	for k, v := range final {
		if g, ok := s.last[k]; (!ok || g != v) && !s.unobserved[lastCause[k]] {
			add("final %s: last returned %d (present %v), model %d", k, g, ok, v)
		}
	}
	for k := range s.last {
		if _, ok := final[k]; !ok {
			add("final %s: returned, unknown to the model", k)
		}
	}
	if s.c.processor && s.c.syncPct == 100 {
		// With every write synced the published mark survives every crash:
		// no output is published again, so versions never go down.
		for _, r := range s.regressed {
			add("version went down: %s", r)
		}
	}
	optional = map[string]bool{}
	want = map[string]int{}
	for _, a := range m.Alerts() {
		k := keys.ModelAlert(&a)
		want[k]++
		optional[k] = optional[k] || s.unobserved[a.CauseEventID]
	}
	compareCounts("alert", want, optional, s.alerts, add)
	s.compareHoldResults(m, add)
	optional = map[string]bool{}
	want = map[string]int{}
	for _, d := range m.DeadLetters() {
		want[d.EventID+"|"+d.Reason]++
	}
	// Raw records are dead letters without an id on the wire: count them
	// as the processor does, instead of as the model does.
	raw := map[string]bool{}
	for _, e := range s.evs {
		if e.deadKey != "" {
			want[e.deadKey]++
			raw[string(e.model)] = true
		}
	}
	for _, d := range m.DeadLetters() {
		if raw[string(d.Line)] {
			k := d.EventID + "|" + d.Reason
			if want[k]--; want[k] == 0 {
				delete(want, k)
			}
		}
	}
	s.optionalDeadLetters(want, optional)
	compareCounts("dead letter", want, optional, s.deads, add)
	if len(diffs) > 0 {
		slices.Sort(diffs)
		s.t.Fatalf("outputs differ from the model:\n  %s", strings.Join(diffs, "\n  "))
	}
}

// optionalDeadLetters marks optional the wanted dead letters of events in
// unobserved batches (a failed Fold that committed anyway).
func (s *sim) optionalDeadLetters(want map[string]int, optional map[string]bool) {
	for k := range want {
		if id, _, _ := strings.Cut(k, "|"); s.unobserved[id] {
			optional[k] = true
		}
	}
	// Without an id such a dead letter is one of many with its key: as
	// many of each key as there were may be missing.
	for k, n := range s.unobservedNoIDDeadLetters() {
		if s.deads[k] >= want[k]-n {
			optional[k] = true
		}
	}
}

// unobservedNoIDDeadLetters counts by key the dead letters of the events
// without an id whose outputs a failed Fold lost (unobservedNoID): a raw
// record's as the processor keys it, any other's as the model does.
func (s *sim) unobservedNoIDDeadLetters() map[string]int {
	out := map[string]int{}
	if len(s.unobservedNoID) == 0 {
		return out
	}
	m := specmodel.New()
	for i, e := range s.evs {
		before := len(m.DeadLetters())
		m.Apply(e.model)
		switch {
		case !s.unobservedNoID[i]:
		case e.deadKey != "":
			out[e.deadKey]++
		default:
			if ds := m.DeadLetters(); len(ds) > before {
				out[ds[len(ds)-1].EventID+"|"+ds[len(ds)-1].Reason]++
			}
		}
	}
	return out
}

// compareCounts: every wanted key at least as often as wanted (unless
// optional), nothing unwanted.
func compareCounts(what string, want map[string]int, optional map[string]bool, got map[string]int, add func(string, ...any)) {
	for k, n := range want {
		if g := got[k]; g < n && !optional[k] {
			add("%s %s: returned %d times, model %d", what, k, g, n)
		}
	}
	for k, g := range got {
		if want[k] == 0 {
			add("%s %s: returned %d times, not in the model", what, k, g)
		}
	}
}

func ledgerUpdateKey(u *ledger.Update) string {
	return fmt.Sprintf("%s v%d %d by %s", updateOutputKey(u.Channel, u.SKU, u.ListingSKU), u.Version, int64(u.Available), u.CauseEventID)
}

func modelUpdateKey(u *specmodel.Update) string {
	return fmt.Sprintf("%s v%d %d by %s", updateOutputKey(u.Channel, u.SKU, u.ListingSKU), u.Version, u.Available, u.CauseEventID)
}
