package audit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
)

// Config says where the events topic is and how an audit reads it. Start
// from DefaultConfig.
type Config struct {
	// Brokers are the Kafka seed brokers (host:port).
	Brokers []string
	// Topic is the events topic (PREFIX.events).
	Topic string
	// Ledger must be the live processor's ledger config (the same
	// idempotency window), or a replay forgets other ids than it did.
	Ledger ledger.Config
	// MaxHotSKUs caps the SKU states a replay keeps in memory across all
	// partitions; past it, a partition writes its changed states back to the
	// scratch store and drops some. Default 2,000,000.
	MaxHotSKUs int
	// FetchMaxBytes caps one fetch response (a partition's share is a
	// quarter of it). Default 8 MiB: a read holds about two responses
	// besides the records it has handed to folds (maxInFlight), and
	// larger ones only made a replay's memory larger (BENCH.md).
	FetchMaxBytes int32
	// IdleEnd: once the broker has sent nothing for this long, the
	// partitions still short of their stop offset end where they are,
	// unless the broker still owes one committed records (its next
	// offset is below the last stable offset): a slow broker, which the
	// read waits for, failing after six such silences. What a partition
	// can end short of its stop on is records of a transaction still open
	// (or aborted, with its abort marker at or past the stop), which are
	// never delivered. (Transaction markers are delivered, so a partition
	// ending in one ends at once.) Default 10s: a broker busy serving a
	// large topic to a replay that shares its CPUs can be silent for
	// seconds.
	IdleEnd time.Duration
	// ClientOpts are extra franz-go options (TLS, SASL, logging).
	ClientOpts []kgo.Opt
	// SchemaRegistry, when its URL is set, looks up the writer schemas of
	// Confluent-framed events by id (schema registry mode).
	SchemaRegistry processors.SchemaRegistryConfig
}

// DefaultConfig returns a Config with every default set, for the default
// topic names and brokers.
func DefaultConfig() Config {
	return Config{
		Brokers:       []string{"127.0.0.1:9092"},
		Topic:         "stockledger.events",
		Ledger:        ledger.DefaultConfig(),
		MaxHotSKUs:    2_000_000,
		FetchMaxBytes: 8 << 20,
		IdleEnd:       10 * time.Second,
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one is required"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("topic: must not be empty"))
	}
	if c.MaxHotSKUs < 1 {
		errs = append(errs, fmt.Errorf("max hot SKUs: %d must be at least 1", c.MaxHotSKUs))
	}
	if c.FetchMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("fetch max bytes: %d is under 1 MiB", c.FetchMaxBytes))
	}
	if c.IdleEnd <= 0 {
		errs = append(errs, errors.New("idle end: must be positive"))
	}
	if c.Ledger.IDRetention <= 0 || c.Ledger.MaxIDsPerSKU < 1 {
		errs = append(errs, errors.New("ledger: config not set (use ledger.DefaultConfig)"))
	}
	if err := c.SchemaRegistry.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Stop says where a replay of each partition ends. The ledger "as of" a
// Stop is the fold of a prefix of every partition: a state the live
// processor itself held once it had folded those records.
type Stop struct {
	// Offsets: partition -> the offset to stop before (the next offset to
	// fold, as the store and /v1/status name it). Nil means every
	// partition, to the end offset it has when the replay starts; given,
	// only the partitions it names are replayed.
	Offsets map[int32]int64
	// Until, when set, also stops each partition before its first record
	// appended to Kafka after Until (the record timestamp: when the
	// ledger could first know of the event, not its occurred_at).
	Until time.Time
}

// ParseOffsets parses "P:O,P:O..." (partition:next offset).
func ParseOffsets(s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		ps, os, ok := strings.Cut(item, ":")
		p, err1 := strconv.ParseInt(ps, 10, 32)
		o, err2 := strconv.ParseInt(os, 10, 64)
		if !ok || err1 != nil || err2 != nil || p < 0 || o < 0 {
			return nil, fmt.Errorf("%q is not PARTITION:OFFSET", item)
		}
		if _, dup := out[int32(p)]; dup {
			return nil, fmt.Errorf("partition %d named twice", p)
		}
		out[int32(p)] = o
	}
	if len(out) == 0 {
		return nil, errors.New("no PARTITION:OFFSET given")
	}
	return out, nil
}

// FormatOffsets renders offsets as ParseOffsets reads them, by partition.
func FormatOffsets(offsets map[int32]int64) string {
	parts := make([]int32, 0, len(offsets))
	for p := range offsets {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", p, offsets[p])
	}
	return b.String()
}

