package e2etest

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// Live is an in-process processor on a test cluster, folding into the
// store in a directory, as `stockledger run` does.
type Live struct {
	P        *processors.Processor
	Store    *store.Store
	Gatherer prometheus.Gatherer
	cancel   context.CancelFunc
	done     chan error
}

// StartLive opens (or creates) the store in dir and runs a processor on
// cl with it, the events topic having partitions partitions; opts change
// its config. It writes no clock events (ClockInterval 0) unless opts say.
func StartLive(ctx context.Context, cl *Cluster, dir string, partitions int32, opts ...func(*processors.Config)) (*Live, error) {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	cfg := processors.DefaultConfig()
	cfg.Brokers = cl.Brokers
	cfg.Topics = cl.Topics()
	cfg.Group = cl.Group
	cfg.Partitions = partitions
	// No clock events of its own: they carry wall-clock time, which would
	// expire holds and move sales windows where the model (folding the
	// stream alone) sees no clock. A test of the clock sets ClockInterval.
	cfg.ClockInterval = 0
	for _, o := range opts {
		o(&cfg)
	}
	reg := prometheus.NewRegistry()
	p, err := processors.New(ctx, cfg, st, schemas.NewRegistry(), reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		st.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	l := &Live{P: p, Store: st, Gatherer: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { l.done <- p.Run(runCtx) }()
	return l, nil
}

// WaitCaughtUp waits until the store's offsets reach the events topic's
// end offsets.
func (l *Live) WaitCaughtUp(ctx context.Context, cl *Cluster) error {
	adm := kadm.NewClient(l.P.Client())
	return WaitCaughtUp(ctx, adm, cl.Topics().Events, func(part int32) (int64, bool) {
		n, ok, _ := l.Store.Offset(part)
		return n, ok
	})
}

// Stop stops the processor and closes its store.
func (l *Live) Stop() error {
	l.cancel()
	err := <-l.done
	if cerr := l.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// ProduceLines encodes lines (Wire) and produces them in order to cl's
// events topic, creating the topics with partitions partitions if needed.
func ProduceLines(ctx context.Context, cl *Cluster, partitions int32, lines [][]byte) error {
	wire, err := Wire(lines)
	if err != nil {
		return err
	}
	p, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), partitions)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := Produce(ctx, p, wire); err != nil {
		return fmt.Errorf("producing %d events: %w", len(wire), err)
	}
	return nil
}
