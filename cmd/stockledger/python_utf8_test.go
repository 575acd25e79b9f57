package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// decodeOutputsPy decodes every message of the topics named on its command
// line with the example's fastavro decoding, strict about UTF-8 as fastavro
// is by default, and prints each as a JSON line (original in base64).
const decodeOutputsPy = `
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import sku_history as ex
schemas = ex.load_schemas(ex.DEFAULT_SCHEMAS)
reader = ex.Reader(sys.argv[2])
try:
    for topic in sys.argv[3:]:
        for msg in reader.read(topic, range(reader.partitions(topic))):
            name, rec = ex.decode(schemas, msg.value())
            if rec is None:
                raise SystemExit(f"{topic}@{msg.partition()}:{msg.offset()}: not a stockledger output")
            if "original" in rec:
                rec["original"] = base64.b64encode(rec["original"]).decode()
            print(json.dumps({"topic": topic, "schema": name, "record": rec}, default=str))
finally:
    reader.close()
`

// pyOutput is a line of decodeOutputsPy.
type pyOutput struct {
	Topic  string         `json:"topic"`
	Schema string         `json:"schema"`
	Record map[string]any `json:"record"`
}

// utf8Events are the events of TestPythonDecodesInvalidUTF8DeadLetter: a
// channel policy, then on sku (a SKU whose partition is also that of the
// SKU PROD-\xff) two receipts applied and one whose event_id is not UTF-8,
// and a receipt of PROD-\xff; the last two are refused (neither is a code).
func utf8Events(t *testing.T, sku string) []e2etest.WireEvent {
	t.Helper()
	const at = `"occurred_at":"2026-11-22T10:00:00Z"`
	var out []e2etest.WireEvent
	for _, e := range []struct{ line, id, sku string }{
		{`{"event_id":"py-p1","type":"channel_policy",` + at + `,"channel":"web","locations":[],"buffer":0,"share_pct":100}`, "", ""},
		{`{"event_id":"py-r1","type":"receipt","sku":"` + sku + `",` + at + `,"location":"dc","qty":10}`, "", ""},
		{`{"event_id":"py-r2","type":"receipt","sku":"X",` + at + `,"location":"dc","qty":3}`, "", "PROD-\xff"},
		{`{"event_id":"X","type":"receipt","sku":"` + sku + `",` + at + `,"location":"dc","qty":4}`, "py-r3-\xfe", ""},
		{`{"event_id":"py-r4","type":"receipt","sku":"` + sku + `",` + at + `,"location":"dc","qty":5}`, "", ""},
	} {
		var ev ledger.Event
		if r, d := schemas.ParseEventJSON([]byte(e.line), &ev); r != ledger.ReasonNone {
			t.Fatalf("%s: %s %s", e.line, r, d)
		}
		// Bytes that are not UTF-8 cannot come from a JSON line: an Avro
		// producer writes them.
		if e.id != "" {
			ev.ID = e.id
		}
		if e.sku != "" {
			ev.SKU = e.sku
		}
		v, err := schemas.EncodeEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e2etest.WireEvent{SKU: ev.SKU, Policy: ev.Type == ledger.TypeChannelPolicy, Value: v})
	}
	return out
}

