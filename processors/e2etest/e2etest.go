// Package e2etest holds what stockledger's end-to-end tests share: the
// expected outputs of a stream computed by the independent spec model
// (ledger/specmodel), the stream's wire form, and readers that collect what
// a processor published from Kafka so the two can be compared.
package e2etest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// Cluster is where an end-to-end test runs: an in-process kfake broker, or
// the real Kafka named by STOCKLEDGER_TEST_BROKERS (make test-kafka), with
// topics and group names unique to the test so tests can share a broker.
type Cluster struct {
	Brokers []string
	Prefix  string // topic prefix
	Group   string
	Real    bool
	emb     *processors.Embedded
	dataDir string // kfake's log, so a restart keeps it
}

// Topics are the cluster's topic names.
func (c *Cluster) Topics() processors.Topics { return processors.TopicsWithPrefix(c.Prefix) }

// NewCluster starts kfake (partitions per topic) or points at the real
// broker. Close stops what it started.
func NewCluster(name string, partitions int32) (*Cluster, error) {
	unique := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	if b := os.Getenv("STOCKLEDGER_TEST_BROKERS"); b != "" {
		return &Cluster{Brokers: strings.Split(b, ","), Prefix: "t-" + unique, Group: "g-" + unique, Real: true}, nil
	}
	dir, err := os.MkdirTemp("", "kfake-")
	if err != nil {
		return nil, err
	}
	emb, err := processors.StartEmbedded("127.0.0.1:0", dir, partitions)
	if err != nil {
		return nil, err
	}
	return &Cluster{Brokers: []string{emb.Addr()}, Prefix: processors.DefaultTopicPrefix, Group: "stockledger", emb: emb, dataDir: dir}, nil
}

// Stop stops the broker (kfake: closes it, keeping its log; real Kafka:
// deploy/kafka/kafka.sh stop, named by STOCKLEDGER_KAFKA_SCRIPT).
func (c *Cluster) Stop() error {
	if c.Real {
		return c.script("stop")
	}
	c.emb.Close()
	return nil
}

// Start starts a stopped broker again on the same address with its log.
func (c *Cluster) Start() error {
	if c.Real {
		return c.script("start")
	}
	emb, err := processors.StartEmbedded(c.Brokers[0], c.dataDir, 4)
	if err != nil {
		return err
	}
	c.emb = emb
	return nil
}

// CanRestart reports whether Stop and Start work here (real Kafka needs
// the script and its directory).
func (c *Cluster) CanRestart() bool {
	return !c.Real || (os.Getenv("STOCKLEDGER_KAFKA_SCRIPT") != "" && os.Getenv("STOCKLEDGER_KAFKA_DIR") != "")
}

func (c *Cluster) script(cmd string) error {
	out, err := exec.Command(os.Getenv("STOCKLEDGER_KAFKA_SCRIPT"), cmd, "--dir", os.Getenv("STOCKLEDGER_KAFKA_DIR")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka.sh %s: %v: %s", cmd, err, out)
	}
	return nil
}

// Embedded is the kfake broker, or nil on real Kafka.
func (c *Cluster) Embedded() *processors.Embedded { return c.emb }

// Close stops the embedded broker, if any, and removes its log.
func (c *Cluster) Close() {
	if c.emb != nil {
		c.emb.Close()
	}
	if c.dataDir != "" {
		os.RemoveAll(c.dataDir)
	}
}

// WireEvent is one event as it goes on the events topic.
type WireEvent struct {
	SKU    string // record key (best effort for unparseable lines)
	Policy bool   // goes to every partition: a channel_policy or a clock event
	Raw    bool   // not Avro: the line's own bytes, which no decoder reads
	Value  []byte
}

