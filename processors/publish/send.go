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
	for {
		if !p.waitSendable(ctx) || p.lim.Wait(ctx) != nil {
			return nil
		}
		sent := p.take()
		if len(sent) == 0 {
			continue
		}
		a := post(ctx, p.http, &p.cfg, sent, time.Now())
		p.cfg.Metrics.request(a.status)
		p.settle(sent, a)
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

// take takes the next batch from the table.
func (p *Publisher) take() []sentValue {
	p.mu.Lock()
	defer p.mu.Unlock()
	ks := p.mu.t.take(p.cfg.Batch)
	sent := make([]sentValue, len(ks))
	for i, k := range ks {
		sent[i] = sentValue{name: k.name, key: k, v: k.latest}
	}
	return sent
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
