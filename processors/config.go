// Package processors is stockledger's Kafka runtime: the consumer-group
// member that folds the events topic into the ledger (one owner per
// partition), publishes channel stock updates, alerts and dead letters,
// keeps state and input offsets together in Pebble, and serves HTTP.
package processors

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
)

// Topics names the topics stockledger uses.
type Topics struct {
	Events      string // the book of record, keyed by SKU
	Updates     string // channel stock updates, keyed channel/sku, compacted
	Alerts      string // alerts, keyed by SKU
	DeadLetters string // events that could not be applied, keyed as the event was
	HoldResults string // each hold's decision and what closed it, keyed sku/hold_id
	// Listings holds the listing events the ledger applied, keyed
	// channel/listing_sku/sku (compacted): what the tools that write
	// events resolve a channel's listing_sku against (ListingResolver).
	Listings string
	// Changelog holds each partition's ledger state (compacted, one
	// partition per events partition), so a new owner restores a partition
	// without folding its whole history.
	Changelog string
}

// DefaultTopicPrefix prefixes the default topic names.
const DefaultTopicPrefix = "stockledger"

// DefaultTopics returns the default topic names.
func DefaultTopics() Topics { return TopicsWithPrefix(DefaultTopicPrefix) }

// TopicsWithPrefix returns the topic names under prefix: prefix.events,
// prefix.updates, prefix.alerts, prefix.dead-letters, prefix.hold-results,
// prefix.listings and prefix.changelog.
func TopicsWithPrefix(prefix string) Topics {
	return Topics{
		Events:      prefix + ".events",
		Updates:     prefix + ".updates",
		Alerts:      prefix + ".alerts",
		DeadLetters: prefix + ".dead-letters",
		HoldResults: prefix + ".hold-results",
		Listings:    prefix + ".listings",
		Changelog:   prefix + ".changelog",
	}
}

// Config configures a Processor. Start from DefaultConfig.
type Config struct {
	// Brokers are the Kafka seed brokers (host:port).
	Brokers []string
	// Topics are the topic names.
	Topics Topics
	// Group is the consumer group; every instance of one deployment shares it.
	Group string
	// Partitions is the partition count used when creating the events topic
	// (and the others). Default 8. An existing topic keeps its count.
	Partitions int32
	// ReplicationFactor for created topics; -1 means the broker's default.
	ReplicationFactor int16
	// MaxBatchRecords caps the records folded per processing batch. Default 20,000.
	MaxBatchRecords int
	// CommitInterval is how often the folded states and next offsets are
	// committed to the store (and the changelog). Outputs do not wait for
	// it: every batch is published as soon as it is folded, and a crash
	// folds the records since the last commit again without publishing
	// them twice. Default 100ms; 0 commits every batch.
	CommitInterval time.Duration
	// MaxCachedSKUs caps the SKU states kept in memory across partitions;
	// past it, clean states are dropped after a batch commits (small ones
	// first). A SKU with 4 locations and a few ids takes about 750 bytes of
	// heap. Default 250,000 (about 200 MB of states).
	MaxCachedSKUs int
	// LagInterval is how often partition lag is refreshed. Default 1s.
	LagInterval time.Duration
	// ClockInterval is how often the owner of a partition writes a clock
	// event into it (the clock that expires holds). Default 1s; 0: never
	// (expiry then waits for clock events written by others).
	ClockInterval time.Duration
	// StoreRetryInterval is how often a stalled processor probes the store
	// after a read or write failed (disk full, I/O error). Default 1s.
	StoreRetryInterval time.Duration
	// Changelog, when true (the default), publishes every committed state to
	// the changelog topic and restores newly assigned partitions from it
	// when it is ahead of the local store.
	Changelog bool
	// AdvertiseHTTP is this instance's HTTP address as other instances and
	// clients reach it; GET /v1/skus on an instance that does not own the
	// SKU names the owner's. Empty: not advertised.
	AdvertiseHTTP string
	// ExactlyOnce publishes each batch's outputs (and changelog records) in a
	// Kafka transaction together with the group's offsets, and commits the
	// batch to Pebble only after the transaction commits: read_committed
	// consumers see each update once, even across crashes.
	ExactlyOnce bool
	// InstanceID names this instance; with ExactlyOnce the transactional id
	// is Group-InstanceID, so it must be unique per instance and stable
	// across its restarts (a restart then aborts its open transaction at
	// once). Default: the host name.
	InstanceID string
	// StaticMembership makes InstanceID the consumer group's static member
	// id (group.instance.id): an instance restarted within the session
	// timeout (after a crash, say) takes its partitions back at once,
	// without a rebalance. A graceful stop still leaves the group, so its
	// partitions move at once. Off by default here (processes that run
	// several processors share a host name); `run` turns it on.
	StaticMembership bool
	// TransactionTimeout bounds a transaction: a crashed instance's open
	// transaction blocks read_committed readers at most this long. Default 10s.
	TransactionTimeout time.Duration
	// Ledger bounds what the ledger remembers.
	Ledger ledger.Config
	// SchemaRegistry, when its URL is set, frames outputs in the Confluent
	// wire format with ids from a schema registry (schemaregistry.go).
	SchemaRegistry SchemaRegistryConfig
	// ClientOpts are extra franz-go options (TLS, SASL, logging).
	ClientOpts []kgo.Opt
}