// Progress counts a read's records as it goes; safe to read from another
// goroutine (a progress bar).
type Progress struct {
	// Records folded so far.
	Records atomic.Int64
	// Total is the number of records below the stop offsets (an upper
	// bound with Stop.Until), known once the read has planned.
	Total atomic.Int64
}

// partitionRange is one partition's planned read: records [start, stop).
type partitionRange struct {
	part        int32
	start, stop int64
}

// sink folds one partition's records. A read calls it from one goroutine
// per partition, in offset order, then calls finish once with the offset
// after the last record folded (the partition's next offset). fold must
// not keep the records or their bytes once it returns: the read recycles
// them (fetchPool).
type sink interface {
	fold(recs []*kgo.Record) error
	finish(next int64) error
}

// plan resolves which records of which partitions a read covers.
func plan(ctx context.Context, adm *kadm.Client, topic string, stop Stop, only []int32) ([]partitionRange, int32, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, 0, fmt.Errorf("listing start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, 0, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	if e := ends.Error(); e != nil {
		return nil, 0, fmt.Errorf("end offsets of %s: %w", topic, e)
	}
	n := int32(len(ends[topic]))
	if n == 0 {
		return nil, 0, fmt.Errorf("topic %s does not exist", topic)
	}
	var out []partitionRange
	var lerr []error
	for p := range n {
		if only != nil && !slices.Contains(only, p) {
			continue
		}
		end, ok := ends.Lookup(topic, p)
		if !ok || end.Err != nil {
			lerr = append(lerr, fmt.Errorf("end offset of %s/%d unknown (%v)", topic, p, end.Err))
			continue
		}
		start := int64(0)
		if s, ok := starts.Lookup(topic, p); ok && s.Err == nil {
			start = s.Offset
		}
		r := partitionRange{part: p, start: start, stop: end.Offset}
		if stop.Offsets != nil {
			o, named := stop.Offsets[p]
			if !named {
				continue
			}
			if o > end.Offset {
				lerr = append(lerr, fmt.Errorf("partition %d: offset %d is past its end offset %d", p, o, end.Offset))
				continue
			}
			r.stop = o
		}
		if start > 0 && r.stop > start {
			lerr = append(lerr, fmt.Errorf("partition %d starts at offset %d: its first records were deleted, so the book of record is incomplete and the ledger cannot be rebuilt from it", p, start))
			continue
		}
		out = append(out, r)
	}
	for p := range stop.Offsets {
		if p < 0 || p >= n {
			lerr = append(lerr, fmt.Errorf("partition %d: %s has partitions 0..%d", p, topic, n-1))
		}
	}
	if len(lerr) > 0 {
		sort.Slice(lerr, func(i, j int) bool { return lerr[i].Error() < lerr[j].Error() })
		return nil, n, errors.Join(lerr...)
	}
	return out, n, nil
}

// read folds the planned ranges, one goroutine per partition, and returns
// each partition's next offset after the read. A partition stops at its
// stop offset, or before its first record appended after until (when
// set), or, after cfg.IdleEnd without records, where it is (see
// Config.IdleEnd).
func read(ctx context.Context, cfg *Config, ranges []partitionRange, until time.Time, sinks map[int32]sink, prog *Progress) (map[int32]int64, error) {
	defer tuneGC()()
	reached := make(map[int32]int64, len(ranges))
	consume := map[int32]kgo.Offset{}
	var total int64
	for _, r := range ranges {
		reached[r.part] = r.start
		if r.stop > r.start {
			consume[r.part] = kgo.NewOffset().At(r.start)
			total += r.stop - r.start
			continue
		}
		// Partitions with nothing to read finish at once.
		if err := sinks[r.part].finish(r.start); err != nil {
			return nil, err
		}
	}
	if prog != nil {
		prog.Total.Store(total)
	}
	if len(consume) == 0 {
		return reached, nil
	}
	cl, err := newReadClient(cfg, consume)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rd := &reader{cfg: cfg, cl: cl, until: until, prog: prog, workers: make(map[int32]*readWorker, len(consume)),
		sched: newFoldSched(runtime.GOMAXPROCS(0)), budget: newRecordBudget(maxInFlight)}
	var wg sync.WaitGroup
	for _, r := range ranges {
		if r.stop > r.start {
			w := &readWorker{ch: make(chan []*kgo.Record, 16), stop: r.stop, next: r.start}
			rd.workers[r.part] = w
			slot := rd.sched.slot(r.stop - r.start)
			wg.Add(1)
			go func() {
				defer wg.Done()
				rd.work(ctx, cancel, r.part, w, sinks[r.part], slot)
			}()
		}
	}
	rd.remaining = len(rd.workers)
	rerr := rd.poll(ctx)
	for _, w := range rd.workers {
		if !w.done {
			w.done = true
			close(w.ch)
		}
	}
	wg.Wait()
	if rerr != nil {
		return nil, rerr
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for p, w := range rd.workers {
		reached[p] = w.reached
	}
	return reached, nil
}

// newReadClient is the client of a read: the partitions from their
// offsets, as the processor reads them.
func newReadClient(cfg *Config, consume map[int32]kgo.Offset) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("stockledger-audit"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: consume}),
		// As the processor reads: records of aborted transactions are not
		// part of the book.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are delivered too, so a partition whose
		// last offsets are markers ends at them (on the marker's offset),
		// not after IdleEnd of silence.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxBytes / 4),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.WithPools(new(fetchPool)),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return cl, nil
}

