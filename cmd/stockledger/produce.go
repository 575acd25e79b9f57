package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// maxLineBytes bounds one JSON line of produce's input.
const maxLineBytes = 1 << 20

// encodedEvent is a validated event ready to send.
type encodedEvent struct {
	sku    string
	policy bool
	value  []byte
}

func produceCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("produce", "produce [--brokers a,b] [--skip-invalid] FILE|-", stderr)
	brokers := fs.String("brokers", envOr("STOCKLEDGER_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated")
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters")
	skip := fs.Bool("skip-invalid", false, "send the valid lines even if some are invalid (the invalid ones are reported and not sent)")
	partitions := fs.Int("partitions", 8, "partitions of the events topic if it must be created")
	kf := addKafkaFlags(fs)
	var src processors.SchemaRegistryConfig
	addSchemaRegistryFlags(fs, &src)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	kopts, err := kf.connect(ctx, splitList(*brokers))
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitError{2, fmt.Errorf("produce: want one FILE or -, got %d arguments", len(pos))}
	}
	in := stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return exitError{2, err}
		}
		defer f.Close()
		in = f
	}
	if err := src.Validate(); err != nil {
		return exitError{2, err}
	}
	fr, err := src.Connect(ctx, schemas.NewRegistry(), processors.Topics{Events: processors.TopicsWithPrefix(*topicPrefix).Events})
	if err != nil {
		return err
	}
	events, bad, err := readEvents(in, fr, stderr)
	if err != nil {
		return exitError{2, err}
	}
	if bad > 0 && !*skip {
		return exitError{2, fmt.Errorf("%d invalid line(s); nothing sent (use --skip-invalid to send the %d valid ones)", bad, len(events))}
	}
	p, err := processors.NewEventProducer(ctx, splitList(*brokers), processors.TopicsWithPrefix(*topicPrefix), int32(*partitions), kopts...)
	if err != nil {
		return explainKafkaErr(err)
	}
	defer p.Close()
	policies := 0
	for _, e := range events {
		p.Produce(ctx, e.sku, e.policy, e.value)
		if e.policy {
			policies++
		}
	}
	if err := p.Flush(ctx); err != nil {
		return explainKafkaErr(err)
	}
	fmt.Fprintf(stdout, "produced %d events (%d channel policies, each to all %d partitions)", len(events), policies, p.Partitions())
	if bad > 0 {
		fmt.Fprintf(stdout, "; skipped %d invalid lines", bad)
	}
	fmt.Fprintln(stdout)
	return nil
}

// readEvents parses and validates every line, reporting each bad one
// (line number and reason) to report. Blank lines are skipped.
// Events are framed by fr (nil: single-object encoding).
func readEvents(in io.Reader, fr *schemas.Framing, report io.Writer) (events []encodedEvent, bad int, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var ev ledger.Event
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		ev.Reset()
		reason, detail := schemas.ParseEventJSON(line, &ev)
		if reason == ledger.ReasonNone {
			reason, detail = ledger.Validate(&ev)
		}
		if reason != ledger.ReasonNone {
			fmt.Fprintf(report, "line %d: %s: %s\n", n, reason, detail)
			bad++
			continue
		}
		v, err := fr.EncodeEvent(nil, &ev)
		if err != nil {
			fmt.Fprintf(report, "line %d: encoding: %v\n", n, err)
			bad++
			continue
		}
		events = append(events, encodedEvent{sku: ev.SKU, policy: ev.Type == ledger.TypeChannelPolicy, value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading input: %w", err)
	}
	return events, bad, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
