package audit_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// TestBacktestLivePoliciesReproduceOversold: a backtest whose policies are
// the ones the history really ran with turns no order away, and its
// oversold orders per channel, in the actual and the backtest column, are
// exactly the oversold alerts the live processor published.
func TestBacktestLivePoliciesReproduceOversold(t *testing.T) {
	n := 30_000
	if testing.Short() {
		n = 8_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := newCluster(t, "backtest")
	g := gen.Config{Seed: 5, SKUs: 300, DupPct: 3, RefusePct: 3, InvalidPct: 2, Zipf: 1.1}
	lines := gen.Stream(g, n)
	if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines); err != nil {
		t.Fatal(err)
	}
	liveRun(ctx, t, cl, t.TempDir())
	published, err := e2etest.ReadTopics(ctx, cl.Brokers, cl.Topics(), schemas.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for key, count := range published.Alerts {
		f := strings.Split(key, "|")
		if f[0] == "oversold" {
			want[f[3]] += int64(count)
		}
	}
	// The live policies: the generator's opening channel_policy events.
	var file bytes.Buffer
	for _, l := range lines[:len(gen.New(g).Config().Channels)] {
		if !bytes.Contains(l, []byte(`"channel_policy"`)) {
			t.Fatalf("not a policy: %s", l)
		}
		file.Write(append(l, '\n'))
	}
	policies, err := audit.ParsePolicies(&file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Backtest(ctx, auditConfig(cl), policies, audit.Stop{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var oversold int64
	for _, c := range res.Channels {
		got[c.Channel] = c.ActualOversold
		oversold += c.ActualOversold
		if c.BacktestOversold != c.ActualOversold || c.TurnedAway != 0 || c.UnitsWithheld != 0 || c.Actual != c.Backtest {
			t.Errorf("%+v: the live policies must reproduce history", c)
		}
	}
	for c, w := range want {
		if got[c] != w {
			t.Errorf("channel %s: %d oversold orders, published %d oversold alerts", c, got[c], w)
		}
	}
	for c, g := range got {
		if g != 0 && want[c] == 0 {
			t.Errorf("channel %s: %d oversold orders, none published", c, g)
		}
	}
	if oversold < 50 {
		t.Fatalf("only %d oversold orders: the history does not test much", oversold)
	}
	t.Logf("%d oversold orders reproduced: %v", oversold, got)
}

// TestBacktestTurnsAwayOrders checks the counterfactual on a history small
// enough to work out by hand (ledger/DECISIONS.md, Backtests).
func TestBacktestTurnsAwayOrders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, "backtest-hand")
	at := `"occurred_at":"2026-11-27T10:00:00Z"`
	lines := [][]byte{
		[]byte(`{"event_id":"p-web","type":"channel_policy",` + at + `,"channel":"web","locations":[],"buffer":0,"share_pct":100}`),
		[]byte(`{"event_id":"p-pos","type":"channel_policy",` + at + `,"channel":"pos","locations":[],"buffer":0,"share_pct":100}`),
		[]byte(`{"event_id":"r1","type":"receipt","sku":"A",` + at + `,"location":"dc","qty":10}`),
		// History: web offers 10 and takes W1 (6). Backtest: web offers
		// 10-5 = 5, fewer than asked and fewer than history offered:
		// turned away, 6 units withheld.
		[]byte(`{"event_id":"o1","type":"order","sku":"A",` + at + `,"channel":"web","order_id":"W1","qty":6,"location":"dc"}`),
		// A retry of o1: turned away with it.
		[]byte(`{"event_id":"o1","type":"order","sku":"A",` + at + `,"channel":"web","order_id":"W1","qty":6,"location":"dc"}`),
		// History: web offers 4 and takes 6 anyway (oversold, sellable -2).
		// Backtest: without W1, web offers 10-5 = 5, not less than history's 4: taken, sellable 4.
		[]byte(`{"event_id":"o2","type":"order","sku":"A",` + at + `,"channel":"web","order_id":"W2","qty":6,"location":"dc"}`),
		// W1 ships in history; in the backtest it never existed.
		[]byte(`{"event_id":"s1","type":"shipment","sku":"A",` + at + `,"location":"dc","qty":6,"order_id":"W1"}`),
		// History: on_hand 4, reserved 6: a store sale of 1 is oversold
		// (sellable -3). Backtest: on_hand 10, reserved 6: not oversold.
		// Store sales are never turned away.
		[]byte(`{"event_id":"ps1","type":"pos_sale","sku":"A",` + at + `,"channel":"pos","location":"dc","qty":1}`),
	}
	if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines); err != nil {
		t.Fatal(err)
	}
	policies, err := audit.ParsePolicies(strings.NewReader(`# bigger web buffer
{"channel":"web","locations":[],"buffer":5,"share_pct":100}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Backtest(ctx, auditConfig(cl), policies, audit.Stop{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]audit.ChannelOutcome{
		"web": {Channel: "web", Sales: 2, ActualOversold: 1, BacktestOversold: 0, TurnedAway: 1, UnitsWithheld: 6,
			Actual: "all locations, buffer 0, share 100%, no cap", Backtest: "all locations, buffer 5, share 100%, no cap"},
		"pos": {Channel: "pos", Sales: 1, ActualOversold: 1, BacktestOversold: 0,
			Actual: "all locations, buffer 0, share 100%, no cap", Backtest: "all locations, buffer 0, share 100%, no cap"},
	}
	if len(res.Channels) != len(want) {
		t.Fatalf("channels %+v", res.Channels)
	}
	for _, c := range res.Channels {
		if c != want[c.Channel] {
			t.Errorf("got  %+v\nwant %+v", c, want[c.Channel])
		}
	}
}

// TestParsePoliciesRefusesInvalidUTF8: a policy file line that is not
// UTF-8, in a value or in a key, is refused naming the line, not read with
// U+FFFD in place of its bytes (a channel "web\xff" would become another
// channel's policy; a key with a bad byte would be ignored).
func TestParsePoliciesRefusesInvalidUTF8(t *testing.T) {
	for _, line := range []string{
		`{"channel":"web` + "\xff" + `","locations":[],"buffer":0,"share_pct":100}`,
		`{"channel":"web","locations":[],"buffer":0,"share_pct":100,"max_qty` + "\xfe" + `":5}`,
	} {
		_, err := audit.ParsePolicies(strings.NewReader("# ok\n" + line + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%q: err %v, want line 2 refused as not UTF-8", line, err)
		}
	}
}