// TestPythonDecodesInvalidUTF8DeadLetter: an Avro event whose sku (or
// event_id) bytes are not UTF-8 is dead-lettered, and the dead letter
// decodes with fastavro, which refuses a string that is not UTF-8 (as Java
// does): its sku and event_id hold U+FFFD for each bad byte, its original
// the event's bytes exactly. The analysts' example then reads the history
// of a SKU whose partitions (events and dead letters) hold both refused
// events, as stockledger history does.
func TestPythonDecodesInvalidUTF8DeadLetter(t *testing.T) {
	python := pythonVenv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const badSKU = "PROD-\xff"
	sku := ""
	for i := 0; sku == ""; i++ {
		if s := fmt.Sprintf("PY-OK-%d", i); ledger.PartitionFor([]byte(s), auditPartitions) == ledger.PartitionFor([]byte(badSKU), auditPartitions) {
			sku = s
		}
	}
	events := utf8Events(t, sku)
	cl, err := e2etest.NewCluster("python-utf8", auditPartitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	p, err := processors.NewEventProducer(ctx, cl.Brokers, cl.Topics(), auditPartitions)
	if err != nil {
		t.Fatal(err)
	}
	err = e2etest.Produce(ctx, p, events)
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), auditPartitions)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	topics := cl.Topics()
	out := runPython(ctx, t, python, "-c", decodeOutputsPy, pythonExample, strings.Join(cl.Brokers, ","), topics.DeadLetters, topics.Updates, topics.Alerts)
	checkDecodedDeadLetters(t, readRows[pyOutput](t, out), topics.DeadLetters, map[string]e2etest.WireEvent{
		"sku": events[2], "event_id": events[3]})

	// The example's own reading of the SKU agrees with stockledger history.
	out = runPython(ctx, t, python, filepath.Join(pythonExample, "sku_history.py"),
		"--brokers", strings.Join(cl.Brokers, ","), "--topic-prefix", cl.Prefix, "--format", "jsonl", sku)
	stdout, errOut, code := inproc(ctx, "history", sku, "--format", "jsonl", "--brokers", strings.Join(cl.Brokers, ","), "--topic-prefix", cl.Prefix)
	if code != 0 {
		t.Fatalf("history %s: exit %d: %s", sku, code, errOut)
	}
	py, gorows := readRows[pyRow](t, out), readRows[goRow](t, stdout)
	var got, want []string
	for _, r := range py {
		id := "<none>"
		if r.EventID != nil {
			id = *r.EventID
		}
		got = append(got, fmt.Sprintf("%d@%d %s %s %s v%d", r.Partition, r.Offset, id, r.Outcome, r.Reason, r.Version))
	}
	for _, r := range gorows {
		want = append(want, fmt.Sprintf("%d@%d %s %s %s v%d", r.Partition, r.Offset, r.EventID, r.Outcome, r.Reason, r.Version))
	}
	// The rows are the SKU's three receipts (PROD-\xff's is not one).
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != 3 {
		t.Errorf("%s: sku_history.py rows\n%s\nstockledger history rows\n%s", sku, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func runPython(ctx context.Context, t *testing.T, python string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, python, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python %s: %v\n%s", args[0], err, stderr.String())
	}
	return string(out)
}

// checkDecodedDeadLetters checks that every output fastavro decoded holds
// valid UTF-8 text, and that for each of bad (field -> event) a dead letter
// holds the event's bytes whole and that field with each byte that is not
// UTF-8 as U+FFFD.
func checkDecodedDeadLetters(t *testing.T, outs []pyOutput, deadTopic string, bad map[string]e2etest.WireEvent) {
	t.Helper()
	for _, o := range outs {
		for k, v := range o.Record {
			if s, ok := v.(string); ok && !utf8.ValidString(s) {
				t.Errorf("%s %s: %q is not UTF-8", o.Topic, k, s)
			}
		}
	}
	for field, ev := range bad {
		var read ledger.Event
		if r, d, err := schemas.NewRegistry().DecodeEvent(ev.Value, &read); r != ledger.ReasonNone || err != nil {
			t.Fatalf("the %s event: %s %s (err %v)", field, r, d, err)
		}
		text := map[string]string{"sku": read.SKU, "event_id": read.ID}[field]
		want := string([]rune(text)) // U+FFFD for each byte that is not UTF-8
		found := false
		for _, o := range outs {
			if o.Topic != deadTopic || o.Record["original"] != base64.StdEncoding.EncodeToString(ev.Value) {
				continue
			}
			found = true
			if o.Record[field] != want {
				t.Errorf("dead letter of the %s event: %s %q, want %q", field, field, o.Record[field], want)
			}
		}
		if !found || utf8.ValidString(text) {
			t.Errorf("no dead letter holds the event whose %s %q is not UTF-8 (outputs: %v)", field, text, outs)
		}
	}
	t.Logf("fastavro decoded %d outputs", len(outs))
}
