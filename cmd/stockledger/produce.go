package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.listings (read to resolve listing_sku), ...")
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
	reg := schemas.NewRegistry()
	fr, err := src.Connect(ctx, reg, processors.Topics{Events: processors.TopicsWithPrefix(*topicPrefix).Events})
	if err != nil {
		return err
	}
	listings := &lazyListings{ctx: ctx, cfg: processors.ListingResolverConfig{
		Brokers: splitList(*brokers), Topic: processors.TopicsWithPrefix(*topicPrefix).Listings,
		Registry: reg, Logger: slog.New(slog.NewTextHandler(stderr, nil)), ClientOpts: kopts,
	}}
	defer listings.close()
	events, bad, err := readEvents(in, fr, stderr, listings.view)
	var rerr *readError
	if errors.As(err, &rerr) {
		return exitError{2, err}
	}
	if err != nil {
		return explainKafkaErr(err)
	}
	if bad > 0 && !*skip {
		return exitError{2, fmt.Errorf("%d invalid line(s); nothing sent (use --skip-invalid to send the %d valid ones)", bad, len(events))}
	}
	p, err := processors.NewEventProducer(ctx, splitList(*brokers), processors.TopicsWithPrefix(*topicPrefix), int32(*partitions), kopts...)
	if err != nil {
		return explainKafkaErr(err)
	}
	defer p.Close()
	return sendEvents(ctx, p, events, bad, stdout)
}

// sendEvents produces events, waits for them and says what it sent (and
// skipped: bad lines).
func sendEvents(ctx context.Context, p *processors.EventProducer, events []encodedEvent, bad int, stdout io.Writer) error {
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

// lazyListings starts the listing resolver when a line first needs it: a
// file without listings does not wait for the listings topic.
type lazyListings struct {
	ctx context.Context
	cfg processors.ListingResolverConfig
	r   *processors.ListingResolver
}

func (l *lazyListings) view() (processors.ListingView, error) {
	var err error
	l.r, err = processors.NewListingResolver(l.ctx, l.cfg)
	return l.r, err
}

func (l *lazyListings) close() {
	if l.r != nil {
		l.r.Close()
	}
}

// readError is a failure to read the input (not a bad line).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// readEvents parses and validates every line, reporting each bad one
// (line number and reason) to report. Blank lines are skipped. Events are
// framed by fr (nil: single-object encoding). Lines naming a listing_sku
// instead of a sku are resolved, and listing events checked, against the
// view listings returns (called once, at the first such line) and the
// file's listing events before them; an error from listings ends the read.
func readEvents(in io.Reader, fr *schemas.Framing, report io.Writer, listings func() (processors.ListingView, error)) (events []encodedEvent, bad int, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var ev ledger.Event
	var input *processors.ListingInput
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		reason, detail := schemas.ParseEventJSON(line, &ev)
		if reason == ledger.ReasonNone && input == nil && processors.NeedsListings(&ev) {
			view, err := listings()
			if err != nil {
				return nil, 0, fmt.Errorf("reading the listings (line %d names a listing): %w", n, err)
			}
			input = processors.NewListingInput(view)
		}
		code := ""
		if reason != ledger.ReasonNone {
			code = reason.String()
		} else {
			code, detail = checkLine(input, &ev, line)
		}
		if code != "" {
			fmt.Fprintf(report, "line %d: %s: %s\n", n, code, detail)
			bad++
			continue
		}
		v, err := fr.EncodeEvent(nil, &ev)
		if err != nil {
			fmt.Fprintf(report, "line %d: encoding: %v\n", n, err)
			bad++
			continue
		}
		if input != nil {
			input.Accept(&ev)
		}
		events = append(events, encodedEvent{sku: ev.SKU, policy: ev.Type == ledger.TypeChannelPolicy, value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, &readError{fmt.Errorf("reading input: %w", err)}
	}
	return events, bad, nil
}

// checkLine resolves a parsed event's listing (when it names one instead
// of its sku), validates it, and checks a listing event against the
// listings; it returns what is wrong as a code (a dead-letter reason, or
// listing_conflict) and a detail, or "". input is nil when no line so far
// needed the listings.
func checkLine(input *processors.ListingInput, ev *ledger.Event, line []byte) (code, detail string) {
	if input != nil {
		if err := input.Resolve(ev, lineChannel(ev, line)); err != nil {
			return ledger.ReasonUnresolvedListing.String(), err.Error()
		}
	}
	if reason, detail := ledger.Validate(ev); reason != ledger.ReasonNone {
		return reason.String(), detail
	}
	if input != nil {
		if err := input.Check(ev); err != nil {
			return "listing_conflict", err.Error()
		}
	}
	return "", ""
}

// lineChannel is the channel an event names: its channel field, or, for
// the types that have none (order_cancelled, hold_released, return), the
// line's "channel" member, which names the listing's channel and is not
// written.
func lineChannel(ev *ledger.Event, line []byte) string {
	if ev.Has&ledger.FieldChannel != 0 {
		return ev.Channel
	}
	var m struct {
		Channel string `json:"channel"`
	}
	_ = json.Unmarshal(line, &m) // a line ParseEventJSON read; a channel that is no string is none
	return m.Channel
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
