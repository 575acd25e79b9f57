package processors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// maxMessageBytes is the largest record batch the output topics take: a
// very hot SKU's state (thousands of open orders and remembered ids) can
// pass a megabyte, and the processor's producer batches up to this size.
const maxMessageBytes = "16777216"

// topicConfigs are the configs stockledger creates its topics with.
func topicConfigs(t Topics) map[string]map[string]*string {
	s := func(v string) *string { return &v }
	return map[string]map[string]*string{
		// The book of record: never deleted by time or size.
		t.Events: {"cleanup.policy": s("delete"), "retention.ms": s("-1"), "retention.bytes": s("-1")},
		// Latest value per channel/sku is what matters.
		t.Updates: {"cleanup.policy": s("compact"), "max.message.bytes": s(maxMessageBytes)},
		// Alerts are kept 90 days.
		t.Alerts: {"cleanup.policy": s("delete"), "retention.ms": s("7776000000"), "max.message.bytes": s(maxMessageBytes)},
		// Dead letters hold events that are nowhere else applied: kept forever,
		// and allowed to be larger than an event (they carry it whole).
		t.DeadLetters: {"cleanup.policy": s("delete"), "retention.ms": s("-1"), "max.message.bytes": s(maxMessageBytes)},
		// A hold's last result is what a checkout asks for; compacted, so a
		// retry long after still finds its answer until the key is closed.
		t.HoldResults: {"cleanup.policy": s("compact"), "max.message.bytes": s(maxMessageBytes)},
		// The listings the ledger applied, latest per channel/listing_sku/sku:
		// compacted, and removals are records (active false), not
		// tombstones, so a removal stays visible and versioned.
		t.Listings: {"cleanup.policy": s("compact"), "max.message.bytes": s(maxMessageBytes)},
		// Latest state per SKU per partition; states of very hot SKUs can be large.
		t.Changelog: {"cleanup.policy": s("compact"), "max.message.bytes": s(maxMessageBytes)},
	}
}

// EnsureTopics creates any missing topic with its configs and returns the
// events topic's partition count.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t Topics, partitions int32, rf int16) (int32, error) {
	for name, cfg := range topicConfigs(t) {
		resp, err := adm.CreateTopic(ctx, partitions, rf, cfg, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("creating topic %s: %w", name, err)
		}
	}
	// A new topic can take a moment to appear in metadata.
	var last error
	for range 100 {
		n, err := PartitionCount(ctx, adm, t.Events)
		if err == nil && n > 0 {
			return n, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, last
}

// PartitionCount returns the events topic's partition count.
func PartitionCount(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describing topic %s: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok {
		return 0, fmt.Errorf("topic %s does not exist (start `stockledger run` once to create it)", topic)
	}
	if d.Err != nil {
		return 0, fmt.Errorf("describing topic %s: %w", topic, d.Err)
	}
	return int32(len(d.Partitions)), nil
}
