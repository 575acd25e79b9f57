package processors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// Processor is one member of the consumer group that folds the events
// topic. Run owns every partition's state; HTTP handlers read the store.
type Processor struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	reg    *schemas.Registry
	m      *metrics
	holds  holdAPI     // the checkout API's watch and metrics (holdapi.go)
	ingest ingestAPI   // POST /v1/events's producer and metrics (ingesthttp.go)
	cl     *kgo.Client // set once (setClient)
	clOnce sync.Once
	// clStop cancels clCtx, the client's own context: in-flight requests
	// fail at once, a join the coordinator holds included (leave).
	clCtx  context.Context
	clStop context.CancelFunc
	adm    *kadm.Client

	sess          *kgo.GroupTransactSession // with ExactlyOnce
	numPartitions int32
	// committed: the group's committed offsets at assignment. With
	// ExactlyOnce they are committed in the transaction with the outputs,
	// so records below them were published even if Pebble lags.
	committed map[int32]int64
	parts     map[int32]*partition // owned by the poll loop (callbacks run inside it)
	framing   *schemas.Framing     // how outputs are framed; nil: single-object
	out       outputs              // how a batch's outputs are encoded
	pipe      pipeline             // the batches handed on (poll loop only)

	stalled bool // the store failed; fetching is paused until it works (poll loop only)
	// recovering: the store works again after a stall, but no batch has
	// committed since; ready only once one does (or polls find nothing to
	// fold), so a cause that outlives the probe (the schema registry is
	// down) does not flap /readyz between probes (poll loop only).
	recovering bool

	// Partitions being restored from the changelog (poll loop only): they
	// stay paused until their restore result is installed.
	restoring map[int32]context.CancelFunc
	restores  chan restoreResult
	// restoreWG counts running restores: Run waits for them before it
	// returns, since they read and write the store its caller then closes.
	restoreWG sync.WaitGroup
	clBroken  map[int32]*atomic.Bool // changelog writes failed: no more offset markers

	ready atomic.Bool
	// committedSig: a state commit happened (mirrorLoop).
	committedSig chan struct{}
	// wake cancels the poll in progress (wakePoll).
	wake struct {
		sync.Mutex
		poll context.CancelFunc
	}
	mu struct {
		sync.Mutex
		next     map[int32]int64      // owned partitions' next offsets
		end      map[int32]int64      // their end offsets, refreshed every LagInterval
		groupLag int64                // events no instance has folded (Status)
		rate     map[int32]rateSample // owned partitions' throughput (Status)
	}
}

// storeMeta is what the store remembers of the topic it was built from.
type storeMeta struct {
	Topic      string `json:"topic"`
	Partitions int32  `json:"partitions"`
}

// New connects to Kafka, creates missing topics and checks that the store
// was built from this events topic with this partition count.
func New(ctx context.Context, cfg Config, st *store.Store, reg *schemas.Registry, promReg prometheus.Registerer, log *slog.Logger) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid processor config: %w", err)
	}
	p := &Processor{cfg: cfg, log: log, store: st, reg: reg, m: newMetrics(promReg), parts: make(map[int32]*partition),
		restoring: make(map[int32]context.CancelFunc), restores: make(chan restoreResult, 64), clBroken: make(map[int32]*atomic.Bool),
		committed: make(map[int32]int64)}
	p.committedSig = make(chan struct{}, 1)
	p.holds.m = newHoldMetrics(promReg)
	p.ingest.lines = newIngestMetrics(promReg)
	RegisterBuildInfo(promReg)
	p.mu.next = make(map[int32]int64)
	p.mu.end = make(map[int32]int64)
	p.mu.rate = make(map[int32]rateSample)
	var err error
	if p.framing, err = cfg.SchemaRegistry.Connect(ctx, reg, cfg.Topics); err != nil {
		return nil, err
	}
	p.out = outputs{topics: cfg.Topics, framing: p.framing}
	promReg.MustRegister(newPebbleCollector(st.DB, st.AllocatedBytes))
	p.clCtx, p.clStop = context.WithCancel(context.Background())
	cl, err := p.newClient(promReg)
	if err != nil {
		return nil, err
	}
	p.setClient(cl)
	p.adm = kadm.NewClient(cl)
	n, err := EnsureTopics(ctx, p.adm, cfg.Topics, cfg.Partitions, cfg.ReplicationFactor)
	if err != nil {
		cl.Close()
		return nil, err
	}
	p.numPartitions = n
	if err := p.checkMeta(n); err != nil {
		cl.Close()
		return nil, err
	}
	return p, nil
}

