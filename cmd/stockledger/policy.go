package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

func policyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "set" {
		fmt.Fprintln(stderr, "Usage: stockledger policy set --channel C [--locations a,b] [--buffer N] [--share-pct P] [--max-qty M]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitError{2, errors.New("policy: want the subcommand set")}
	}
	fs := newFlags("policy set", "policy set --channel C [--locations a,b] [--buffer N] [--share-pct P] [--max-qty M]", stderr)
	brokers := fs.String("brokers", envOr("STOCKLEDGER_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated")
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters")
	channel := fs.String("channel", "", "channel code (required)")
	locations := fs.String("locations", "", "eligible locations, comma-separated; empty means every location")
	buffer := fs.Int64("buffer", 0, "units held back from the channel's pool")
	share := fs.Int64("share-pct", 100, "percent of the pool (after buffer) offered, 1..100, rounded down")
	maxQty := fs.Int64("max-qty", -1, "cap on what the channel is offered; -1 means no cap")
	eventID := fs.String("event-id", "", "event id (default: policy-CHANNEL-TIMESTAMP)")
	partitions := fs.Int("partitions", 8, "partitions of the events topic if it must be created")
	kf := addKafkaFlags(fs)
	var src processors.SchemaRegistryConfig
	addSchemaRegistryFlags(fs, &src)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	kopts, err := kf.connect(ctx, splitList(*brokers))
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return exitError{2, fmt.Errorf("policy set: unexpected argument %q", pos[0])}
	}
	ev, line, err := policyEvent(*channel, *locations, *eventID, *buffer, *share, *maxQty)
	if err != nil {
		return err
	}
	if err := src.Validate(); err != nil {
		return exitError{2, err}
	}
	fr, err := src.Connect(ctx, schemas.NewRegistry(), processors.Topics{Events: processors.TopicsWithPrefix(*topicPrefix).Events})
	if err != nil {
		return err
	}
	v, err := fr.EncodeEvent(nil, ev)
	if err != nil {
		return err
	}
	p, err := processors.NewEventProducer(ctx, splitList(*brokers), processors.TopicsWithPrefix(*topicPrefix), int32(*partitions), kopts...)
	if err != nil {
		return explainKafkaErr(err)
	}
	defer p.Close()
	p.Produce(ctx, "", true, v)
	if err := p.Flush(ctx); err != nil {
		return explainKafkaErr(err)
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return nil
}

// policyEvent builds the channel_policy event of policy set's flags
// (maxQty < 0: no cap; eventID "": one made of the channel and the time),
// checked as the ledger checks it, and its JSON line.
func policyEvent(channel, locations, eventID string, buffer, share, maxQty int64) (*ledger.Event, []byte, error) {
	if err := checkUTF8Flags(map[string]string{"--channel": channel, "--locations": locations, "--event-id": eventID}); err != nil {
		return nil, nil, exitError{2, err}
	}
	now := time.Now().UTC()
	if eventID == "" {
		eventID = fmt.Sprintf("policy-%s-%d", channel, now.UnixNano())
	}
	m := map[string]any{
		"event_id": eventID, "type": "channel_policy", "occurred_at": now.Format(time.RFC3339Nano),
		"channel": channel, "locations": orEmpty(splitList(locations)), "buffer": buffer, "share_pct": share,
		"source": "stockledger-cli",
	}
	if maxQty >= 0 {
		m["max_qty"] = maxQty
	}
	line, err := json.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	var ev ledger.Event
	reason, detail := schemas.ParseEventJSON(line, &ev)
	if reason == ledger.ReasonNone {
		reason, detail = ledger.Validate(&ev)
	}
	if reason != ledger.ReasonNone {
		return nil, nil, exitError{2, fmt.Errorf("invalid policy: %s: %s", reason, detail)}
	}
	return &ev, line, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// checkUTF8Flags refuses a flag value that is not UTF-8, naming the flag.
// The event is built with encoding/json, which would write such bytes as
// U+FFFD and so set the policy of another channel (web\xff and web\xfe
// would both be web\uFFFD), as ParseEventJSON refuses in a JSON line.
func checkUTF8Flags(flags map[string]string) error {
	names := make([]string, 0, len(flags))
	for name := range flags {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if v := flags[name]; !utf8.ValidString(v) {
			return fmt.Errorf("policy set: %s %q is not valid UTF-8", name, v)
		}
	}
	return nil
}
