package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/console"
	"github.com/stockledger/stockledger/schemas"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, ss, printConfig, err := loadRunConfig(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	if printConfig {
		return ss.print(stdout)
	}
	log := c.logger(stderr)
	// The shutdown bound: once ctx ends (SIGTERM, SIGINT), run has
	// ShutdownTimeout to finish its batch, commit and leave the group.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		log.Info("shutting down: finishing the batch in hand", "timeout", c.ShutdownTimeout)
		select {
		case <-finished:
		case <-time.After(c.ShutdownTimeout):
			log.Error("shutdown did not finish within --shutdown-timeout; exiting without it (nothing is lost: uncommitted events are folded again on restart)", "timeout", c.ShutdownTimeout)
			os.Exit(3)
		}
	}()
	return run(ctx, c, log)
}

// run runs the processor (and the embedded broker, HTTP server and demo
// the settings ask for) until ctx ends or it fails.
func run(ctx context.Context, c *runConfig, log *slog.Logger) error {
	cfg := c.Processor
	if err := checkPorts(c); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Data, 0o755); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if len(cfg.Brokers) == 0 {
		emb, err := processors.StartEmbedded(c.EmbeddedAddr, filepath.Join(c.Data, "kafka"), cfg.Partitions)
		if err != nil {
			return err
		}
		defer emb.Close()
		cfg.Brokers = []string{emb.Addr()}
		log.Info("embedded kafka broker started", "addr", emb.Addr())
	} else if c.Kafka.SASLMechanism != "" {
		if err := checkSASL(ctx, cfg.Brokers, c.Processor.ClientOpts); err != nil {
			return err
		}
	}
	dir := filepath.Join(c.Data, "ledger")
	st, err := openStore(ctx, dir, c.MinFreeBytes, log)
	if errors.Is(err, store.ErrPebbleV1Format) {
		return pebbleV1Help(err, dir, cfg)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	reg := schemas.NewRegistry()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := processors.New(ctx, cfg, st, reg, promReg, log)
	if err != nil {
		return explainKafkaErr(err)
	}
	var api checkoutAPI // the demo's web shop checks out through it
	if c.HTTP.Addr != "" {
		addr, stop, err := serveHTTP(ctx, c, cfg, p, reg, promReg, log)
		if err != nil {
			return err
		}
		defer stop()
		api = checkoutAPI{Addr: addr, Token: c.HTTP.Token}
	}
	log.Info("processor running", "brokers", cfg.Brokers, "topic", cfg.Topics.Events, "partitions", p.NumPartitions(), "data", c.Data)
	if c.Demo {
		go func() {
			if err := runDemo(ctx, cfg.Brokers, cfg.Topics, cfg.SchemaRegistry, c.Processor.ClientOpts, api, log); err != nil && ctx.Err() == nil {
				log.Error("demo stopped", "err", err)
			}
		}()
	}
	err = p.Run(ctx)
	log.Info("processor stopped", "err", err)
	return err
}

// serveHTTP serves p's HTTP API and web console at c.HTTP.Addr until the returned stop,
// which lets requests in flight finish (briefly), and returns the address
// it listens on (the port chosen for :0). cfg is the processor's config
// as run completed it (the embedded broker's address included). The
// checkout API takes a channel's listing_sku for a SKU, resolved from the
// listings the ledger applied, as produce does.
func serveHTTP(ctx context.Context, c *runConfig, cfg processors.Config, p *processors.Processor, reg *schemas.Registry, promReg *prometheus.Registry, log *slog.Logger) (addr string, stop func(), err error) {
	lr, err := processors.NewListingResolver(ctx, processors.ListingResolverConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topics.Listings, Registry: reg, Logger: log, ClientOpts: cfg.ClientOpts})
	if err != nil {
		return "", nil, explainKafkaErr(err)
	}
	c.HTTP.Holds.ResolveListing = lr.Resolve
	c.HTTP.Ingest.Listings = lr
	c.HTTP.History = audit.HistoryFunc(historyConfig(cfg))
	ln, err := net.Listen("tcp", c.HTTP.Addr)
	if err != nil {
		lr.Close()
		return "", nil, fmt.Errorf("listening on %s: %w", c.HTTP.Addr, err)
	}
	con, err := console.New(p, console.ConfigFrom(c.HTTP))
	if err != nil {
		ln.Close()
		lr.Close()
		return "", nil, err
	}
	srv := processors.NewHTTPServer(con.Handler(p.HTTPHandler(promReg, c.HTTP)), c.HTTP)
	// The console's live-update streams never end by themselves: a
	// shutdown ends them rather than waiting out its timeout.
	srv.RegisterOnShutdown(con.Close)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	log.Info("http listening", "addr", ln.Addr().String(), "token", c.HTTP.Token != "")
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		lr.Close()
	}, nil
}

// openStore opens the ledger store, retrying while the disk cannot be
// written (a full or failing disk the operator is fixing). A store in a
// format this release cannot read does not get better by waiting.
func openStore(ctx context.Context, dir string, minFree int64, log *slog.Logger) (*store.Store, error) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		st, err := store.Open(dir, store.Options{MinFreeBytes: minFree})
		if err == nil || errors.Is(err, store.ErrPebbleV1Format) {
			return st, err
		}
		log.Error("cannot open the ledger store; retrying", "dir", dir, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// historyConfig is the audit config that reads the history of the
// processor cfg's SKUs: its brokers, events topic, ledger and connection.
func historyConfig(cfg processors.Config) audit.Config {
	a := audit.DefaultConfig()
	a.Brokers, a.Topic, a.Ledger = cfg.Brokers, cfg.Topics.Events, cfg.Ledger
	a.SchemaRegistry, a.ClientOpts = cfg.SchemaRegistry, cfg.ClientOpts
	return a
}
