package publish

import (
	"context"
	"time"
)

// sendLoop posts batches while there are keys to send, under the rate
// limit, one request at a time, until ctx ends. One request at a time
// keeps a key from having two values in flight, so the channel sees a
// key's versions in the order they were read.
func (p *Publisher) sendLoop(ctx context.Context) error {
	b := backoff{Min: p.cfg.Backoff.Min, Max: p.cfg.Backoff.Max}
	size := p.cfg.Batch
	for {
		if !p.waitSendable(ctx) || p.lim.Wait(ctx) != nil {
			return nil
		}
		sent := p.take(size)
		if len(sent) == 0 {
			continue
		}
		a := post(ctx, p.http, &p.cfg, sent, time.Now())
		p.cfg.Metrics.request(a.status)
		p.settle(sent, a)
		size = batchSize(size, p.cfg.Batch, a)
		if !a.ok() && ctx.Err() == nil {
			p.cfg.Log.Warn("webhook request failed; its keys are sent again", "keys", len(sent), "status", a.status, "err", a.err)
		}
		if wait := waitAfter(a, &b); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// waitSendable waits until the publisher is caught up and has a key to
// send; false once ctx ended.
func (p *Publisher) waitSendable(ctx context.Context) bool {
	for {
		p.mu.Lock()
		ok := p.ready.Load() && p.mu.t.ready()
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.notify:
		}
	}
}

// take takes the next batch of up to n keys from the table; none while a
// catch-up runs (one may have started while the loop waited for a token).
func (p *Publisher) take(n int) []sentValue {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready.Load() {
		return nil
	}
	return p.mu.t.take(n)
}

// settle records a request's answer in the table.
func (p *Publisher) settle(sent []sentValue, a answer) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.t.settle(sent, a.ok())
	if a.ok() {
		for _, s := range sent {
			p.cfg.Metrics.lag.Observe(now.Sub(s.v.appended).Seconds())
		}
		p.cfg.Metrics.updates.WithLabelValues("acked").Add(float64(len(sent)))
	}
	p.cfg.Metrics.pending.Set(float64(p.mu.t.pending))
}

// batchSize is the size of the next batch after a with batches of size:
// a refusal of the request itself (4xx but 408 and 429) halves it, so
// that a key the webhook refuses ends up alone and the others get
// through; a success doubles it back up to limit.
func batchSize(size, limit int, a answer) int {
	switch {
	case a.ok():
		return min(2*size, limit)
	case a.status >= 400 && a.status < 500 && a.status != 408 && a.status != 429:
		return max(1, size/2)
	}
	return size
}