// newClient creates the Kafka client: a consumer group member that folds
// the events topic and produces the outputs (transactional with
// ExactlyOnce).
func (p *Processor) newClient(promReg prometheus.Registerer) (*kgo.Client, error) {
	cfg := p.cfg
	clientID := "stockledger"
	if cfg.AdvertiseHTTP != "" {
		clientID = "stockledger@" + cfg.AdvertiseHTTP
	}
	opts := append([]kgo.Opt{
		kgo.WithContext(p.clCtx),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(clientID),
		kgo.RecordPartitioner(outputPartitioner(cfg.Topics.Changelog)),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics.Events),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AdjustFetchOffsetsFn(p.adjustOffsets),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
		kgo.MaxBufferedRecords(1 << 20),
		// Outputs are produced as soon as a batch is folded; records
		// batch while earlier requests are in flight anyway, so
		// lingering would only add latency.
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(16 << 20), // the output topics' max.message.bytes (topics.go)
		kgo.WithHooks(kprom.NewMetrics("stockledger_kafka", kprom.Registerer(promReg), kprom.WithClientLabel())),
	}, cfg.ClientOpts...)
	if cfg.StaticMembership {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	if !cfg.ExactlyOnce {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("creating kafka client: %w", err)
		}
		return cl, nil
	}
	opts = append(opts, kgo.TransactionalID(cfg.Group+"-"+cfg.InstanceID), kgo.TransactionTimeout(cfg.TransactionTimeout))
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating transactional kafka client: %w", err)
	}
	p.sess = sess
	return sess.Client(), nil
}

// checkMeta refuses a store built from another topic or partition count:
// SKUs would be folded in the wrong partition's state.
func (p *Processor) checkMeta(n int32) error {
	want := storeMeta{Topic: p.cfg.Topics.Events, Partitions: n}
	raw, err := p.store.Meta()
	if err != nil {
		return err
	}
	if raw == nil {
		b, _ := json.Marshal(want)
		return p.store.SetMeta(b)
	}
	var got storeMeta
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("reading store metadata: %w", err)
	}
	if got != want {
		return fmt.Errorf("the store was built from topic %s with %d partitions, but topic %s has %d: "+
			"partition counts of the events topic must never change (SKUs would move); use a new --data directory",
			got.Topic, got.Partitions, want.Topic, want.Partitions)
	}
	return nil
}

// NumPartitions is the events topic's partition count.
func (p *Processor) NumPartitions() int32 { return p.numPartitions }

// Client is the processor's Kafka client.
func (p *Processor) Client() *kgo.Client { return p.cl }

// Ready reports whether the processor has joined its group and is folding.
func (p *Processor) Ready() bool { return p.ready.Load() }

// setClient records the Kafka client. The group may assign partitions (and
// call back) before NewClient has returned to New, so callbacks set it too.
func (p *Processor) setClient(cl *kgo.Client) { p.clOnce.Do(func() { p.cl = cl }) }

