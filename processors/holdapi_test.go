package processors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

// holdJSON is a hold result as the API answers it.
type holdJSON struct {
	Type         string  `json:"type"`
	HoldID       string  `json:"hold_id"`
	SKU          string  `json:"sku"`
	Channel      string  `json:"channel"`
	Location     *string `json:"location"`
	Status       string  `json:"status"`
	Requested    int64   `json:"requested"`
	Granted      int64   `json:"granted"`
	Available    int64   `json:"available"`
	ExpiresAt    string  `json:"expires_at"`
	Version      uint64  `json:"version"`
	CauseEventID string  `json:"cause_event_id"`
	OccurredAt   string  `json:"occurred_at"`
}

// stockLines are a web channel selling from every location and units of
// each SKU received at location dc, dated now.
func stockLines(units map[string]int) [][]byte {
	now := time.Now().UTC().Format(time.RFC3339)
	lines := [][]byte{[]byte(`{"event_id":"p-web","type":"channel_policy","occurred_at":"` + now + `","channel":"web","locations":[],"buffer":0,"share_pct":100}`)}
	for sku, n := range units {
		lines = append(lines, []byte(fmt.Sprintf(`{"event_id":"r-%s","type":"receipt","occurred_at":"%s","sku":%q,"location":"dc","qty":%d}`, sku, now, sku, n)))
	}
	return lines
}

func holdBody(sku, holdID string, qty int, extra string) []byte {
	return []byte(fmt.Sprintf(`{"sku":%q,"channel":"web","qty":%d,"ttl":"15m","hold_id":%q%s}`, sku, qty, holdID, extra))
}

func decodeHold(t *testing.T, b []byte) holdJSON {
	t.Helper()
	var h holdJSON
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("not a hold result: %v: %s", err, b)
	}
	return h
}

