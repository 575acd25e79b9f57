package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestThreeInstances runs three `stockledger run` processes in one group,
// SIGKILLs one mid-stream and adds a fourth (with an empty store) later:
// partitions move, the new owners restore their state from the changelog
// and continue from the right offset, and the final result equals the
// model. The stream is part 2's mix (holds expiring on clock events in
// every partition: a moved partition's expiry index is rebuilt by its new
// owner); 200,000 events on real Kafka or with STOCKLEDGER_TEST_LARGE.
// A SKU asked of an instance that does not own it names the owner.
func TestThreeInstances(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (replay with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	n := 90_000
	switch {
	case os.Getenv("STOCKLEDGER_TEST_BROKERS") != "" || os.Getenv("STOCKLEDGER_TEST_LARGE") != "":
		n = 200_000 // the scale: make test-kafka, or on demand
	case testing.Short():
		n = 30_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	lines := gen.Stream(gen.Config{Seed: seed, SKUs: 800, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1,
		PolicyChanges: []int{n / 4, 3 * n / 4}, Part2: true, ClockEvery: 50}, n)
	cl, prod, wire := brokerAndProducer(ctx, t, lines)
	adm := kadm.NewClient(prod.Client())
	root := t.TempDir()
	dataOf := map[string]string{}
	start := func(name string) *child {
		dataOf[name] = filepath.Join(root, name)
		return startRun(t, name, cl, dataOf[name])
	}
	a, b, c := start("a"), start("b"), start("c")
	alive := []*child{a, b, c}
	owners := func() (map[int32]*child, map[int32]int64) {
		own, next := map[int32]*child{}, map[int32]int64{}
		for _, ch := range alive {
			st, err := ch.status()
			if err != nil {
				continue
			}
			for _, p := range st.Partitions {
				own[p.Partition], next[p.Partition] = ch, p.Next
			}
		}
		return own, next
	}
	waitSpread := func(what string, members int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			own, _ := owners()
			distinct := map[*child]bool{}
			for _, ch := range own {
				distinct[ch] = true
			}
			if len(own) == testPartitions && len(distinct) == min(members, testPartitions) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: partitions %v never spread over %d members\n%s", what, own, members, cl.describeGroup())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitSpread("start", 3)
	third := len(wire) / 3
	if err := e2etest.Produce(ctx, prod, wire[:third]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // mid-stream
	b.kill(t)
	alive = []*child{a, c}
	t.Log("killed b")
	if err := e2etest.Produce(ctx, prod, wire[third:2*third]); err != nil {
		t.Fatal(err)
	}
	waitSpread("after the kill", 2)
	d := start("d")
	alive = []*child{a, c, d}
	t.Log("started d")
	if err := e2etest.Produce(ctx, prod, wire[2*third:]); err != nil {
		t.Fatal(err)
	}
	waitSpread("after d joined", 3)

	// Caught up: every partition's owner has folded to the end.
	deadline := time.Now().Add(3 * time.Minute)
	var own map[int32]*child
	for {
		var next map[int32]int64
		own, next = owners()
		ends, err := cl.endOffsets(ctx, adm)
		done := err == nil && len(own) == testPartitions
		for p, e := range ends {
			done = done && next[p] == e
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never caught up: next %v, ends %v", next, ends)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Ask a non-owner for a SKU: 421 and the owner's address.
	sku := "SKU-000001"
	part := processors.PartitionOf(sku, testPartitions)
	owner := own[part]
	for _, ch := range alive {
		if ch == owner {
			continue
		}
		resp, err := http.Get(ch.url + "/v1/skus/" + sku)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Owner string `json:"owner"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest || "http://"+body.Owner != owner.url {
			t.Errorf("GET %s on non-owner %s: %d owner %q, want 421 and %s", sku, ch.name, resp.StatusCode, body.Owner, owner.url)
		}
		break
	}
	for _, ch := range alive {
		ch.terminate(t)
	}
	exp := e2etest.Expect(lines)
	reg := schemas.NewRegistry()
	got, err := e2etest.ReadTopics(ctx, []string{cl.brokers}, cl.topics, reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, df := range e2etest.Compare(exp, got, true) {
		t.Error(df)
	}
	// Each SKU's state from the store of its partition's last owner.
	stores := map[*child]*store.Store{}
	for _, ch := range alive {
		st, err := store.Open(filepath.Join(dataOf[ch.name], "ledger"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[ch] = st
	}
	for _, df := range e2etest.CompareSKUs(exp, func(sku string) (ledger.SKU, bool, error) {
		var s ledger.SKU
		p := processors.PartitionOf(sku, testPartitions)
		found, err := stores[own[p]].SKU(p, sku, &s)
		return s, found, err
	}) {
		t.Error(df)
	}
	restored := 0
	for _, ch := range alive {
		restored += strings.Count(ch.logTail(), "restored from the changelog")
	}
	t.Logf("%d events over 3 then 2 then 3 instances; partition restores logged: %d", n, restored)

}