// Run folds events until ctx is done or an operating error stops it. When
// ctx ends it finishes the batches in hand (publishes, commits), flushes
// the changelog and closes the Kafka client, leaving the group, before
// returning.
func (p *Processor) Run(ctx context.Context) error {
	defer p.close()
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go p.lagLoop(lagCtx)
	if p.cfg.ClockInterval > 0 {
		go p.clockLoop(lagCtx)
	}
	if p.sess == nil {
		go p.mirrorLoop(lagCtx)
	}
	changelog := ""
	if p.cfg.Changelog {
		changelog = p.cfg.Topics.Changelog
	}
	p.pipe.c = newCommitter(p.store, changelog, p.m, p.log, p.accountBatch)
	p.pipe.c.cl = p.cl
	go p.pipe.c.run()
	defer func() {
		_ = p.flush(context.WithoutCancel(ctx)) // nothing is lost: what is not committed is folded again
		close(p.pipe.c.in)
		<-p.pipe.c.stopped
	}()
	defer p.ready.Store(false) // ready once partitions are assigned and folding (setReady)
	var l loopState
	for {
		fetches := p.poll(ctx, l.wait(p))
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		if err := p.step(ctx, fetches, &l); err != nil {
			return err
		}
		p.allowRebalance()
	}
}

// loopState is what the poll loop remembers from one poll to the next.
type loopState struct {
	restoring  bool // partitions were being restored at the last poll
	emptyPolls int  // polls in a row that returned no records
}

// wait bounds the next poll: a rebalance can start a restore while a poll
// waits, and only the loop installs it; a stalled store is probed between
// polls.
func (l *loopState) wait(p *Processor) time.Duration {
	switch {
	case p.stalled:
		return p.cfg.StoreRetryInterval
	case len(p.restores) > 0:
		return time.Millisecond // finished while the loop was busy: install it now
	case l.restoring:
		return 20 * time.Millisecond
	case p.unpersisted():
		return max(time.Millisecond, min(200*time.Millisecond, p.cfg.CommitInterval-time.Since(p.pipe.persistedAt)))
	}
	return 200 * time.Millisecond
}

// step handles one poll's fetches: restores to install, the pipeline's
// finished batches, a stalled store, then the fold. Between a poll's
// return and AllowRebalance no rebalance callback runs: the maps they
// share with the loop (parts, restoring, clBroken) are touched here.
func (p *Processor) step(ctx context.Context, fetches kgo.Fetches, l *loopState) error {
	p.installRestores(ctx)
	l.restoring = len(p.restoring) > 0
	if fetches.NumRecords() == 0 {
		l.emptyPolls++
	} else {
		l.emptyPolls = 0
	}
	err := p.pipe.deferred
	p.pipe.deferred = nil
	committed := 0
	if err == nil {
		committed, err = p.reap(false)
	}
	if err != nil {
		return p.recover(ctx, err)
	}
	if p.stalled {
		p.tryRecover()
		if berr := p.store.Broken(); berr != nil {
			// The probe's synced write found the log unwritable (a WAL
			// write that failed in the background): Pebble has stopped
			// and only a restart replays the log.
			p.m.storeErrors.Inc()
			return fmt.Errorf("store broken, restart to recover (nothing is lost: the batch was not committed): %w", berr)
		}
		return nil
	}
	fetches.EachError(func(t string, part int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
		}
	})
	if err := p.foldAndHandOn(ctx, fetches); err != nil {
		return p.recover(ctx, err)
	}
	p.evict()
	if p.recovering && (committed > 0 || l.emptyPolls >= 2) {
		// A batch committed, or two polls in a row found nothing to fold
		// (end offsets would not do: a partition whose log ends in
		// transaction markers is never "at the end").
		p.recovering = false
		p.setReady()
	}
	return nil
}

// foldAndHandOn folds the fetches and hands the batch on. Its outputs are
// produced even if ctx ends meanwhile (a graceful shutdown): the batches
// in hand are finished, so a restart repeats nothing. The caller bounds
// how long that may take (run's --shutdown-timeout).
func (p *Processor) foldAndHandOn(ctx context.Context, fetches kgo.Fetches) error {
	b, err := p.foldStage(fetches, p.persistDue())
	if err != nil || b == nil {
		return err
	}
	crashAt(crashFolded)
	if p.sess != nil {
		return p.commitInTransaction(context.WithoutCancel(ctx), b)
	}
	return p.handOn(context.WithoutCancel(ctx), b)
}

