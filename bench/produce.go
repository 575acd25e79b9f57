package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
)

// producer writes a run's events to its events topic, as `stockledger
// produce` does (keyed by SKU; channel_policy to every partition), with
// processors.EventProducer's client. Its linger is 0: an event's append
// time should not include the load generator's batching.
type producer struct {
	cl    *kgo.Client
	topic string
	parts int32

	mu    sync.Mutex
	first error
	wg    sync.WaitGroup
}

// newProducer connects and creates the run's topics.
func newProducer(ctx context.Context, env *Env, t processors.Topics) (*producer, error) {
	ep, err := processors.NewEventProducer(ctx, env.Brokers, t, env.Partitions, kgo.ProducerLinger(0))
	if err != nil {
		return nil, err
	}
	return &producer{cl: ep.Client(), topic: t.Events, parts: ep.Partitions()}, nil
}

func (p *producer) close() { p.cl.Close() }

// send produces event i of e with timestamp ts (its Kafka CreateTime);
// it returns the records sent (a policy goes to every partition).
func (p *producer) send(ctx context.Context, e *events, i int, ts time.Time) int {
	key, value, policy := e.at(i)
	if policy {
		for part := range p.parts {
			p.produce(ctx, &kgo.Record{Topic: p.topic, Partition: part, Value: value, Timestamp: ts})
		}
		return int(p.parts)
	}
	p.produce(ctx, &kgo.Record{Topic: p.topic, Key: key, Value: value, Timestamp: ts})
	return 1
}

func (p *producer) produce(ctx context.Context, r *kgo.Record) {
	p.wg.Add(1)
	p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.first == nil {
				p.first = fmt.Errorf("producing to %s: %w", p.topic, err)
			}
			p.mu.Unlock()
		}
		p.wg.Done()
	})
}

// wait waits for every record sent so far; the first error.
func (p *producer) wait() error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// backlog produces every event of e as fast as the broker takes them.
func (p *producer) backlog(ctx context.Context, e *events) (records int, err error) {
	now := time.Now()
	for i := range e.len() {
		records += p.send(ctx, e, i, now)
		if i%4096 == 0 {
			now = time.Now()
		}
	}
	return records, p.wait()
}

// paced produces the events of e at rate events per second, stamping
// each with the time it is sent (sent[i], Unix nanoseconds). It returns
// the records sent and how long sending took.
func (p *producer) paced(ctx context.Context, e *events, rate float64, sent []int64) (records int, took time.Duration, err error) {
	start := time.Now()
	n := e.len()
	for i := 0; i < n; {
		if ctx.Err() != nil {
			return records, time.Since(start), ctx.Err()
		}
		due := min(n, 1+int(rate*time.Since(start).Seconds()))
		for ; i < due; i++ {
			now := time.Now()
			sent[i] = now.UnixNano()
			records += p.send(ctx, e, i, now)
		}
		if i < n {
			// The next event is due at i/rate; bursts stay within a millisecond.
			if d := time.Duration(float64(i)/rate*1e9) - time.Since(start); d > 0 {
				time.Sleep(min(d, time.Millisecond))
			}
		}
	}
	took = time.Since(start)
	return records, took, p.wait()
}
