package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/stockledger/stockledger/ledger"
)

// Publisher publishes one channel's values from the updates topic to its
// webhook. Its poll loop reads the topic into the table; its send loop
// takes batches from the table and posts them; both hold mu while they
// touch the table.
type Publisher struct {
	cfg    Config
	cl     *kgo.Client
	http   *http.Client
	lim    *rate.Limiter
	prefix []byte        // the channel's record keys start with it
	notify chan struct{} // a key became sendable (capacity 1)
	ready  atomic.Bool   // every assigned partition read to its end

	mu struct {
		sync.Mutex
		t *table
		// ends: per assigned partition not yet read to its end, the end
		// listed when it was assigned; catchUpSince: when that started.
		ends         map[int32]int64
		catchUpSince time.Time
		assigned     bool // partitions were assigned at least once
		committed    map[int32]int64
	}
}

// New returns a publisher for cfg (validated) and its Kafka client.
func New(cfg Config) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry(), cfg.Channel)
	}
	p := &Publisher{cfg: cfg, http: webhookClient(), prefix: []byte(cfg.Channel + "/"), notify: make(chan struct{}, 1)}
	// A restarted publisher cannot know what its previous life sent in
	// the last second, so its bucket starts empty: the burst is earned.
	p.lim = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	p.lim.AllowN(time.Now(), cfg.Burst)
	p.mu.t, p.mu.ends, p.mu.committed = newTable(), map[int32]int64{}, map[int32]int64{}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("stockledger-publish-" + cfg.Channel),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.SessionTimeout(cfg.SessionTimeout),
		// A new group starts at the start of the (compacted) topic: the
		// channel first gets every key's current value.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) take offsets: seeing them
		// is how the catch-up knows it reached a partition's end.
		kgo.KeepControlRecords(),
		// Partitions assigned while a fetch long-polls join the next one:
		// a short wait keeps a catch-up from idling up to the default 5s.
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	p.cl = cl
	return p, nil
}

// Status is what a publisher reports of itself.
type Status struct {
	CaughtUp    bool // every assigned partition was read to its end since it was assigned
	KeysPending int  // keys whose latest value the channel has not acknowledged
	Keys        int
}

// Status reports the publisher's state.
func (p *Publisher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{CaughtUp: p.ready.Load(), KeysPending: p.mu.t.pending, Keys: len(p.mu.t.keys)}
}

// Run publishes until ctx ends or the Kafka client fails for good; then it
// stops sending, commits what the channel acknowledged and leaves the group.
func (p *Publisher) Run(ctx context.Context) error {
	defer p.cl.Close()
	sctx, stopSending := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- p.sendLoop(sctx) }()
	err := p.pollLoop(ctx)
	stopSending()
	if serr := <-sent; err == nil {
		err = serr
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cerr := p.commit(cctx, p.cl); err == nil && cerr != nil {
		err = cerr
	}
	// Only now may the group go on (Close's leave needs it).
	p.cl.AllowRebalance()
	return err
}

// pollLoop reads the topic into the table and commits every
// CommitInterval, until ctx ends.
func (p *Publisher) pollLoop(ctx context.Context) error {
	lastCommit := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.CommitInterval)
		fs := p.cl.PollFetches(pctx)
		cancel()
		if err := p.fetchErr(fs); err != nil {
			return err
		}
		p.fold(fs)
		if ctx.Err() != nil {
			// Rebalances stay blocked: Run's last commit cannot race a
			// revoke (Run allows rebalances after it).
			return nil
		}
		if time.Since(lastCommit) >= p.cfg.CommitInterval {
			if err := p.commit(ctx, p.cl); err != nil && ctx.Err() == nil {
				p.cfg.Log.Warn("committing offsets (retried at the next interval)", "err", err)
			}
			lastCommit = time.Now()
		}
		p.cl.AllowRebalance()
	}
}

// fetchErr returns a fetch error the client cannot recover from, and
// logs the others (franz-go retries them).
func (p *Publisher) fetchErr(fs kgo.Fetches) error {
	var fatal error
	fs.EachError(func(t string, part int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kgo.ErrClientClosed):
			fatal = err
		default:
			p.cfg.Log.Warn("fetching updates", "topic", t, "partition", part, "err", err)
		}
	})
	return fatal
}

// fold folds a poll's records into the table and follows the catch-up.
func (p *Publisher) fold(fs kgo.Fetches) {
	var u ledger.Update
	newer := false
	p.mu.Lock()
	defer p.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) {
		p.mu.t.read(r.Partition, r.Offset+1)
		if end, ok := p.mu.ends[r.Partition]; ok && end != unknownEnd && r.Offset+1 >= end {
			delete(p.mu.ends, r.Partition)
		}
		if r.Attrs.IsControl() || !bytes.HasPrefix(r.Key, p.prefix) {
			return
		}
		if err := p.cfg.Schemas.DecodeUpdate(r.Value, &u); err != nil || u.Channel != p.cfg.Channel {
			p.cfg.Log.Error("skipping an update that does not decode as this channel's", "partition", r.Partition, "offset", r.Offset, "key", string(r.Key), "err", err)
			return
		}
		v := value{sku: u.SKU, listing: u.ListingSKU, available: int64(u.Available), version: u.Version,
			occurredAt: u.OccurredAt, appended: r.Timestamp, offset: r.Offset}
		switch p.mu.t.observe(string(r.Key), r.Partition, v) {
		case ObservedNewer:
			newer = true
		case ObservedSkipped:
			p.cfg.Metrics.updates.WithLabelValues("skipped").Inc()
		case ObservedOld:
			p.cfg.Metrics.updates.WithLabelValues("old").Inc()
		}
	})
	p.cfg.Metrics.pending.Set(float64(p.mu.t.pending))
	p.checkCaughtUp()
	if newer {
		p.wake()
	}
}

func (p *Publisher) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}
