package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// holdResult is the part of a hold result the tests read.
type holdResult struct {
	HoldID    string `json:"hold_id"`
	Status    string `json:"status"`
	Granted   int64  `json:"granted"`
	Available int64  `json:"available"`
}

// produceStock writes a web channel selling from every location and units
// of each SKU received at dc.
func produceStock(t *testing.T, ctx context.Context, cl *cluster, units map[string]int) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	lines := [][]byte{[]byte(`{"event_id":"p-web","type":"channel_policy","occurred_at":"` + now + `","channel":"web","locations":[],"buffer":0,"share_pct":100}`)}
	for sku, n := range units {
		lines = append(lines, []byte(fmt.Sprintf(`{"event_id":"r-%s","type":"receipt","occurred_at":"%s","sku":%q,"location":"dc","qty":%d}`, sku, now, sku, n)))
	}
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := processors.NewEventProducer(ctx, strings.Split(cl.brokers, ","), cl.topics, testPartitions, cl.opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := e2etest.Produce(ctx, prod, wire); err != nil {
		t.Fatal(err)
	}
}

// waitStock waits until one of the children answers sku with available
// units on web.
func waitStock(t *testing.T, ctx context.Context, children []*child, sku string, available int) {
	t.Helper()
	for ctx.Err() == nil {
		for _, c := range children {
			resp, err := httpClient.Get(c.url + "/v1/skus/" + sku)
			if err != nil {
				continue
			}
			var s struct{ Channels map[string]int }
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if resp.StatusCode == 200 && s.Channels["web"] == available {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no instance shows %s with %d available on web", sku, available)
}

// TestHoldCLI: `stockledger hold` and `hold release` against a running
// processor print the hold result as one JSON line and exit 0 for
// granted, partial and released, 1 for refused and an unknown hold, 2 for
// usage errors.
func TestHoldCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := startBroker(t)
	produceStock(t, ctx, cl, map[string]int{"TEE": 5})
	a := startRun(t, "a", cl, filepath.Join(t.TempDir(), "a"))
	waitStock(t, ctx, []*child{a}, "TEE", 5)
	hold := func(args ...string) (holdResult, string, int) {
		t.Helper()
		cmd := []string{"hold"}
		if len(args) > 0 && args[0] == "release" {
			cmd, args = []string{"hold", "release"}, args[1:]
		}
		out, errOut, code := cli(ctx, t, nil, append(append(cmd, "--http", a.url), args...)...)
		var h holdResult
		if out != "" && (strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &h) != nil) {
			t.Errorf("hold %v printed %q, want one JSON line", args, out)
		}
		return h, out + errOut, code
	}
	want := func(what string, h holdResult, code int, status string, granted, available int64, wantCode int) {
		t.Helper()
		if h.Status != status || h.Granted != granted || h.Available != available || code != wantCode {
			t.Errorf("%s: %+v exit %d, want %s granted %d available %d exit %d", what, h, code, status, granted, available, wantCode)
		}
	}
	h, _, code := hold("--sku", "TEE", "--channel", "web", "--qty", "3", "--ttl", "15m", "--hold-id", "c1")
	want("hold 3 of 5", h, code, "granted", 3, 2, 0)
	h, _, code = hold("--sku", "TEE", "--channel", "web", "--qty", "3", "--ttl", "15m", "--hold-id", "c1")
	want("the same hold again", h, code, "granted", 3, 2, 0)
	h, _, code = hold("--sku", "TEE", "--channel", "web", "--qty", "3", "--ttl", "15m", "--hold-id", "c2")
	want("hold 3 of 2", h, code, "refused", 0, 2, 1)
	h, _, code = hold("--sku", "TEE", "--channel", "web", "--qty", "3", "--ttl", "15m", "--hold-id", "c3", "--allow-partial", "--location", "dc")
	want("partial hold 3 of 2", h, code, "partial", 2, 0, 0)
	h, _, code = hold("release", "--sku", "TEE", "--hold-id", "c1")
	want("release c1", h, code, "released", 0, 3, 0)
	h, _, code = hold("release", "--sku", "TEE", "--hold-id", "c2")
	want("release of refused c2: its refusal", h, code, "refused", 0, 2, 1)
	if _, out, code := hold("release", "--sku", "TEE", "--hold-id", "nope"); code != 1 || !strings.Contains(out, "404") {
		t.Errorf("release of an unknown hold: exit %d, want 1: %s", code, out)
	}
	// tail hold-results prints every result, one JSON line each; results
	// are keyed sku/hold_id, so only each hold's own keep their order.
	out, errOut, code := cli(ctx, t, nil, "tail", "hold-results", "--brokers", cl.brokers, "--topic-prefix", cl.prefix, "--from-beginning", "--exit-at-end")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r holdResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Errorf("tail hold-results: %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %d", r.HoldID, r.Status, r.Granted))
	}
	slices.SortStableFunc(got, func(a, b string) int { return strings.Compare(strings.Fields(a)[0], strings.Fields(b)[0]) })
	if w := []string{"c1 granted 3", "c1 released 0", "c2 refused 0", "c3 partial 2"}; code != 0 || strings.Join(got, ",") != strings.Join(w, ",") {
		t.Errorf("tail hold-results: exit %d, results %v, want %v (%s)", code, got, w, errOut)
	}
	for _, args := range [][]string{
		{"--sku", "TEE", "--channel", "web", "--ttl", "15m"}, // no --qty: the API's 400
		{"--sku", "TEE", "--channel", "web", "--qty", "1"},   // no --ttl
		{"--sku", "TEE", "--qty", "x"},
		{"release", "--sku", "TEE"},
		{"extra-arg", "--sku", "TEE"},
	} {
		if _, out, code := hold(args...); code != 2 {
			t.Errorf("hold %v: exit %d, want 2: %s", args, code, out)
		}
	}
}

