package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

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
	events, badLines, err := processors.ReadEvents(in, fr, listings.view, 0)
	var rerr *processors.ReadError
	if errors.As(err, &rerr) {
		return exitError{2, err}
	}
	if err != nil {
		return explainKafkaErr(err)
	}
	for _, b := range badLines {
		fmt.Fprintf(stderr, "line %d: %s: %s\n", b.Line, b.Reason, b.Detail)
	}
	bad := len(badLines)
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
func sendEvents(ctx context.Context, p *processors.EventProducer, events []processors.EncodedEvent, bad int, stdout io.Writer) error {
	policies := 0
	for _, e := range events {
		if e.Policy {
			policies++
		}
	}
	if err := p.SendAll(ctx, events); err != nil {
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
