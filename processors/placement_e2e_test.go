package processors_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// placedRecord is an event as a producer put it on the events topic.
type placedRecord struct {
	partition int32
	key       []byte // nil: no key
	value     []byte
}

// misplace writes a generated stream the way careless producers do: one
// SKU event in ten sits in another partition, or is keyed by something
// other than its sku, or has no key. It returns the records and the model
// folded over them with their placement (each channel_policy once, as the
// model folds one sequence; on the wire it goes to every partition).
func misplace(lines [][]byte, partitions int32, seed uint64) ([]placedRecord, *specmodel.Model, int) {
	r := rand.New(rand.NewPCG(seed, seed))
	m := specmodel.New()
	wire, _ := e2etest.Wire(lines)
	var out []placedRecord
	misplaced := 0
	for i, w := range wire {
		if w.Policy {
			for p := range partitions {
				out = append(out, placedRecord{partition: p, value: w.Value})
			}
			m.Apply(lines[i])
			continue
		}
		rec := placedRecord{partition: processors.PartitionOf(w.SKU, partitions), key: []byte(w.SKU), value: w.Value}
		if !w.Raw && r.IntN(10) == 0 {
			misplaced++
			switch r.IntN(4) {
			case 0: // librdkafka's default partitioner, or any other hash
				rec.partition = (rec.partition + 1 + r.Int32N(partitions-1)) % partitions
			case 1: // a key unlike the body's sku, in the sku's partition
				rec.key = []byte("key-of-" + w.SKU)
			case 2: // no key at all
				rec.key = nil
			case 3: // no key, and wherever a round-robin producer put it
				rec.key, rec.partition = nil, r.Int32N(partitions)
			}
		}
		out = append(out, rec)
		if w.Raw { // not Avro on the wire: undecodable wherever it sits
			m.Apply(lines[i])
			continue
		}
		m.ApplyRecord(specmodel.Record{Partition: rec.partition, Partitions: partitions, Key: rec.key, Value: lines[i]})
	}
	return out, m, misplaced
}

// TestEndToEndWrongPartition: records in the wrong partition, keyed by
// something else than their sku, or without a key are dead letters
// wrong_partition naming the partition their SKU belongs to, never a
// second state of the SKU: every final channel value, alert, dead letter
// and SKU equals the model's, which places records by the spec alone.
func TestEndToEndWrongPartition(t *testing.T) {
	const partitions = 4
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lines := gen.Stream(gen.Config{Seed: 15, SKUs: 60, DupPct: 4, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{2000}}, 6000)
	recs, m, misplaced := misplace(lines, partitions, 15)
	cl, err := e2etest.NewCluster("wrongpart", partitions)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), partitions)
	if err != nil {
		t.Fatal(err)
	}
	produceManual(ctx, t, cl, recs)
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	exp := e2etest.ExpectModel(m)
	got, diffs, err := e2etest.CheckAll(ctx, cl, schemas.NewRegistry(), exp, l.Store, partitions, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	checkWrongPartitionDetails(ctx, t, cl, m)
	checkReplayPlaces(ctx, t, cl, l, m)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := countReason(got.Dead, "wrong_partition"); n == 0 || misplaced == 0 {
		t.Fatalf("%d records misplaced, %d wrong_partition dead letters: the test placed nothing wrongly", misplaced, n)
	}
	t.Logf("%d of %d records misplaced; dead letters by event and reason agree with the model", misplaced, len(recs))
}

// produceManual writes recs to the partitions they name, in order.
func produceManual(ctx context.Context, t *testing.T, cl *e2etest.Cluster, recs []placedRecord) {
	t.Helper()
	pr, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...), kgo.DefaultProduceTopic(cl.Topics().Events),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	for _, r := range recs {
		pr.Produce(ctx, &kgo.Record{Partition: r.partition, Key: r.key, Value: r.value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("producing: %v", err)
			}
		})
	}
	if err := pr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

var belongsTo = regexp.MustCompile(`^belongs to partition (\d+)`)

// checkWrongPartitionDetails: each wrong_partition dead letter's detail
// names the partition the model says its SKU belongs to.
func checkWrongPartitionDetails(ctx context.Context, t *testing.T, cl *e2etest.Cluster, m *specmodel.Model) {
	t.Helper()
	want := map[string]int32{} // event_id -> partition (a retry names the same)
	for _, d := range m.DeadLetters() {
		if d.Reason == specmodel.ReasonWrongPartition && d.EventID != "" {
			want[d.EventID] = d.BelongsTo
		}
	}
	reg := schemas.NewRegistry()
	seen := 0
	err := processors.Tail(ctx, cl.Brokers, cl.Topics().DeadLetters, processors.TailOptions{FromBeginning: true, ExitAtEnd: true},
		func(r *kgo.Record) error {
			var d schemas.DeadLetter
			if err := reg.DecodeDeadLetter(r.Value, &d); err != nil {
				return err
			}
			if d.Reason.String() != "wrong_partition" || d.EventID == "" {
				return nil
			}
			seen++
			mm := belongsTo.FindStringSubmatch(d.Detail)
			if mm == nil || mm[1] != strconv.Itoa(int(want[d.EventID])) {
				return fmt.Errorf("dead letter %s: detail %q, want it to name partition %d", d.EventID, d.Detail, want[d.EventID])
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no wrong_partition dead letter with an event_id was read")
	}
}

// checkReplayPlaces: a replay of the topic (verify) places records as the
// live processor did: the same ledger, and the same dead letters by reason.
func checkReplayPlaces(ctx context.Context, t *testing.T, cl *e2etest.Cluster, l *e2etest.Live, m *specmodel.Model) {
	t.Helper()
	cfg := audit.DefaultConfig()
	cfg.Brokers, cfg.Topic = cl.Brokers, cl.Topics().Events
	res, err := audit.Verify(ctx, cfg, l.Store, filepath.Join(t.TempDir(), "scratch"), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Replay.Close()
	if !res.Match {
		t.Errorf("the replay differs from the live store: %+v", res.Partitions)
	}
	want := map[string]int64{}
	for _, d := range m.DeadLetters() {
		want[d.Reason]++
	}
	if got := res.Replay.Counts.Dead["wrong_partition"]; got != want["wrong_partition"] {
		t.Errorf("the replay counted %d wrong_partition dead letters, the model %d", got, want["wrong_partition"])
	}
}

func countReason(dead map[string]int, reason string) int {
	n := 0
	for k, c := range dead {
		if len(k) > len(reason) && k[len(k)-len(reason)-1:] == "|"+reason {
			n += c
		}
	}
	return n
}
