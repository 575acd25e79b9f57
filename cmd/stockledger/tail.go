package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
)

func tailCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tail", "tail updates|alerts|dead-letters|hold-results|listings|events [--brokers a,b] [--from-beginning] [--exit-at-end] [--sku S] [--channel C] [--partition P] [--offset O]", stderr)
	brokers := fs.String("brokers", envOr("STOCKLEDGER_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated")
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters, PREFIX.hold-results, PREFIX.listings")
	var o processors.TailOptions
	fs.BoolVar(&o.FromBeginning, "from-beginning", false, "start at the beginning of the topic (default: only new records)")
	fs.BoolVar(&o.ExitAtEnd, "exit-at-end", false, "exit once the records present at start have been printed")
	var f tailFilter
	fs.StringVar(&f.sku, "sku", "", "print only the records of this SKU")
	fs.StringVar(&f.channel, "channel", "", "print only the records of this channel")
	partition := fs.Int("partition", -1, "read only this partition (-1: every one)")
	offset := fs.Int64("offset", -1, "start each partition read at this offset (-1: at its start with --from-beginning, else at its end)")
	kf := addKafkaFlags(fs)
	var src processors.SchemaRegistryConfig
	addSchemaRegistryFlags(fs, &src)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o.OnePartition, o.Partition = *partition >= 0, int32(*partition)
	o.AtOffset, o.Offset = *offset >= 0, *offset
	kopts, err := kf.connect(ctx, splitList(*brokers))
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitError{2, fmt.Errorf("tail: want one of %s", tailStreams)}
	}
	reg, err := src.Schemas()
	if err != nil {
		return exitError{2, err}
	}
	topic, ok := tailTopic(processors.TopicsWithPrefix(*topicPrefix), pos[0])
	if !ok {
		fs.Usage()
		return exitError{2, fmt.Errorf("tail: unknown stream %q (want %s)", pos[0], tailStreams)}
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
		if !f.keeps(buf) {
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

const tailStreams = "updates, alerts, dead-letters, hold-results, listings or events"

// tailTopic is the topic of a stream tail names.
func tailTopic(topics processors.Topics, stream string) (string, bool) {
	switch stream {
	case "updates":
		return topics.Updates, true
	case "alerts":
		return topics.Alerts, true
	case "dead-letters":
		return topics.DeadLetters, true
	case "hold-results":
		return topics.HoldResults, true
	case "listings":
		return topics.Listings, true
	case "events":
		return topics.Events, true
	}
	return "", false
}

// tailFilter keeps the records of one SKU and/or channel ("": any).
type tailFilter struct{ sku, channel string }

// keeps reports whether the record printed as line (its JSON form) passes.
func (f tailFilter) keeps(line []byte) bool {
	if f.sku == "" && f.channel == "" {
		return true
	}
	var m struct {
		SKU     string `json:"sku"`
		Channel string `json:"channel"`
	}
	if json.Unmarshal(line, &m) != nil {
		return false
	}
	return (f.sku == "" || m.SKU == f.sku) && (f.channel == "" || m.Channel == f.channel)
}