// TestHoldRaceKill is the last-unit race with a crash: three `stockledger
// run` processes, a SKU with 50 units on web, 200 clients asking at once
// for one unit each, and one process, chosen at random, SIGKILLed in the
// middle. Clients whose instance died retry with the same hold_id on
// another one. Every client gets a decision, exactly 50 are granted, the
// grants are the units one by one, asking again anywhere gives each
// client the same answer, nothing is oversold, and a replay of the events
// topic holds the same 50 holds open.
func TestHoldRaceKill(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (replay with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const units, clients = 50, 200
	cl := startBroker(t)
	produceStock(t, ctx, cl, map[string]int{"LAST": units})
	root := t.TempDir()
	var children []*child
	for _, name := range []string{"a", "b", "c"} {
		children = append(children, startRun(t, name, cl, filepath.Join(root, name), "--http-max-concurrent", "256"))
	}
	waitOwners(t, ctx, children)
	waitStock(t, ctx, children, "LAST", units)
	victim := children[rand.New(rand.NewPCG(seed, 0)).IntN(len(children))]
	part := processors.PartitionOf("LAST", testPartitions)
	st, _ := victim.status()
	owner := false
	for _, p := range st.Partitions {
		owner = owner || p.Partition == part
	}
	t.Logf("killing %s mid-race (owns the SKU's partition: %v)", victim.name, owner)

	var answered atomic.Int32
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for answered.Load() < clients/5 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		victim.kill(t)
	}()
	got := raceClients(ctx, children, clients, &answered)
	<-killed
	granted := checkRaceAnswers(t, got, units, clients)
	alive := slices.DeleteFunc(slices.Clone(children), func(c *child) bool { return c == victim })
	askAgain(t, ctx, alive, got)
	checkNoOversoldCLI(t, ctx, cl)
	if replayed := replayOpenHoldsCLI(t, ctx, cl, "LAST"); !slices.Equal(replayed, granted) {
		t.Errorf("a replay of the events topic holds %d holds open, the API granted %d", len(replayed), len(granted))
	}
}