// DefaultConfig returns a Config with every default set.
func DefaultConfig() Config {
	return Config{
		Brokers:            []string{"127.0.0.1:9092"},
		Topics:             DefaultTopics(),
		Group:              "stockledger",
		Partitions:         8,
		ReplicationFactor:  -1,
		MaxBatchRecords:    20_000,
		CommitInterval:     100 * time.Millisecond,
		MaxCachedSKUs:      250_000,
		LagInterval:        time.Second,
		ClockInterval:      time.Second,
		StoreRetryInterval: time.Second,
		Changelog:          true,
		InstanceID:         hostname(),
		TransactionTimeout: 10 * time.Second,
		Ledger:             ledger.DefaultConfig(),
	}
}

// ConfigError is one problem with a Config: the field (as in Go, with
// a dot for nested fields: "Ledger.IDRetention") and what is wrong, so a
// command can name the flag that sets it.
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports every problem with c at once: errors.Join of
// *ConfigError.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, f string, a ...any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf(f, a...)})
	}
	if len(c.Brokers) == 0 {
		bad("Brokers", "at least one is required")
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" || !strings.Contains(b, ":") {
			bad("Brokers", "%q is not host:port", b)
		}
	}
	for name, t := range map[string]string{"Events": c.Topics.Events, "Updates": c.Topics.Updates, "Alerts": c.Topics.Alerts, "DeadLetters": c.Topics.DeadLetters, "HoldResults": c.Topics.HoldResults, "Listings": c.Topics.Listings, "Changelog": c.Topics.Changelog} {
		if t == "" {
			bad("Topics."+name, "must not be empty")
		}
	}
	if (c.ExactlyOnce || c.StaticMembership) && c.InstanceID == "" {
		bad("InstanceID", "required with exactly-once or static membership")
	}
	if c.ExactlyOnce && c.TransactionTimeout < time.Second {
		bad("TransactionTimeout", "%v is under 1s", c.TransactionTimeout)
	}
	if c.Group == "" {
		bad("Group", "must not be empty")
	}
	if c.Partitions < 1 || c.Partitions > 10_000 {
		bad("Partitions", "%d not in 1..10000", c.Partitions)
	}
	if c.ReplicationFactor != -1 && c.ReplicationFactor < 1 {
		bad("ReplicationFactor", "%d: want -1 (the broker's default) or at least 1", c.ReplicationFactor)
	}
	if c.CommitInterval < 0 {
		bad("CommitInterval", "%v must not be negative", c.CommitInterval)
	}
	if c.MaxBatchRecords < 1 {
		bad("MaxBatchRecords", "%d must be at least 1", c.MaxBatchRecords)
	}
	if c.MaxCachedSKUs < 1 {
		bad("MaxCachedSKUs", "%d must be at least 1", c.MaxCachedSKUs)
	}
	if c.StoreRetryInterval <= 0 {
		bad("StoreRetryInterval", "%v must be positive", c.StoreRetryInterval)
	}
	if c.ClockInterval < 0 {
		bad("ClockInterval", "%v must not be negative", c.ClockInterval)
	}
	if c.LagInterval <= 0 {
		bad("LagInterval", "%v must be positive", c.LagInterval)
	}
	if c.Ledger.IDRetention < 24*time.Hour {
		bad("Ledger.IDRetention", "%v is under the 24h minimum", c.Ledger.IDRetention)
	}
	if c.Ledger.MaxIDsPerSKU < 1 {
		bad("Ledger.MaxIDsPerSKU", "%d must be at least 1", c.Ledger.MaxIDsPerSKU)
	}
	for _, e := range c.SchemaRegistry.problems() {
		bad("SchemaRegistry."+e.field, "%s", e.problem)
	}
	return errors.Join(errs...)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "stockledger"
	}
	return h
}