// PartitionOf returns the events partition that holds sku.
func (p *Processor) PartitionOf(sku string) int32 { return PartitionOf(sku, p.numPartitions) }

// PartitionOf returns the partition Kafka's default partitioner (murmur2)
// gives a record keyed sku among n partitions: the one its events belong
// to (ledger.PartitionFor).
func PartitionOf(sku string, n int32) int32 { return ledger.PartitionFor([]byte(sku), n) }

// SKU reads sku's committed state.
func (p *Processor) SKU(sku string) (ledger.SKU, bool, error) {
	var s ledger.SKU
	found, err := p.store.SKU(p.PartitionOf(sku), sku, &s)
	return s, found, err
}

// outputPartitioner sends changelog records to the partition set on the
// record (the events partition they mirror) and hashes the keys of every
// other output as Kafka does.
func outputPartitioner(changelog string) kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		if topic == changelog {
			return func(r *kgo.Record, _ int) int { return int(r.Partition) }
		}
		return func(r *kgo.Record, n int) int { return keyed.Partition(r, n) }
	})
}

// Owns reports whether this instance owns events partition part.
func (p *Processor) Owns(part int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.mu.next[part]
	return ok
}

// Owner returns the advertised HTTP address of the group member that owns
// events partition part, or "" if no member advertises one or it is
// unknown (a rebalance in progress).
func (p *Processor) Owner(ctx context.Context, part int32) string {
	owners, err := p.Owners(ctx)
	if err != nil {
		return ""
	}
	return owners[part].HTTP
}

// PartitionOwner is the group member that owns an events partition.
type PartitionOwner struct {
	// Member is the member's client id ("stockledger@ADDR" for an
	// instance that advertises its HTTP address).
	Member string
	// HTTP is the advertised HTTP address, "" if the member gives none.
	HTTP string
}

// Owners returns the owner of each assigned events partition, as the
// group coordinator describes the group (one request); partitions no
// member owns are absent.
func (p *Processor) Owners(ctx context.Context) (map[int32]PartitionOwner, error) {
	groups, err := p.adm.DescribeGroups(ctx, p.cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("describing group %s: %w", p.cfg.Group, err)
	}
	out := map[int32]PartitionOwner{}
	g, ok := groups[p.cfg.Group]
	if !ok {
		return out, nil
	}
	for _, m := range g.Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		addr, advertised := strings.CutPrefix(m.ClientID, "stockledger@")
		if !advertised {
			addr = ""
		}
		for _, t := range c.Topics {
			if t.Topic != p.cfg.Topics.Events {
				continue
			}
			for _, part := range t.Partitions {
				out[part] = PartitionOwner{Member: m.ClientID, HTTP: addr}
			}
		}
	}
	return out, nil
}

func (p *Processor) poll(ctx context.Context, wait time.Duration) kgo.Fetches {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	p.wake.Lock()
	p.wake.poll = cancel
	p.wake.Unlock()
	defer func() {
		p.wake.Lock()
		p.wake.poll = nil
		p.wake.Unlock()
	}()
	if p.sess != nil {
		return p.sess.PollRecords(ctx, p.cfg.MaxBatchRecords)
	}
	return p.cl.PollRecords(ctx, p.cfg.MaxBatchRecords)
}

// wakePoll ends the poll in progress, if any, so the loop sees what a
// goroutine of its own just finished.
func (p *Processor) wakePoll() {
	p.wake.Lock()
	defer p.wake.Unlock()
	if p.wake.poll != nil {
		p.wake.poll()
	}
}

func (p *Processor) allowRebalance() {
	if p.sess != nil {
		p.sess.AllowRebalance()
		return
	}
	p.cl.AllowRebalance()
}
