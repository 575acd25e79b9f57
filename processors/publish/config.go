package publish

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/schemas"
)

// Config configures a Publisher.
type Config struct {
	Brokers    []string
	ClientOpts []kgo.Opt // TLS, SASL
	Topic      string    // the updates topic
	Group      string    // the consumer group (one per channel)
	Channel    string
	Webhook    string // http(s) URL the batches are POSTed to
	Secret     []byte // the HMAC-SHA256 key requests are signed with

	Rate    float64 // requests per second
	Burst   int     // requests that may go at once after a quiet spell
	Batch   int     // keys per request
	Timeout time.Duration
	Backoff struct{ Min, Max time.Duration }

	// SessionTimeout: how long the group waits for a member that stopped
	// answering before its partitions go to another.
	SessionTimeout time.Duration
	// CommitInterval: how often the group's offsets are committed.
	CommitInterval time.Duration
	// CatchUpTimeout bounds the wait for a partition's end after an
	// assignment, for a topic whose end never shows (a transaction left
	// open by a producer that died); past it, sending starts anyway.
	CatchUpTimeout time.Duration

	Schemas *schemas.Registry
	Metrics *Metrics
	Log     *slog.Logger
}

// DefaultConfig returns the defaults: 5 requests/s, a burst of 20, 100
// keys per request, a 10s timeout, backoff from 200ms to 30s.
func DefaultConfig() Config {
	c := Config{Rate: 5, Burst: 20, Batch: 100, Timeout: 10 * time.Second,
		CommitInterval: time.Second, CatchUpTimeout: 2 * time.Minute, SessionTimeout: 45 * time.Second}
	c.Backoff.Min, c.Backoff.Max = 200*time.Millisecond, 30*time.Second
	return c
}

// DefaultGroup is the consumer group of channel's publisher.
func DefaultGroup(channel string) string { return "stockledger-publish-" + channel }

// Validate names every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Channel == "" {
		errs = append(errs, errors.New("--channel is required"))
	}
	if u, err := url.Parse(c.Webhook); c.Webhook == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--webhook %q: want an http:// or https:// URL", c.Webhook))
	}
	if len(c.Secret) == 0 {
		errs = append(errs, errors.New("--secret is required: the webhook checks each request's signature with it"))
	}
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		errs = append(errs, fmt.Errorf("--rate %g: want a finite number of requests above 0", c.Rate))
	}
	if c.Burst < 1 {
		errs = append(errs, fmt.Errorf("--burst %d: want at least 1", c.Burst))
	}
	if c.Batch < 1 {
		errs = append(errs, fmt.Errorf("--batch %d: want at least 1", c.Batch))
	}
	if c.Backoff.Min <= 0 || c.Backoff.Max < c.Backoff.Min || c.Backoff.Max > time.Hour {
		errs = append(errs, fmt.Errorf("--backoff-min %s, --backoff-max %s: want min above 0, min <= max <= 1h", c.Backoff.Min, c.Backoff.Max))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--timeout", c.Timeout}, {"--catch-up-timeout", c.CatchUpTimeout}, {"--session-timeout", c.SessionTimeout}, {"commit interval", c.CommitInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a duration above 0", d.flag, d.v))
		}
	}
	if len(c.Brokers) == 0 || c.Topic == "" || c.Group == "" || c.Schemas == nil {
		errs = append(errs, errors.New("brokers, the updates topic, the group and the schemas are required"))
	}
	return errors.Join(errs...)
}