// waitOwners waits until every child owns a partition and together they
// own them all.
func waitOwners(t *testing.T, ctx context.Context, children []*child) {
	t.Helper()
	for ctx.Err() == nil {
		owned, each := 0, true
		for _, c := range children {
			st, err := c.status()
			owned += len(st.Partitions)
			each = each && err == nil && len(st.Partitions) > 0
		}
		if each && owned == testPartitions {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the partitions never spread over the instances")
}

// raceClients has n clients ask at once for one unit of LAST each, client
// i first on child i mod len; a client without a decision (no connection,
// 503, 504) asks the next child with the same hold_id. It returns each
// client's answer, the body as received.
func raceClients(ctx context.Context, children []*child, n int, answered *atomic.Int32) map[string][]byte {
	var mu sync.Mutex
	got := map[string][]byte{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	hc := &http.Client{Timeout: 20 * time.Second}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("race-%03d", i)
			body := []byte(`{"sku":"LAST","channel":"web","qty":1,"ttl":"15m","hold_id":"` + id + `"}`)
			<-start
			for attempt := 0; ctx.Err() == nil; attempt++ {
				code, b := e2etest.PostHold(ctx, hc, children[(i+attempt)%len(children)].url, body)
				if code == http.StatusCreated || code == http.StatusConflict {
					mu.Lock()
					got[id] = b
					mu.Unlock()
					answered.Add(1)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// checkRaceAnswers checks the decisions of a race (e2etest.CheckRace),
// each one JSON hold result of its hold, and returns the granted hold ids,
// sorted.
func checkRaceAnswers(t *testing.T, got map[string][]byte, units, clients int) []string {
	t.Helper()
	answers := make(map[string]e2etest.RaceAnswer, len(got))
	for id, b := range got {
		var h holdResult
		if err := json.Unmarshal(b, &h); err != nil || h.HoldID != id {
			t.Errorf("hold %s: %s", id, b)
		}
		answers[id] = e2etest.RaceAnswer{Status: h.Status, Available: h.Available}
	}
	if len(answers) != clients {
		t.Fatalf("%d of %d clients got a decision", len(answers), clients)
	}
	granted, problems := e2etest.CheckRace(answers, units, clients)
	for _, p := range problems {
		t.Error(p)
	}
	return granted
}

// askAgain posts every hold again, spread over the survivors: the answer
// must be the first, byte for byte.
func askAgain(t *testing.T, ctx context.Context, alive []*child, got map[string][]byte) {
	t.Helper()
	hc := &http.Client{Timeout: 20 * time.Second}
	i := 0
	for id, first := range got {
		i++
		body := []byte(`{"sku":"LAST","channel":"web","qty":1,"ttl":"15m","hold_id":"` + id + `"}`)
		code, again := e2etest.PostHold(ctx, hc, alive[i%len(alive)].url, body)
		if (code != http.StatusCreated && code != http.StatusConflict) || !bytes.Equal(again, first) {
			t.Errorf("hold %s asked again: %d %s, first answer %s", id, code, again, first)
		}
	}
}

// checkNoOversoldCLI reads the alerts topic: holds never oversell.
func checkNoOversoldCLI(t *testing.T, ctx context.Context, cl *cluster) {
	t.Helper()
	reg := schemas.NewRegistry()
	err := processors.Tail(ctx, strings.Split(cl.brokers, ","), cl.topics.Alerts, processors.TailOptions{FromBeginning: true, ExitAtEnd: true},
		func(r *kgo.Record) error {
			var a ledger.Alert
			if err := reg.DecodeAlert(r.Value, &a); err != nil {
				return err
			}
			if a.Kind == ledger.AlertOversold {
				t.Errorf("oversold alert: %+v", a)
			}
			return nil
		}, cl.opts...)
	if err != nil {
		t.Fatal(err)
	}
}

// replayOpenHoldsCLI replays the events topic and returns sku's open
// holds, sorted.
func replayOpenHoldsCLI(t *testing.T, ctx context.Context, cl *cluster, sku string) []string {
	t.Helper()
	acfg := audit.DefaultConfig()
	acfg.Brokers, acfg.Topic, acfg.ClientOpts = strings.Split(cl.brokers, ","), cl.topics.Events, cl.opts
	open, err := e2etest.ReplayOpenHolds(ctx, acfg, filepath.Join(t.TempDir(), "replay"), sku)
	if err != nil {
		t.Fatal(err)
	}
	return open
}
