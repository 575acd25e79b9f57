package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
)

// runConfig is every setting of `stockledger run`, each declared once in
// settings() with its flag, environment variable, default and meaning
// (the README's configuration table is generated from that list; a test
// keeps the two equal).
type runConfig struct {
	// Processor is the processor's configuration. Topics come from
	// TopicPrefix; ClientOpts from Kafka and SessionTimeout. Brokers empty:
	// start an embedded broker at EmbeddedAddr.
	Processor processors.Config
	// HTTP is the HTTP server's configuration (Addr empty: no server).
	HTTP processors.HTTPConfig
	// HTTPTokenFile holds HTTP.Token (kept off the command line).
	HTTPTokenFile string
	// Kafka is how to reach the brokers: TLS and SASL.
	Kafka kafkaSecurity

	TopicPrefix  string
	EmbeddedAddr string
	// Data holds the ledger store (Data/ledger) and the embedded broker's
	// log (Data/kafka).
	Data string
	// MinFreeBytes: the store refuses writes (and the processor pauses)
	// while the disk has less free space than this.
	MinFreeBytes int64
	// SessionTimeout is the consumer group's session timeout.
	SessionTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown (SIGTERM, SIGINT): past
	// it the process exits with status 3 without finishing.
	ShutdownTimeout time.Duration
	// Demo feeds a demo retailer's events into the events topic.
	Demo                bool
	LogFormat, LogLevel string
}

// defaultRunConfig returns run's defaults.
func defaultRunConfig() *runConfig {
	c := &runConfig{
		Processor:       processors.DefaultConfig(),
		HTTP:            processors.DefaultHTTPConfig(),
		TopicPrefix:     processors.DefaultTopicPrefix,
		EmbeddedAddr:    "127.0.0.1:9092",
		Data:            "./data",
		MinFreeBytes:    64 << 20,
		SessionTimeout:  45 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		LogFormat:       "text",
		LogLevel:        "info",
	}
	c.Processor.Brokers = nil   // the embedded broker
	c.Processor.InstanceID = "" // derived from the host and --data (check)
	c.Processor.StaticMembership = true
	return c
}