// TestHoldAPI places, retries, refuses, releases and expires holds through
// one live processor's API, every request and answer checked against the
// OpenAPI document, and the hold results checked against what the ledger
// published on the hold-results topic.
func TestHoldAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const parts = 4
	cl, err := e2etest.NewCluster("holdapi", parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	// FAR's partition gets a clock an hour ahead (below); TEE must be elsewhere.
	far := "FAR-1"
	for i := 2; processors.PartitionOf(far, parts) == processors.PartitionOf("TEE", parts); i++ {
		far = fmt.Sprintf("FAR-%d", i)
	}
	if err := e2etest.ProduceLines(ctx, cl, parts, stockLines(map[string]int{"TEE": 10})); err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), parts, func(c *processors.Config) {
		c.ClockInterval = 200 * time.Millisecond
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	const token = "hold-token"
	cfg := processors.DefaultHTTPConfig()
	cfg.Token = token
	a := serveAPI(t, l, ln, cfg)
	c := newConformance(t, a.url)
	post := func(body []byte, want int) []byte { return c.do("POST", a.url+"/v1/holds", token, body, want) }
	del := func(sku, id string, want int) []byte {
		return c.do("DELETE", a.url+"/v1/holds/"+url.PathEscape(sku)+"/"+url.PathEscape(id), token, nil, want)
	}
	check := func(what string, h holdJSON, status string, granted, available int64) {
		t.Helper()
		if h.Status != status || h.Granted != granted || h.Available != available {
			t.Errorf("%s: status %s granted %d available %d, want %s %d %d", what, h.Status, h.Granted, h.Available, status, granted, available)
		}
	}

	first := post(holdBody("TEE", "h1", 3, ""), 201)
	h1 := decodeHold(t, first)
	check("hold of 3 of 10", h1, "granted", 3, 7)
	if h1.CauseEventID != "hold/h1" || h1.HoldID != "h1" || h1.SKU != "TEE" || h1.Requested != 3 {
		t.Errorf("hold h1: %+v", h1)
	}
	if again := post(holdBody("TEE", "h1", 3, ""), 201); string(again) != string(first) {
		t.Errorf("retry with the same hold_id answered\n%s\nnot the first answer\n%s", again, first)
	}
	check("hold of 10 of 7", decodeHold(t, post(holdBody("TEE", "h2", 10, ""), 409)), "refused", 0, 7)
	check("partial hold of 10 of 7", decodeHold(t, post(holdBody("TEE", "h3", 10, `,"allow_partial":true`), 201)), "partial", 7, 0)
	check("release of h3", decodeHold(t, del("TEE", "h3", 200)), "released", 0, 7)
	check("release of h3 again", decodeHold(t, del("TEE", "h3", 200)), "released", 0, 7)
	check("release of refused h2", decodeHold(t, del("TEE", "h2", 200)), "refused", 0, 7)
	var nf struct{ Error, SKU, HoldID string }
	if err := json.Unmarshal(del("TEE", "no-such-hold", 404), &nf); err != nil || !strings.Contains(nf.Error, "unknown") {
		t.Errorf("release of an unknown hold: %+v (%v)", nf, err)
	}
	gen := decodeHold(t, post([]byte(`{"sku":"TEE","channel":"web","qty":1,"expires_at":"`+
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`","location":"dc"}`), 201))
	if gen.HoldID == "" || gen.Location == nil || *gen.Location != "dc" {
		t.Errorf("hold without a hold_id: %+v", gen)
	}
	check("release of the generated hold", decodeHold(t, del("TEE", gen.HoldID, 200)), "released", 0, 7)

	// Expiry by ttl: the owner's clock events pass it.
	check("hold with ttl 1s", decodeHold(t, post([]byte(`{"sku":"TEE","channel":"web","qty":2,"ttl":"1s","hold_id":"h4"}`), 201)), "granted", 2, 5)
	time.Sleep(2 * time.Second)
	check("release of an expired hold", decodeHold(t, del("TEE", "h4", 200)), "expired", 0, 7)

	// A hold its partition's clock has passed is refused as expired.
	if err := writeClock(ctx, cl, processors.PartitionOf(far, parts), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	check("hold behind the partition's clock", decodeHold(t, post(holdBody(far, "h5", 1, ""), 409)), "expired", 0, 0)

	holdAPIBadRequests(t, c, a.url, token)

	// A second instance whose watch starts now (no lookback) has seen none
	// of these results: a retry there is a duplicate event that publishes
	// nothing, answered once the group has folded it from the topic.
	cfg2 := cfg
	cfg2.Holds.Lookback = 0
	l2, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger2"), parts)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Stop()
	b := serveAPI(t, l2, listen(t), cfg2)
	cb := newConformance(t, b.url)
	if again := cb.do("POST", b.url+"/v1/holds", token, holdBody("TEE", "h1", 3, ""), 201); string(again) != string(first) {
		t.Errorf("retry on another instance answered\n%s\nnot the first answer\n%s", again, first)
	}
	check("release of h3 on another instance", decodeHold(t, cb.do("DELETE", b.url+"/v1/holds/TEE/h3", token, nil, 200)), "released", 0, 7)
	checkHoldResultsTopic(t, ctx, cl, map[string]string{"TEE/h1": "granted", "TEE/h2": "refused", "TEE/h3": "released", "TEE/h4": "expired", far + "/h5": "expired"})
	for _, m := range []struct {
		name, op, outcome string
		want              uint64
	}{
		{"stockledger_holds_requests_total", "hold", "granted", 4},
		{"stockledger_holds_requests_total", "hold", "refused", 1},
		{"stockledger_holds_requests_total", "release", "not_found", 1},
		{"stockledger_holds_requests_total", "hold", "bad_request", 16},
		{"stockledger_holds_round_trip_seconds", "release", "", 6},
	} {
		if got := metricCount(t, l.Gatherer, m.name, m.op, m.outcome); got != m.want {
			t.Errorf("%s{op=%s,outcome=%s}: %d, want %d", m.name, m.op, m.outcome, got, m.want)
		}
	}
}

// metricCount is a counter's value, or a histogram's count, of the series
// with labels op and (when not empty) outcome.
func metricCount(t *testing.T, g prometheus.Gatherer, name, op, outcome string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["op"] != op || (outcome != "" && labels["outcome"] != outcome) {
				continue
			}
			n += uint64(m.GetCounter().GetValue()) + m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// holdAPIBadRequests sends bodies that are not holds: each is 400 (422
// for a listing without a resolver) naming what is wrong, and nothing
// without the token.
func holdAPIBadRequests(t *testing.T, c *conformance, base, token string) {
	for _, bc := range []struct {
		body string
		code int
		want string
	}{
		{`not json`, 400, "invalid JSON"},
		{``, 400, "empty body"},
		{`{"sku":"TEE","channel":"web","qty":"3","ttl":"15m"}`, 400, "qty"},
		{`{"sku":"TEE","channel":"web","ttl":"15m"}`, 400, "missing qty"},
		{`{"sku":"TEE","channel":"web","qty":0,"ttl":"15m"}`, 400, "qty"},
		{`{"sku":"TEE","qty":1,"ttl":"15m"}`, 400, "missing channel"},
		{`{"channel":"web","qty":1,"ttl":"15m"}`, 400, "missing sku"},
		{`{"sku":"TEE","channel":"web","qty":1}`, 400, "ttl"},
		{`{"sku":"TEE","channel":"web","qty":1,"ttl":"soon"}`, 400, "ttl"},
		{`{"sku":"TEE","channel":"web","qty":1,"ttl":"200h"}`, 400, "ttl"},
		{`{"sku":"TEE","channel":"web","qty":1,"ttl":"1m","expires_at":"2030-01-01T00:00:00Z"}`, 400, "ttl"},
		{`{"sku":"TEE","channel":"web","qty":1,"expires_at":"tomorrow"}`, 400, "expires_at"},
		{`{"sku":"TEE","channel":"web","qty":1,"expires_at":"2001-01-01T00:00:00Z"}`, 400, "expires_at"},
		{`{"sku":"TEE","channel":"web","qty":1,"ttl":"1m","hold_id":"a/b"}`, 400, "hold_id"},
		{`{"sku":"TEE","channel":"web","qty":1,"ttl":"1m","location":" dc"}`, 400, "location"},
		{`{"sku":"TEE","channel":"web","qty":1,"ttl":"1m","colour":"red"}`, 400, "colour"},
		{`{"listing_sku":"TEE-6","channel":"web","qty":1,"ttl":"1m"}`, 422, "listing resolution not available"},
	} {
		got := c.doInvalid("POST", base+"/v1/holds", token, []byte(bc.body), bc.code)
		var e struct{ Error string }
		if err := json.Unmarshal(got, &e); err != nil || !strings.Contains(e.Error, bc.want) {
			t.Errorf("POST %s: error %q, want it to name %q", bc.body, e.Error, bc.want)
		}
	}
	c.doInvalid("DELETE", base+"/v1/holds/TEE/"+url.PathEscape(strings.Repeat("x", 129)), token, nil, 400)
	c.do("POST", base+"/v1/holds", "", holdBody("TEE", "h9", 1, ""), 401)
	c.do("POST", base+"/v1/holds", "wrong", holdBody("TEE", "h9", 1, ""), 401)
	c.do("DELETE", base+"/v1/holds/TEE/h1", "", nil, 401)
}

// writeClock writes a clock event at at into partition part, as an
// operator may.
func writeClock(ctx context.Context, cl *e2etest.Cluster, part int32, at time.Time) error {
	v, err := schemas.EncodeEvent(nil, processors.ClockEvent(part, at.UTC().Truncate(time.Millisecond)))
	if err != nil {
		return err
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer kc.Close()
	return kc.ProduceSync(ctx, &kgo.Record{Topic: cl.Topics().Events, Partition: part, Value: v}).FirstErr()
}

// readHoldResults reads the hold-results topic to its end: each key's
// results in order.
func readHoldResults(ctx context.Context, cl *e2etest.Cluster) (map[string][]ledger.HoldResult, error) {
	reg := schemas.NewRegistry()
	out := map[string][]ledger.HoldResult{}
	err := processors.Tail(ctx, cl.Brokers, cl.Topics().HoldResults, processors.TailOptions{FromBeginning: true, ExitAtEnd: true},
		func(r *kgo.Record) error {
			var h ledger.HoldResult
			if err := reg.DecodeHoldResult(r.Value, &h); err != nil {
				return err
			}
			out[string(r.Key)] = append(out[string(r.Key)], h)
			return nil
		})
	return out, err
}

// checkHoldResultsTopic checks each key's last result on the topic.
func checkHoldResultsTopic(t *testing.T, ctx context.Context, cl *e2etest.Cluster, last map[string]string) {
	t.Helper()
	got, err := readHoldResults(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for key, status := range last {
		rs := got[key]
		if len(rs) == 0 || rs[len(rs)-1].Status.String() != status {
			t.Errorf("hold-results topic, %s: %v, want last status %s", key, rs, status)
		}
	}
}
