package processors

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EventProducer writes events to the events topic: keyed by SKU (Kafka's
// default murmur2 partitioning), except channel_policy events, which go to
// every partition so each SKU sees a policy at one place in its history.
type EventProducer struct {
	cl         *kgo.Client
	topic      string
	partitions int32
	sent       sendGroup // what Produce sent, for Flush
}

// sendGroup is records produced and not yet waited for, and the first
// error among them.
type sendGroup struct {
	wg sync.WaitGroup
	mu struct {
		sync.Mutex
		first error
	}
}

func (g *sendGroup) send(ctx context.Context, cl *kgo.Client, r *kgo.Record) {
	g.wg.Add(1)
	cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err != nil {
			g.mu.Lock()
			if g.mu.first == nil {
				g.mu.first = fmt.Errorf("producing to %s: %w", r.Topic, err)
			}
			g.mu.Unlock()
		}
		g.wg.Done()
	})
}

// wait waits for every record sent so far and returns the first error.
func (g *sendGroup) wait() error {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.first
}

// policyPartitioner sends records without a key to the partition set on
// the record and hashes keyed records as Kafka does.
func policyPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Key == nil {
				return int(r.Partition)
			}
			return keyed.Partition(r, n)
		}
	})
}

// NewEventProducer connects and makes sure the topics exist (creating them
// with partitions partitions if not).
func NewEventProducer(ctx context.Context, brokers []string, topics Topics, partitions int32, opts ...kgo.Opt) (*EventProducer, error) {
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("stockledger-produce"),
		kgo.RecordPartitioner(policyPartitioner()),
		kgo.MaxBufferedRecords(1 << 18),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	n, err := EnsureTopics(ctx, kadm.NewClient(cl), topics, partitions, -1)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &EventProducer{cl: cl, topic: topics.Events, partitions: n}, nil
}

// Partitions is the events topic's partition count.
func (p *EventProducer) Partitions() int32 { return p.partitions }

// Client is the producer's Kafka client.
func (p *EventProducer) Client() *kgo.Client { return p.cl }

// Produce sends one encoded event keyed by sku, or to every partition when
// policy is true. It does not wait; Flush does.
func (p *EventProducer) Produce(ctx context.Context, sku string, policy bool, value []byte) {
	p.records(sku, policy, value, func(r *kgo.Record) { p.sent.send(ctx, p.cl, r) })
}

// records calls fn with the records of one event: keyed by sku, or one for
// each partition (a channel_policy).
func (p *EventProducer) records(sku string, policy bool, value []byte, fn func(*kgo.Record)) {
	if !policy {
		fn(&kgo.Record{Topic: p.topic, Key: []byte(sku), Value: value})
		return
	}
	for part := range p.partitions {
		fn(&kgo.Record{Topic: p.topic, Partition: part, Value: value})
	}
}

// Flush waits for every record Produce sent so far and returns the first
// error.
func (p *EventProducer) Flush(ctx context.Context) error { return p.sent.wait() }

// SendAll sends events (each channel_policy to every partition) and waits
// for them; the error is the first of these records', whatever other
// callers sent meanwhile.
func (p *EventProducer) SendAll(ctx context.Context, events []EncodedEvent) error {
	var g sendGroup
	for i := range events {
		e := &events[i]
		p.records(e.SKU, e.Policy, e.Value, func(r *kgo.Record) { g.send(ctx, p.cl, r) })
	}
	return g.wait()
}

// Close flushes and closes the client.
func (p *EventProducer) Close() { p.cl.Close() }
