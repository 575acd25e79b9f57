package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// TestSchemaRegistryCLI runs the commands in schema registry mode, set
// only through STOCKLEDGER_SCHEMA_REGISTRY_URL: produce writes Confluent-
// framed events a third party reads by id, run folds them, tail prints
// outputs that match the model, history and verify read the events topic
// through the registry; without the registry, tail names the problem.
// The registry is the real one named by STOCKLEDGER_TEST_REGISTRY_URL
// (make test-kafka: Apicurio), else franz-go's srfake.
func TestSchemaRegistryCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	regURL, realRegistry, stopRegistry := e2etest.SchemaRegistry()
	defer stopRegistry()
	t.Logf("schema registry %s (real: %v)", regURL, realRegistry)
	t.Setenv("STOCKLEDGER_SCHEMA_REGISTRY_URL", regURL)
	cl := startBroker(t)
	dir := t.TempDir()

	var lines [][]byte
	for _, l := range gen.Stream(gen.Config{Seed: 11, SKUs: 150, DupPct: 3, RefusePct: 3, Zipf: 1.1, PolicyChanges: []int{2500}}, 5000) {
		if !bytes.Contains(l, []byte(`"reason":"noop"`)) { // produce refuses those (see TestProduceTailCLI)
			lines = append(lines, l)
		}
	}
	eventsFile := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(eventsFile, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--brokers", cl.brokers, "--topic-prefix", cl.prefix}
	if out, errOut, code := cli(ctx, t, nil, append([]string{"produce", "--partitions", strconv.Itoa(testPartitions), eventsFile}, base...)...); code != 0 {
		t.Fatalf("produce: exit %d\n%s%s", code, out, errOut)
	}
	// Every event is Confluent framed, and a third party reads it by id.
	tp := &e2etest.ThirdParty{URL: regURL}
	events := 0
	err := processors.Tail(ctx, []string{cl.brokers}, cl.topics.Events, processors.TailOptions{FromBeginning: true, ExitAtEnd: true}, func(r *kgo.Record) error {
		m, _, err := tp.Decode(r.Value)
		if err == nil && m["event_id"] == nil {
			t.Errorf("events@%d: no event_id in %v", r.Offset, m)
		}
		events++
		return err
	})
	if err != nil || events < len(lines) {
		t.Fatalf("events topic: %d records read by the third party (%v)", events, err)
	}

	data := filepath.Join(dir, "data")
	run := startRun(t, "run", cl, data)
	waitCaughtUp(ctx, t, run, cl.admin(t))
	run.terminate(t)

	exp := e2etest.Expect(lines)
	got := map[string]int64{}
	out, errOut, code := cli(ctx, t, nil, append([]string{"tail", "updates", "--from-beginning", "--exit-at-end"}, base...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("tail updates: exit %d\n%s", code, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var u struct {
			Channel, SKU string
			Available    int64
		}
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			t.Fatalf("tail updates: %q: %v", sc.Text(), err)
		}
		got[u.Channel+"/"+u.SKU] = u.Available
	}
	if len(got) != len(exp.Final) {
		t.Errorf("tail updates: %d keys, model %d", len(got), len(exp.Final))
	}
	for k, v := range exp.Final {
		if got[k] != v {
			t.Errorf("%s: tail says %d, model %d", k, got[k], v)
		}
	}

	sku := exp.Model.SKUs()[0]
	out, errOut, code = cli(ctx, t, nil, append([]string{"history", sku, "--format", "jsonl"}, base...)...)
	if code != 0 || !strings.Contains(out, `"sku":"`+sku+`"`) {
		t.Errorf("history %s: exit %d\n%s%s", sku, code, out, errOut)
	} else {
		w, _ := exp.Model.SKU(sku)
		rows := strings.Split(strings.TrimSpace(out), "\n")
		var last struct{ Version int64 }
		_ = json.Unmarshal([]byte(rows[len(rows)-1]), &last)
		if last.Version != w.Version {
			t.Errorf("history %s: last version %d, model %d", sku, last.Version, w.Version)
		}
	}
	if out, errOut, code := cli(ctx, t, nil, append([]string{"verify", "--data", data}, base...)...); code != 0 {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}

	// Without the registry the outputs cannot be read, and tail says why.
	os.Unsetenv("STOCKLEDGER_SCHEMA_REGISTRY_URL")
	_, errOut, _ = cli(ctx, t, nil, append([]string{"tail", "alerts", "--from-beginning", "--exit-at-end"}, base...)...)
	if !strings.Contains(errOut, "no schema registry is configured") {
		t.Errorf("tail without a registry: stderr %q", errOut[:min(len(errOut), 300)])
	}
	t.Logf("%d events, %d keys; %d schemas fetched by the third party", len(lines), len(exp.Final), tp.Fetches)
}