// reader is a read's poll loop and what its workers share. The poll loop
// owns workers' read positions and remaining; the workers fold.
type reader struct {
	cfg       *Config
	cl        *kgo.Client
	until     time.Time
	prog      *Progress
	workers   map[int32]*readWorker
	sched     *foldSched
	budget    *recordBudget
	remaining int // workers not done (poll loop only)
}

// work is partition part's worker: it folds what the poll loop hands it
// in turns (sched), then finishes the partition once its read is complete.
func (rd *reader) work(ctx context.Context, cancel context.CancelCauseFunc, part int32, w *readWorker, s sink, slot *schedSlot) {
	held := false // a turn to fold (sched)
	for recs := range w.ch {
		if ctx.Err() == nil { // else drain
			if !held {
				rd.sched.acquire(slot)
				held = true
			}
			if err := s.fold(recs); err != nil {
				cancel(fmt.Errorf("folding partition %d: %w", recs[0].Partition, err))
			} else {
				for _, r := range recs {
					r.Recycle()
				}
				if rd.prog != nil {
					rd.prog.Records.Add(int64(len(recs)))
				}
			}
		}
		// The turn is kept only with records at hand and the read going
		// on: a draining read hands it on, or the partitions waiting for
		// one would never drain.
		switch {
		case !held:
		case ctx.Err() == nil && len(w.ch) > 0:
			rd.sched.yield(slot, len(recs))
		default:
			rd.sched.release(slot, len(recs))
			held = false
		}
		rd.budget.give(len(recs))
	}
	if !w.ended || ctx.Err() != nil {
		return
	}
	// A partition is finished (its states written back) as soon as it is
	// read, while the others still fold: writing back a large ledger is
	// seconds of CPU that would otherwise run on one core after the last
	// record.
	w.reached = w.next
	if w.next < w.stop && !w.byTime {
		// Ended by IdleEnd: only records of aborted or still open
		// transactions lay between (markers are delivered), so nothing
		// below the stop offset is left to fold.
		w.reached = w.stop
	}
	rd.sched.acquire(slot)
	err := s.finish(w.reached)
	rd.sched.release(slot, 0)
	if err != nil {
		cancel(fmt.Errorf("finishing partition %d: %w", part, err))
	}
}

// poll fetches until every partition is read (or ends on silence), handing
// each partition's records to its worker.
func (rd *reader) poll(ctx context.Context) error {
	lastRecords, lastCheck := time.Now(), time.Time{}
	var rerr error
	for rd.remaining > 0 && rerr == nil {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := rd.cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			if rerr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				rerr = fmt.Errorf("fetching %s/%d: %w", t, p, err)
			}
		})
		got := false
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			got = rd.hand(fp) || got
		})
		if got {
			lastRecords = time.Now()
			continue
		}
		if time.Since(lastRecords) < rd.cfg.IdleEnd || time.Since(lastCheck) < rd.cfg.IdleEnd {
			continue
		}
		lastCheck = time.Now()
		rerr = rd.endSilent(ctx, time.Since(lastRecords))
	}
	return rerr
}