// Wire encodes lines for the events topic: a line that parses becomes Avro
// (even when the ledger must refuse it); one that does not is sent as its
// raw bytes, which the processor cannot decode.
func Wire(lines [][]byte) ([]WireEvent, error) {
	out := make([]WireEvent, 0, len(lines))
	for _, line := range lines {
		ev, v, ok := encode(line)
		if !ok {
			var loose struct {
				SKU string `json:"sku"`
			}
			_ = json.Unmarshal(line, &loose)
			out = append(out, WireEvent{SKU: loose.SKU + "?", Raw: true, Value: line})
			continue
		}
		out = append(out, WireEvent{SKU: ev.SKU, Policy: ev.Type.Broadcast(), Value: v})
	}
	return out, nil
}

// encode returns the Avro form of line, or false when the line cannot be
// an Avro event (it does not parse, or lacks a field Avro requires).
func encode(line []byte) (*ledger.Event, []byte, bool) {
	ev := new(ledger.Event)
	if r, _ := schemas.ParseEventJSON(line, ev); r != ledger.ReasonNone {
		return nil, nil, false
	}
	v, err := schemas.EncodeEvent(nil, ev)
	if err != nil {
		return nil, nil, false
	}
	return ev, v, true
}

// Expected is what the spec says a stream produces.
type Expected struct {
	Model *specmodel.Model
	// Final: update key (UpdateKey: channel/sku, channel/sku/listing_sku)
	// -> the last available published.
	Final  map[string]int64
	Alerts map[string]int // keys.Alert -> count
	Holds  map[string]int // keys.HoldResult -> count
	Dead   map[string]int // event_id|reason -> count
}

// Expect folds lines through the independent model. Lines that do not
// parse are expected as undecodable dead letters without an event id,
// since on the wire they are not Avro.
func Expect(lines [][]byte) *Expected {
	m := specmodel.New()
	for _, l := range lines {
		m.Apply(l)
	}
	return ExpectModel(m)
}

// ExpectModel is Expect of a model its caller has folded (records with
// their placement, say).
func ExpectModel(m *specmodel.Model) *Expected {
	e := &Expected{Model: m, Final: modelFinal(m), Alerts: map[string]int{}, Holds: map[string]int{}, Dead: map[string]int{}}
	for _, a := range m.Alerts() {
		e.Alerts[keys.ModelAlert(&a)]++
	}
	for _, h := range m.HoldResults() {
		e.Holds[keys.ModelHoldResult(&h)]++
	}
	for _, d := range m.DeadLetters() {
		if _, _, ok := encode(d.Line); !ok {
			// On the wire these are the raw bytes: not Avro, or Avro
			// framing with a fingerprint nobody registered, or a
			// Confluent header (0x00, 4-byte id) with an id no schema
			// registry has.
			if (len(d.Line) >= 10 && d.Line[0] == 0xc3 && d.Line[1] == 0x01) || (len(d.Line) >= 5 && d.Line[0] == 0x00) {
				e.Dead["|unknown_schema"]++
			} else {
				e.Dead["|undecodable"]++
			}
			continue
		}
		e.Dead[d.EventID+"|"+d.Reason]++
	}
	return e
}

// Outputs is what a processor published.
type Outputs struct {
	Final        map[string]int64  // update key (UpdateKey) -> last available
	FinalVersion map[string]uint64 // update key -> last version
	Alerts       map[string]int
	Holds        map[string]int // keys.HoldResult -> count
	Dead         map[string]int
	Updates      int
	// Repeated counts updates published more than once (same key and version).
	Repeated int
	seen     map[string]struct{}
	// VersionsShrank lists keys (updates' and hold results') whose
	// versions went down (never allowed without crashes).
	VersionsShrank []string
	holdVersion    map[string]uint64 // sku/hold_id -> last version
}

// NewOutputs returns empty outputs.
func NewOutputs() *Outputs {
	return &Outputs{Final: map[string]int64{}, FinalVersion: map[string]uint64{}, Alerts: map[string]int{}, Holds: map[string]int{},
		Dead: map[string]int{}, seen: map[string]struct{}{}, holdVersion: map[string]uint64{}}
}

