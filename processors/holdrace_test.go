package processors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestHoldLastUnitRace is the checkout API's promise: three processors of
// one group on one broker, a SKU with 50 units on the web channel, and 200
// clients asking at once for one unit each, spread over the three
// instances (most of them do not own the SKU). Exactly 50 are granted and
// 150 refused, the grants are the 50 units one by one (each grant's
// available is one less than another's), nothing is oversold, and a replay
// of the events topic holds the same 50 holds open.
func TestHoldLastUnitRace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const parts, units, clients = 4, 50, 200
	cl, err := e2etest.NewCluster("holdrace", parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := e2etest.ProduceLines(ctx, cl, parts, stockLines(map[string]int{"LAST": units})); err != nil {
		t.Fatal(err)
	}
	cfg := processors.DefaultHTTPConfig()
	cfg.MaxConcurrent = clients
	var urls []string
	var lives []*e2etest.Live
	for i := range 3 {
		l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), fmt.Sprint(i)), parts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Stop()
		lives = append(lives, l)
		urls = append(urls, serveAPI(t, l, listen(t), cfg).url)
	}
	waitSpread(t, ctx, lives, parts)
	waitStock(t, ctx, urls, "LAST", units)

	got := raceHolds(t, ctx, urls, clients, "LAST")
	granted := checkRace(t, got, units, clients)

	results, err := readHoldResults(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var onTopic []string
	for key, rs := range results {
		if rs[0].Status == ledger.HoldGranted {
			onTopic = append(onTopic, strings.TrimPrefix(key, "LAST/"))
		}
	}
	slices.Sort(onTopic)
	if !slices.Equal(onTopic, granted) {
		t.Errorf("granted on the hold-results topic: %d holds, answered granted: %d", len(onTopic), len(granted))
	}
	checkNoOversold(t, ctx, cl)
	if replayed := replayOpenHolds(t, ctx, cl, "LAST"); !slices.Equal(replayed, granted) {
		t.Errorf("a replay of the events topic holds %d holds open, the API granted %d:\nreplay %v\napi    %v", len(replayed), len(granted), replayed, granted)
	}
}

// waitSpread waits until every instance owns a partition and together
// they own all parts.
func waitSpread(t *testing.T, ctx context.Context, lives []*e2etest.Live, parts int) {
	t.Helper()
	for ctx.Err() == nil {
		owned, each := 0, true
		for _, l := range lives {
			n := len(l.P.Status().Partitions)
			owned += n
			each = each && n > 0
		}
		if each && owned == parts {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the partitions never spread over the instances")
}

// waitStock waits until one of the instances answers sku with available
// units on web (its owner has folded the stock).
func waitStock(t *testing.T, ctx context.Context, urls []string, sku string, available int64) {
	t.Helper()
	for ctx.Err() == nil {
		for _, u := range urls {
			resp, err := http.Get(u + "/v1/skus/" + sku)
			if err != nil {
				continue
			}
			var s processors.SKUJSON
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if resp.StatusCode == 200 && s.Channels["web"] == ledger.Qty(available) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no instance shows %s with %d available on web", sku, available)
}

// raceHolds has n clients ask at once for one unit of sku each, client i
// first on instance i mod len(urls). A client whose instance does not
// answer with a decision (refused connection, 503, 504) retries with the
// same hold_id on the next instance. It returns each hold's answer.
func raceHolds(t *testing.T, ctx context.Context, urls []string, n int, sku string) map[string]holdJSON {
	t.Helper()
	var mu sync.Mutex
	got := map[string]holdJSON{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	hc := &http.Client{Timeout: 20 * time.Second}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("race-%03d", i)
			body := holdBody(sku, id, 1, "")
			<-start
			for attempt := 0; ctx.Err() == nil; attempt++ {
				code, b := e2etest.PostHold(ctx, hc, urls[(i+attempt)%len(urls)], body)
				if code != http.StatusCreated && code != http.StatusConflict {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				var h holdJSON
				if err := json.Unmarshal(b, &h); err != nil || h.HoldID != id {
					t.Errorf("hold %s: %d %s", id, code, b)
				}
				mu.Lock()
				got[id] = h
				mu.Unlock()
				return
			}
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// checkRace checks the answers of a race (e2etest.CheckRace) and returns
// the granted hold ids, sorted.
func checkRace(t *testing.T, got map[string]holdJSON, units, clients int) []string {
	t.Helper()
	answers := make(map[string]e2etest.RaceAnswer, len(got))
	for id, h := range got {
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

// checkNoOversold reads the alerts topic: holds never oversell.
func checkNoOversold(t *testing.T, ctx context.Context, cl *e2etest.Cluster) {
	t.Helper()
	reg := schemas.NewRegistry()
	err := processors.Tail(ctx, cl.Brokers, cl.Topics().Alerts, processors.TailOptions{FromBeginning: true, ExitAtEnd: true},
		func(r *kgo.Record) error {
			var a ledger.Alert
			if err := reg.DecodeAlert(r.Value, &a); err != nil {
				return err
			}
			if a.Kind == ledger.AlertOversold {
				t.Errorf("oversold alert: %+v", a)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// replayOpenHolds replays the events topic into a scratch store and
// returns sku's open holds, sorted.
func replayOpenHolds(t *testing.T, ctx context.Context, cl *e2etest.Cluster, sku string) []string {
	t.Helper()
	acfg := audit.DefaultConfig()
	acfg.Brokers, acfg.Topic = cl.Brokers, cl.Topics().Events
	open, err := e2etest.ReplayOpenHolds(ctx, acfg, filepath.Join(t.TempDir(), "replay"), sku)
	if err != nil {
		t.Fatal(err)
	}
	return open
}