// hand gives a fetch's records of one partition to its worker, up to the
// partition's stop (or Until), and reports whether there were any.
func (rd *reader) hand(fp kgo.FetchTopicPartition) bool {
	w := rd.workers[fp.Partition]
	if w == nil || w.done || len(fp.Records) == 0 {
		return false
	}
	recs := fp.Records
	cut := len(recs)
	if !rd.until.IsZero() || recs[cut-1].Offset >= w.stop {
		// Offsets rise within a partition: only a read until a time, or
		// records that cross the stop, need a look at each record.
		for i, r := range recs {
			if r.Offset >= w.stop || (!rd.until.IsZero() && r.Timestamp.After(rd.until)) {
				cut = i
				break
			}
		}
	}
	ended := cut < len(recs)
	if cut > 0 {
		w.next = recs[cut-1].Offset + 1
		data := dropControl(recs[:cut])
		if len(data) > 0 {
			rd.budget.take(len(data))
			w.ch <- data
		}
		if n := cut - len(data); n > 0 && rd.prog != nil {
			rd.prog.Records.Add(int64(n)) // markers count toward the total
		}
	}
	if ended && recs[cut].Offset < w.stop {
		// Stopped by Until: the next offset is the first record not
		// folded.
		w.next, w.byTime = recs[cut].Offset, true
	}
	if ended || w.next >= w.stop {
		rd.finish(fp.Partition, w)
	}
	return true
}

// finish ends partition p's read: its worker finishes it once drained.
func (rd *reader) finish(p int32, w *readWorker) {
	w.done, w.ended = true, true
	rd.remaining--
	close(w.ch)
	rd.cl.PauseFetchPartitions(map[string][]int32{rd.cfg.Topic: {p}})
}

// endSilent deals with a read silent for IdleEnd: a partition ends where
// it is unless the broker still owes it committed records (below the last
// stable offset): then the broker is slow, not done, and the read waits,
// up to owedWait silences, then fails.
func (rd *reader) endSilent(ctx context.Context, silent time.Duration) error {
	owed, err := owedPartitions(ctx, rd.cl, rd.cfg.Topic, rd.workers)
	if err != nil {
		return err
	}
	for p, w := range rd.workers {
		if !w.done && !slices.Contains(owed, p) {
			rd.finish(p, w)
		}
	}
	if len(owed) == 0 || silent < owedWait*rd.cfg.IdleEnd {
		return nil
	}
	slices.Sort(owed)
	var at []string
	for _, p := range owed {
		at = append(at, fmt.Sprintf("partition %d at offset %d", p, rd.workers[p].next))
	}
	return fmt.Errorf("reading %s: no records for %v, though committed records remain below the last stable offset (%s)", rd.cfg.Topic, silent.Round(time.Second), strings.Join(at, ", "))
}

// maxInFlight bounds the records a read has fetched and not yet folded
// (recordBudget): at about 250 bytes each in memory (record, value,
// decompressed batch), 64 MiB; a fold of that many keeps both cores of
// the benchmark machine busy for about a tenth of a second.
const maxInFlight = 256 << 10

// readWorker is one partition's read: the poll loop hands its records to
// the partition's goroutine, which folds them.
type readWorker struct {
	ch     chan []*kgo.Record
	stop   int64
	next   int64 // offset after the last record or marker read (by the poll loop; the worker reads it once ch is closed)
	done   bool
	byTime bool // stopped by Until
	// ended: the poll loop closed ch because the partition's read is
	// complete, not because the read failed; set before the close,
	// so the worker sees it once ch is drained.
	ended bool
	// reached is the partition's next offset once its worker has
	// finished it (read after wg.Wait).
	reached int64
}

// owes reports whether the broker has records or markers for w, not done,
// below its stop and the last stable offset lso that it has not sent.
func (w *readWorker) owes(lso int64) bool { return !w.done && w.next < min(lso, w.stop) }

// owedWait is how many IdleEnd silences a read waits for committed records
// the broker owes it before it fails.
const owedWait = 6

// owedPartitions returns the partitions not done whose next offset is below
// both their stop and the last stable offset: the broker has committed
// records (or markers) for them that it has not sent.
func owedPartitions(ctx context.Context, cl *kgo.Client, topic string, workers map[int32]*readWorker) ([]int32, error) {
	stable, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing the last stable offsets of %s: %w", topic, err)
	}
	var owed []int32
	for p, w := range workers {
		if lso, ok := stable.Lookup(topic, p); ok && w.owes(lso.Offset) {
			owed = append(owed, p)
		}
	}
	return owed, nil
}

// dropControl returns recs without transaction markers (recs itself when
// it holds none, the common case).
func dropControl(recs []*kgo.Record) []*kgo.Record {
	if !slices.ContainsFunc(recs, isControl) {
		return recs
	}
	return slices.DeleteFunc(slices.Clone(recs), isControl)
}

func isControl(r *kgo.Record) bool { return r.Attrs.IsControl() }