// AddUpdate records one update.
func (o *Outputs) AddUpdate(u *ledger.Update) {
	k := UpdateKey(u.Channel, u.SKU, u.ListingSKU)
	kv := k + "@" + fmt.Sprint(u.Version)
	if _, ok := o.seen[kv]; ok {
		o.Repeated++
	}
	o.seen[kv] = struct{}{}
	if v, ok := o.FinalVersion[k]; ok && u.Version < v {
		o.VersionsShrank = append(o.VersionsShrank, fmt.Sprintf("%s: %d after %d", k, u.Version, v))
	}
	o.Final[k] = int64(u.Available)
	o.FinalVersion[k] = u.Version
	o.Updates++
}

// ReadOutputs reads the default updates, alerts and dead-letter topics to
// their current ends.
func ReadOutputs(ctx context.Context, brokers []string, reg *schemas.Registry, opts ...kgo.Opt) (*Outputs, error) {
	return ReadTopics(ctx, brokers, processors.DefaultTopics(), reg, opts...)
}

// ReadTopics reads the updates, alerts, hold-results and dead-letter topics
// of t to their current ends.
func ReadTopics(ctx context.Context, brokers []string, t processors.Topics, reg *schemas.Registry, opts ...kgo.Opt) (*Outputs, error) {
	o := NewOutputs()
	tail := processors.TailOptions{FromBeginning: true, ExitAtEnd: true}
	err := processors.Tail(ctx, brokers, t.Updates, tail, func(r *kgo.Record) error {
		var u ledger.Update
		if err := reg.DecodeUpdate(r.Value, &u); err != nil {
			return err
		}
		o.AddUpdate(&u)
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	err = processors.Tail(ctx, brokers, t.Alerts, tail, func(r *kgo.Record) error {
		var a ledger.Alert
		if err := reg.DecodeAlert(r.Value, &a); err != nil {
			return err
		}
		o.Alerts[keys.Alert(&a)]++
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	if err := readHoldResults(ctx, brokers, t.HoldResults, reg, o, opts...); err != nil {
		return nil, err
	}
	err = processors.Tail(ctx, brokers, t.DeadLetters, tail, func(r *kgo.Record) error {
		var d schemas.DeadLetter
		if err := reg.DecodeDeadLetter(r.Value, &d); err != nil {
			return err
		}
		o.Dead[d.EventID+"|"+d.Reason.String()]++
		return nil
	}, opts...)
	return o, err
}

// Compare lists every difference between outputs and expectations. With
// repeats (after crashes) an alert or dead letter may appear more than
// once; without, counts must match exactly.
func Compare(exp *Expected, got *Outputs, repeats bool) []string {
	var diffs []string
	add := func(f string, a ...any) {
		if len(diffs) < 30 {
			diffs = append(diffs, fmt.Sprintf(f, a...))
		}
	}
	for k, v := range exp.Final {
		if g, ok := got.Final[k]; !ok || g != v {
			add("update %s: published %d (present %v), model %d", k, g, ok, v)
		}
	}
	for k, g := range got.Final {
		if _, ok := exp.Final[k]; !ok {
			add("update %s: published %d, model has no such key", k, g)
		}
	}
	cmp := func(what string, want, have map[string]int) {
		for k, n := range want {
			if h := have[k]; h == 0 || (!repeats && h != n) || h < n {
				add("%s %s: published %d, model %d", what, k, h, n)
			}
		}
		for k, h := range have {
			if want[k] == 0 {
				add("%s %s: published %d, model none", what, k, h)
			}
		}
	}
	cmp("alert", exp.Alerts, got.Alerts)
	cmp("hold result", exp.Holds, got.Holds)
	cmp("dead letter", exp.Dead, got.Dead)
	// After a crash, the outputs of the last batch can be published again
	// (a crash between Kafka's ack and the synced published mark), so an
	// older version can follow a newer one; consumers keep the highest
	// version. Without crashes versions only grow.
	if !repeats {
		for _, s := range got.VersionsShrank {
			add("version went down: %s", s)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// CompareSKUs compares the ledger's state of every SKU with the model's:
// version, unassigned, locations, and part 2's state (keys.DiffPart2).
func CompareSKUs(exp *Expected, get func(sku string) (ledger.SKU, bool, error)) []string {
	var diffs []string
	for _, name := range exp.Model.SKUs() {
		w, _ := exp.Model.SKU(name)
		s, found, err := get(name)
		if err != nil || !found {
			diffs = append(diffs, fmt.Sprintf("%s: not in the store (%v)", name, err))
			continue
		}
		if int64(s.Version) != w.Version || int64(s.Unassigned) != w.Unassigned {
			diffs = append(diffs, fmt.Sprintf("%s: version/unassigned %d/%d, model %d/%d", name, s.Version, s.Unassigned, w.Version, w.Unassigned))
		}
		for _, l := range s.Locations {
			if !l.Named {
				continue
			}
			got := specmodel.LocationView{OnHand: int64(l.OnHand), Reserved: int64(l.Reserved), Unavailable: int64(l.Unavailable),
				Incoming: int64(l.Incoming), SafetyStock: int64(l.SafetyStock), Available: int64(l.Available())}
			if wl := w.Locations[l.Code]; got != wl {
				diffs = append(diffs, fmt.Sprintf("%s@%s: %+v, model %+v", name, l.Code, got, wl))
			}
		}
		if d := keys.DiffPart2(&s, &w); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s: %s", name, d))
		}
		if len(diffs) > 30 {
			break
		}
	}
	return diffs
}

// Produce sends events in order through an EventProducer.
func Produce(ctx context.Context, p *processors.EventProducer, evs []WireEvent) error {
	for _, e := range evs {
		p.Produce(ctx, e.SKU, e.Policy, e.Value)
	}
	return p.Flush(ctx)
}

// WaitCaughtUp waits until next(partition) reaches the events topic's end
// offset on every partition.
func WaitCaughtUp(ctx context.Context, adm *kadm.Client, topic string, next func(p int32) (int64, bool)) error {
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			done := true
			ends.Each(func(l kadm.ListedOffset) {
				if n, ok := next(l.Partition); l.Offset > 0 && (!ok || n < l.Offset) {
					done = false
				}
			})
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the processor to catch up: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CheckAll reads what the processor published on c and compares it, and
// every SKU in st (partitions events partitions), with exp; it returns
// the outputs and every difference.
func CheckAll(ctx context.Context, c *Cluster, reg *schemas.Registry, exp *Expected, st *store.Store, partitions int32, repeats bool) (*Outputs, []string, error) {
	got, err := ReadTopics(ctx, c.Brokers, c.Topics(), reg)
	if err != nil {
		return nil, nil, err
	}
	diffs := Compare(exp, got, repeats)
	diffs = append(diffs, CompareSKUs(exp, StoreSKUs(st, partitions))...)
	return got, diffs, nil
}

// StoreSKUs reads SKU states from st, finding each SKU's partition as the
// producer does.
func StoreSKUs(st *store.Store, partitions int32) func(sku string) (ledger.SKU, bool, error) {
	return func(sku string) (ledger.SKU, bool, error) {
		var s ledger.SKU
		found, err := st.SKU(processors.PartitionOf(sku, partitions), sku, &s)
		return s, found, err
	}
}

// WaitStoreCaughtUp waits until st's next offsets reach the end of topic.
func WaitStoreCaughtUp(ctx context.Context, adm *kadm.Client, topic string, st *store.Store) error {
	return WaitCaughtUp(ctx, adm, topic, func(part int32) (int64, bool) {
		n, ok, _ := st.Offset(part)
		return n, ok
	})
}
