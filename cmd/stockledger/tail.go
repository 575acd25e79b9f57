package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
)

func tailCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tail", "tail updates|alerts|dead-letters|hold-results|listings [--brokers a,b] [--from-beginning] [--exit-at-end]", stderr)
	brokers := fs.String("brokers", envOr("STOCKLEDGER_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated")
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters, PREFIX.hold-results, PREFIX.listings")
	var o processors.TailOptions
	fs.BoolVar(&o.FromBeginning, "from-beginning", false, "start at the beginning of the topic (default: only new records)")
	fs.BoolVar(&o.ExitAtEnd, "exit-at-end", false, "exit once the records present at start have been printed")
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
		return exitError{2, fmt.Errorf("tail: want one of updates, alerts, dead-letters, hold-results, listings")}
	}
	reg, err := src.Schemas()
	if err != nil {
		return exitError{2, err}
	}
	topics := processors.TopicsWithPrefix(*topicPrefix)
	var topic string
	switch pos[0] {
	case "updates":
		topic = topics.Updates
	case "alerts":
		topic = topics.Alerts
	case "dead-letters":
		topic = topics.DeadLetters
	case "hold-results":
		topic = topics.HoldResults
	case "listings":
		topic = topics.Listings
	default:
		fs.Usage()
		return exitError{2, fmt.Errorf("tail: unknown stream %q (want updates, alerts, dead-letters, hold-results or listings)", pos[0])}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	var buf []byte
	err = processors.Tail(ctx, splitList(*brokers), topic, o, func(r *kgo.Record) error {
		var err error
		buf, err = reg.AppendMessageJSON(buf[:0], r.Value)
		if err != nil {
			fmt.Fprintf(stderr, "%s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
			return nil
		}
		buf = append(buf, '\n')
		_, err = w.Write(buf)
		if !o.ExitAtEnd {
			w.Flush()
		}
		return err
	}, kopts...)
	return explainKafkaErr(err)
}