// settings declares every setting of run, bound to c's fields. The order
// is the README table's.
func (c *runConfig) settings() *settings {
	ss := &settings{}
	p := &c.Processor
	ss.addField("brokers", "Brokers", listVal(&p.Brokers), "Kafka brokers, comma-separated; empty: start an embedded broker (kfake) at --embedded-addr")
	ss.add("embedded-addr", strVal(&c.EmbeddedAddr), "listen address of the embedded broker (only without --brokers)")
	ss.addField("topic-prefix", "Topics.Events", strVal(&c.TopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters, PREFIX.hold-results, PREFIX.listings, PREFIX.changelog")
	ss.addField("group", "Group", strVal(&p.Group), "consumer group; every instance of one deployment shares it")
	ss.addField("partitions", "Partitions", int32Val(&p.Partitions), "partitions of the topics when creating them (an existing topic keeps its count)")
	ss.addField("replication-factor", "ReplicationFactor", int16Val(&p.ReplicationFactor), "replication factor of created topics; -1: the broker's default")
	ss.addField("instance-id", "InstanceID", strVal(&p.InstanceID), "this instance's name, unique in the group and stable across restarts: its static group membership and, with --exactly-once, its transactional id; default: the host name and a hash of --data's absolute path")
	ss.addField("static-membership", "StaticMembership", boolVal(&p.StaticMembership), "join the group as a static member named --instance-id: a restart within --session-timeout (after a crash) takes its partitions back without a rebalance; a graceful stop still leaves")
	ss.addField("advertise-http", "AdvertiseHTTP", strVal(&p.AdvertiseHTTP), "HTTP address other instances and clients use to reach this one, named in 421 answers (default: --http)")
	ss.addField("exactly-once", "ExactlyOnce", boolVal(&p.ExactlyOnce), "publish each batch in a Kafka transaction: read_committed consumers see every update once")
	ss.addField("transaction-timeout", "TransactionTimeout", durVal(&p.TransactionTimeout), "with --exactly-once: how long a crashed instance's open transaction can block read_committed readers")
	ss.add("session-timeout", durVal(&c.SessionTimeout), "consumer group session timeout: how long the group waits for a member that stopped heartbeating (one killed without leaving) before giving its partitions to others")
	ss.addField("max-batch-records", "MaxBatchRecords", intVal(&p.MaxBatchRecords), "records folded per processing batch, at most")
	ss.addField("commit-interval", "CommitInterval", durVal(&p.CommitInterval), "how often folded states and offsets are committed to the store and the changelog (outputs are published every batch, without waiting for it); 0: every batch")
	ss.addField("max-cached-skus", "MaxCachedSKUs", intVal(&p.MaxCachedSKUs), "SKU states kept in memory across partitions, at most")
	ss.addField("changelog", "Changelog", boolVal(&p.Changelog), "publish committed states to PREFIX.changelog and restore moved partitions from it")
	ss.addField("lag-interval", "LagInterval", durVal(&p.LagInterval), "how often partition lag is refreshed")
	ss.addField("clock-interval", "ClockInterval", durVal(&p.ClockInterval), "how often the owner of a partition writes a clock event into it (clock events expire holds, live and in every replay alike); 0: never")
	ss.addField("store-retry-interval", "StoreRetryInterval", durVal(&p.StoreRetryInterval), "how often a stalled processor probes a failing store")
	ss.addField("id-retention", "Ledger.IDRetention", durVal(&p.Ledger.IDRetention), "how long (in event time) applied event ids are remembered for deduplication; at least 24h")
	ss.addField("max-ids-per-sku", "Ledger.MaxIDsPerSKU", intVal(&p.Ledger.MaxIDsPerSKU), "event ids remembered per SKU, at most")
	ss.add("data", strVal(&c.Data), "directory for the ledger store (DATA/ledger) and the embedded broker's log (DATA/kafka)")
	ss.add("min-free-bytes", int64Val(&c.MinFreeBytes), "the store pauses the processor while its disk has less free space than this plus the log Pebble preallocates next (110% of its memtable: 16 MiB, less on a small disk) (bytes)")
	ss.addField("http", "HTTP.Addr", strVal(&c.HTTP.Addr), "HTTP listen address (API, /metrics, probes); 0.0.0.0:8080 to serve other hosts; empty: no HTTP")
	ss.addSecret("http-token", strVal(&c.HTTP.Token), "bearer token required on /v1/ (probes and /metrics stay open); empty: no token")
	ss.add("http-token-file", strVal(&c.HTTPTokenFile), "file holding the bearer token (one line; surrounding white space is ignored)")
	ss.addField("http-read-header-timeout", "HTTP.ReadHeaderTimeout", durVal(&c.HTTP.ReadHeaderTimeout), "time to read a request's headers")
	ss.addField("http-read-timeout", "HTTP.ReadTimeout", durVal(&c.HTTP.ReadTimeout), "time to read a whole request")
	ss.addField("http-write-timeout", "HTTP.WriteTimeout", durVal(&c.HTTP.WriteTimeout), "time to write a response")
	ss.addField("http-idle-timeout", "HTTP.IdleTimeout", durVal(&c.HTTP.IdleTimeout), "keep-alive connections idle this long are closed")
	ss.addField("http-handler-timeout", "HTTP.HandlerTimeout", durVal(&c.HTTP.HandlerTimeout), "time a request may take to serve (503 past it)")
	ss.addField("http-max-header-bytes", "HTTP.MaxHeaderBytes", intVal(&c.HTTP.MaxHeaderBytes), "request line and headers, at most (bytes; 431 past it)")
	ss.addField("http-max-body-bytes", "HTTP.MaxBodyBytes", int64Val(&c.HTTP.MaxBodyBytes), "request body, at most (bytes; 413 past it)")
	ss.addField("http-ingest-max-bytes", "HTTP.Ingest.MaxBodyBytes", int64Val(&c.HTTP.Ingest.MaxBodyBytes), "POST /v1/events body, at most (bytes; 413 past it)")
	ss.addField("http-ingest-max-lines", "HTTP.Ingest.MaxLines", intVal(&c.HTTP.Ingest.MaxLines), "POST /v1/events lines in one body, at most (413 past it)")
	ss.addField("http-max-concurrent", "HTTP.MaxConcurrent", intVal(&c.HTTP.MaxConcurrent), "/v1/ requests served at once, at most (503 past it)")
	ss.add("shutdown-timeout", durVal(&c.ShutdownTimeout), "on SIGTERM or SIGINT, time to finish the batch in hand, commit and leave the group; past it the process exits with status 3")
	ss.add("log-format", strVal(&c.LogFormat), "log format: text or json")
	ss.add("log-level", strVal(&c.LogLevel), "log level: debug, info, warn or error")
	ss.add("demo", boolVal(&c.Demo), "also feed a live demo retailer's events into the events topic")
	c.Kafka.add(ss)
	ss.addField("schema-registry-url", "SchemaRegistry.URL", strVal(&p.SchemaRegistry.URL), "schema registry mode: frame Avro in the Confluent wire format with schema ids from this Confluent-compatible registry (e.g. http://127.0.0.1:8081, or Apicurio's http://HOST:8080/apis/ccompat/v7); empty: single-object encoding")
	ss.addField("schema-registry-user", "SchemaRegistry.Username", strVal(&p.SchemaRegistry.Username), "schema registry basic-auth user")
	ss.addField("schema-registry-password", "SchemaRegistry.Password", strVal(&p.SchemaRegistry.Password), "schema registry basic-auth password (prefer the environment: command lines are visible to other users)").secret = true
	ss.addField("schema-registry-timeout", "SchemaRegistry.Timeout", durVal(&p.SchemaRegistry.Timeout), "timeout of one schema registry request (0: 10s)")
	return ss
}

// loadRunConfig reads run's settings from defaults, the environment
// (lookup) and args, and checks them all. printConfig reports
// --print-config. Every problem is reported at once, each naming its flag
// and environment variable.
func loadRunConfig(args []string, lookup func(string) (string, bool), stderr io.Writer) (c *runConfig, ss *settings, printConfig bool, err error) {
	c = defaultRunConfig()
	ss = c.settings()
	fs := newFlags("run", "run [--brokers a,b] [--data ./data] [--http 127.0.0.1:8080] [--print-config] [flags]\n\n"+
		"Every flag can also be set by its environment variable (shown with it); flags override the environment.", stderr)
	ss.bind(fs, lookup)
	fs.BoolVar(&printConfig, "print-config", false, "print the effective settings (secrets masked) and where each came from, then exit")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, false, err
	}
	var errs []error
	if len(pos) > 0 {
		errs = append(errs, fmt.Errorf("run: unexpected argument %q", pos[0]))
	}
	errs = append(errs, c.check(ss)...)
	if err := ss.err(errs...); err != nil {
		return nil, nil, false, exitError{2, err}
	}
	return c, ss, printConfig, nil
}

// check validates c as a whole (values that did not parse are already in
// ss) and completes the derived fields: topics, the token from its file,
// the advertised address, and the Kafka client options.
func (c *runConfig) check(ss *settings) []error {
	var errs []error
	bad := func(name, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", ss.get(name).label(), fmt.Sprintf(f, a...)))
	}
	p := &c.Processor
	if c.TopicPrefix == "" {
		bad("topic-prefix", "must not be empty")
	}
	p.Topics = processors.TopicsWithPrefix(c.TopicPrefix)
	if p.AdvertiseHTTP == "" {
		p.AdvertiseHTTP = c.HTTP.Addr
	}
	if p.InstanceID == "" {
		p.InstanceID = defaultInstanceID(c.Data)
	}
	pc := *p
	if len(p.Brokers) == 0 {
		if _, _, err := net.SplitHostPort(c.EmbeddedAddr); err != nil {
			bad("embedded-addr", "%q is not host:port", c.EmbeddedAddr)
		}
		pc.Brokers = []string{c.EmbeddedAddr}
		if c.Kafka.enabled() {
			bad("brokers", "required with TLS or SASL settings (the embedded broker has neither)")
		}
	}
	errs = append(errs, pc.Validate(), c.HTTP.Validate())
	if c.SessionTimeout <= 0 {
		bad("session-timeout", "%v must be positive", c.SessionTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "%v must be positive", c.ShutdownTimeout)
	}
	if c.MinFreeBytes < 0 {
		bad("min-free-bytes", "%d must not be negative", c.MinFreeBytes)
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format", "%q: want text or json", c.LogFormat)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log-level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.HTTPTokenFile != "" {
		if c.HTTP.Token != "" {
			bad("http-token-file", "give the token or its file, not both")
		}
		b, err := os.ReadFile(c.HTTPTokenFile)
		switch tok := strings.TrimSpace(string(b)); {
		case err != nil:
			bad("http-token-file", "%v", err)
		case tok == "":
			bad("http-token-file", "%s is empty", c.HTTPTokenFile)
		default:
			c.HTTP.Token = tok
		}
	}
	kopts, kerrs := c.Kafka.opts(ss)
	errs = append(errs, kerrs...)
	p.ClientOpts = append(kopts, kgo.SessionTimeout(c.SessionTimeout))
	return errs
}

// defaultInstanceID names an instance by its host and its data directory:
// stable across its restarts (the same --data), and distinct for instances
// that share a host (each has its own store).
func defaultInstanceID(data string) string {
	host, err := os.Hostname()
	if err != nil {
		host = "stockledger"
	}
	if abs, err := filepath.Abs(data); err == nil {
		data = abs
	}
	sum := sha256.Sum256([]byte(data))
	return host + "-" + hex.EncodeToString(sum[:4])
}

// logger returns the logger the settings ask for (checked by check).
func (c *runConfig) logger(w io.Writer) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(c.LogLevel))
	o := &slog.HandlerOptions{Level: lv}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
