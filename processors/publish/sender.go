package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// webhookClient is the publisher's HTTP client. It follows no redirect: a
// redirect would turn the POST into a GET without the body, whose 2xx
// would pass for an acknowledgement; a 3xx is a failure instead.
func webhookClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// answer is what the webhook made of one request.
type answer struct {
	status     int           // 0: no answer
	retryAfter time.Duration // from a 429's Retry-After (0: none given)
	err        error         // why there was no 2xx
}

func (a answer) ok() bool { return a.err == nil }

// post sends one batch to the webhook and reads its answer. A request the
// webhook does not answer within timeout counts as failed: its keys are
// sent again, with whatever value they have by then.
func post(ctx context.Context, c *http.Client, cfg *Config, sent []sentValue, now time.Time) answer {
	body, err := json.Marshal(request(cfg.Channel, sent, now))
	if err != nil {
		return answer{err: fmt.Errorf("encoding the request: %w", err)}
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, cfg.Webhook, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stockledger-publish")
	req.Header.Set(SignatureHeader, Sign(cfg.Secret, now, body))
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode}
	if resp.StatusCode/100 != 2 {
		a.err = fmt.Errorf("webhook answered %s: %s", resp.Status, bytes.TrimSpace(snippet))
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		a.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	}
	return a
}

// request is the body carrying sent.
func request(channel string, sent []sentValue, now time.Time) Request {
	r := Request{Channel: channel, SentAt: now.UTC(), Updates: make([]Item, len(sent))}
	for i, s := range sent {
		it := Item{SKU: s.v.sku, Available: s.v.available, Version: s.v.version,
			OccurredAt:     time.UnixMicro(s.v.occurredAt).UTC(),
			IdempotencyKey: IdempotencyKey(channel, s.v.sku, s.v.listing, s.v.version)}
		if s.v.listing != "" {
			l := s.v.listing
			it.ListingSKU = &l
		}
		r.Updates[i] = it
	}
	return r
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		if s > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait between failed requests: doubling from Min to Max,
// each wait drawn at random below its bound (full jitter), so publishers
// that failed together do not retry together.
type backoff struct {
	Min, Max time.Duration
	bound    time.Duration
}

// next returns the wait after a failure.
func (b *backoff) next() time.Duration {
	switch {
	case b.bound == 0:
		b.bound = b.Min
	case b.bound > b.Max/2:
		b.bound = b.Max
	default:
		b.bound *= 2
	}
	return b.Min/2 + rand.N(b.bound-b.Min/2+1)
}

// reset starts over after a success.
func (b *backoff) reset() { b.bound = 0 }

// waitAfter is how long to wait after an answer before the next request:
// a 429's Retry-After (at most MaxRetryAfter), else the backoff for a
// failure, else nothing.
func waitAfter(a answer, b *backoff) time.Duration {
	switch {
	case a.ok():
		b.reset()
		return 0
	case a.status == http.StatusTooManyRequests && a.retryAfter > 0:
		return min(a.retryAfter, MaxRetryAfter)
	default:
		return b.next()
	}
}

// MaxRetryAfter bounds the wait a 429's Retry-After can impose, so a
// misconfigured webhook cannot stop the publisher for days.
const MaxRetryAfter = 10 * time.Minute
