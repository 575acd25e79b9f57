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

	mu    sync.Mutex
	first error
	wg    sync.WaitGroup
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
	if policy {
		for part := range p.partitions {
			p.send(ctx, &kgo.Record{Topic: p.topic, Partition: part, Value: value})
		}
		return
	}
	p.send(ctx, &kgo.Record{Topic: p.topic, Key: []byte(sku), Value: value})
}

func (p *EventProducer) send(ctx context.Context, r *kgo.Record) {
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

// Flush waits for every record sent so far and returns the first error.
func (p *EventProducer) Flush(ctx context.Context) error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// SendAll sends events (each channel_policy to every partition) and waits
// for them; the error is the first of these records', whatever other
// callers sent meanwhile.
func (p *EventProducer) SendAll(ctx context.Context, events []EncodedEvent) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	send := func(r *kgo.Record) {
		wg.Add(1)
		p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("producing to %s: %w", p.topic, err)
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	for i := range events {
		e := &events[i]
		if !e.Policy {
			send(&kgo.Record{Topic: p.topic, Key: []byte(e.SKU), Value: e.Value})
			continue
		}
		for part := range p.partitions {
			send(&kgo.Record{Topic: p.topic, Partition: part, Value: e.Value})
		}
	}
	wg.Wait()
	return first
}

// Close flushes and closes the client.
func (p *EventProducer) Close() { p.cl.Close() }
