package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestPythonProducerPlacement writes events with a real third-party client
// (confluent-kafka, librdkafka) through the example producer: first with
// the partitioner the README tells producers to use (murmur2_random, Kafka's
// Java default), then with librdkafka's default (consistent_random, crc32).
// The processor must fold the first and dead-letter every event of the
// second that librdkafka put where its SKU does not belong
// (wrong_partition): the outputs and SKUs equal the model fed each record
// where the broker says it landed.
func TestPythonProducerPlacement(t *testing.T) {
	python := pythonVenv(t)
	const partitions = 8
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("pyplace", partitions)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), partitions)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	right := []string{`{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}`}
	var wrong []string
	for i := range 16 {
		right = append(right, fmt.Sprintf(`{"event_id":"a-%d","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"PY-%02d","location":"dc","qty":5}`, i, i))
		wrong = append(wrong, fmt.Sprintf(`{"event_id":"b-%d","type":"receipt","occurred_at":"2026-11-27T10:01:00Z","sku":"PY-%02d","location":"dc","qty":10}`, i, i))
	}
	for _, run := range []struct {
		partitioner string
		lines       []string
	}{{"murmur2_random", right}, {"consistent_random", wrong}} {
		cmd := exec.CommandContext(ctx, python, filepath.Join(pythonExample, "produce_events.py"),
			"--brokers", strings.Join(cl.Brokers, ","), "--topic-prefix", cl.Prefix, "--partitioner", run.partitioner)
		cmd.Stdin = strings.NewReader(strings.Join(run.lines, "\n") + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("produce_events.py --partitioner %s: %v\n%s", run.partitioner, err, out)
		}
	}
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	m := modelOfTopic(ctx, t, cl, partitions, append(right, wrong...))
	wrongOnes := 0
	for _, d := range m.DeadLetters() {
		if d.Reason != specmodel.ReasonWrongPartition {
			continue
		}
		if !strings.HasPrefix(d.EventID, "b-") {
			t.Errorf("%s: murmur2_random put it in the wrong partition (model: belongs to %d)", d.EventID, d.BelongsTo)
		}
		wrongOnes++
	}
	if wrongOnes == 0 {
		t.Fatal("librdkafka's default partitioner placed every SKU as Kafka's does: the test shows nothing")
	}
	_, diffs, err := e2etest.CheckAll(ctx, cl, schemas.NewRegistry(), e2etest.ExpectModel(m), l.Store, partitions, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	t.Logf("librdkafka's default partitioner misplaced %d of 16 SKUs; each is a wrong_partition dead letter", wrongOnes)
}

// modelOfTopic folds lines (by event_id) through the model in the order
// given, each placed where the events topic holds it: its partition and
// key as the broker has them, not as anyone computed them.
func modelOfTopic(ctx context.Context, t *testing.T, cl *e2etest.Cluster, partitions int32, lines []string) *specmodel.Model {
	t.Helper()
	where := map[string]specmodel.Record{}
	dec := schemas.NewRegistry().NewDecoder(schemas.DecoderConfig{})
	err := processors.Tail(ctx, cl.Brokers, cl.Topics().Events, processors.TailOptions{FromBeginning: true, ExitAtEnd: true},
		func(r *kgo.Record) error {
			var ev ledger.Event
			if reason, detail, err := dec.Decode(r.Value, &ev); reason != ledger.ReasonNone || err != nil {
				return fmt.Errorf("partition %d offset %d: %s: %s (err %v)", r.Partition, r.Offset, reason, detail, err)
			}
			where[ev.ID] = specmodel.Record{Partition: r.Partition, Partitions: partitions, Key: r.Key}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	m := specmodel.New()
	for _, line := range lines {
		var ev ledger.Event
		if reason, detail := schemas.ParseEventJSON([]byte(line), &ev); reason != ledger.ReasonNone {
			t.Fatalf("%s: %s", line, detail)
		}
		rec, ok := where[ev.ID]
		if !ok {
			t.Fatalf("event %s is not on the events topic", ev.ID)
		}
		rec.Value = []byte(line)
		m.ApplyRecord(rec)
	}
	return m
}
