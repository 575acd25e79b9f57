package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/console"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// What the console tests share: a live processor on a test cluster with
// the console served as `stockledger run` serves it (console.Handler
// around the processor's HTTPHandler, NewHTTPServer's limits), and a few
// SKUs written through POST /v1/events.

const (
	testPartitions = 4
	testToken      = "console-test-token"
)

// fixture is a live processor and its cluster.
type fixture struct {
	cl   *e2etest.Cluster
	live *e2etest.Live
	addr string // the advertised HTTP address: the open server's
	// open serves without a token, locked with testToken.
	open, locked *server
	base         time.Time // the events' first occurred_at
}

// server is one HTTP server of the processor, console included.
type server struct {
	url string
	srv *http.Server
	con *console.Console
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startFixture starts a processor on a new test cluster, serves it twice
// (open, locked) and waits until it owns every partition.
func startFixture(ctx context.Context, t *testing.T, name string) *fixture {
	t.Helper()
	cl, err := e2etest.NewCluster(name, testPartitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ln := listen(t)
	f := &fixture{cl: cl, addr: ln.Addr().String(), base: time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)}
	f.live = startLive(ctx, t, cl, "a", f.addr)
	f.open = f.serve(t, ln, "")
	f.locked = f.serve(t, listen(t), testToken)
	for !f.live.P.Ready() {
		if ctx.Err() != nil {
			t.Fatal("the processor never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return f
}

// startLive starts a processor of cl's group with its store in dir,
// advertising addr.
func startLive(ctx context.Context, t *testing.T, cl *e2etest.Cluster, dir, addr string) *e2etest.Live {
	t.Helper()
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), dir, "ledger"), testPartitions,
		func(c *processors.Config) { c.AdvertiseHTTP = addr })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Stop(); err != nil {
			t.Errorf("stopping the processor: %v", err)
		}
	})
	return l
}

// serve serves f's processor, console included, on ln with token; opts
// change the HTTP config.
func (f *fixture) serve(t *testing.T, ln net.Listener, token string, opts ...func(*processors.HTTPConfig)) *server {
	t.Helper()
	return serveLive(t, f.live, f.cl, ln, token, opts...)
}

func serveLive(t *testing.T, l *e2etest.Live, cl *e2etest.Cluster, ln net.Listener, token string, opts ...func(*processors.HTTPConfig)) *server {
	t.Helper()
	cfg := processors.DefaultHTTPConfig()
	cfg.Token = token
	for _, o := range opts {
		o(&cfg)
	}
	acfg := audit.DefaultConfig()
	acfg.Brokers, acfg.Topic = cl.Brokers, cl.Topics().Events
	cfg.History = audit.HistoryFunc(acfg)
	ccfg := console.ConfigFrom(cfg)
	ccfg.PollInterval = 100 * time.Millisecond // a test waits for updates
	con, err := console.New(l.P, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := processors.NewHTTPServer(con.Handler(l.P.HTTPHandler(l.Gatherer, cfg)), cfg)
	srv.RegisterOnShutdown(con.Close)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &server{url: "http://" + ln.Addr().String(), srv: srv, con: con}
}

// at is the fixture's base time plus min minutes, as occurred_at.
func (f *fixture) at(min int) string {
	return f.base.Add(time.Duration(min) * time.Minute).Format(time.RFC3339)
}

// seed writes the test's SKUs: three channels, two locations, a listing,
// a hold, open orders (one without a location) and a few events spread
// over event time, for the history.
func (f *fixture) seed(ctx context.Context, t *testing.T) {
	t.Helper()
	expires := time.Now().UTC().Add(45 * time.Minute).Format(time.RFC3339)
	lines := []string{
		`{"event_id":"p-web","type":"channel_policy","occurred_at":"` + f.at(0) + `","channel":"web","locations":[],"buffer":0,"share_pct":100}`,
		`{"event_id":"p-amz","type":"channel_policy","occurred_at":"` + f.at(0) + `","channel":"amazon","locations":["dc-east"],"buffer":2,"share_pct":100}`,
		`{"event_id":"p-pos","type":"channel_policy","occurred_at":"` + f.at(0) + `","channel":"pos","locations":["store-soho"],"buffer":0,"share_pct":100}`,
	}
	add := func(min int, id, rest string) {
		lines = append(lines, `{"event_id":"`+id+`","occurred_at":"`+f.at(min)+`",`+rest+`}`)
	}
	for i, sku := range []string{"TEE-RED-M", "TEE-RED-L", "TEE-BLK-M", "MUG-LOGO"} {
		add(1, sku+"-r1", `"type":"receipt","sku":"`+sku+`","location":"dc-east","qty":`+fmt.Sprint(40+10*i))
		add(2, sku+"-r2", `"type":"receipt","sku":"`+sku+`","location":"store-soho","qty":`+fmt.Sprint(12+i))
	}
	const m = `"sku":"TEE-RED-M"`
	add(5, "m-l1", `"type":"listing",`+m+`,"channel":"web","listing_sku":"TEE-RED-M-3PK","units":3`)
	add(9, "m-o1", `"type":"order",`+m+`,"channel":"web","order_id":"W-1001","qty":2,"location":"dc-east"`)
	add(14, "m-o2", `"type":"order",`+m+`,"channel":"amazon","order_id":"A-2002","qty":3`)
	add(20, "m-h1", `"type":"hold",`+m+`,"hold_id":"H-77","channel":"web","qty":4,"expires_at":"`+expires+`"`)
	add(31, "m-s1", `"type":"pos_sale",`+m+`,"channel":"pos","location":"store-soho","qty":2`)
	add(44, "m-r3", `"type":"receipt",`+m+`,"location":"dc-east","qty":24`)
	add(52, "m-o3", `"type":"order",`+m+`,"channel":"web","order_id":"W-1002","qty":5,"location":"dc-east"`)
	f.write(ctx, t, lines...)
}

// write posts lines to POST /v1/events and waits until the processor has
// folded them.
func (f *fixture) write(ctx context.Context, t *testing.T, lines ...string) {
	t.Helper()
	body := strings.Join(lines, "\n") + "\n"
	req, err := http.NewRequestWithContext(ctx, "POST", f.locked.url+"/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/events: %d %s", resp.StatusCode, got)
	}
	if err := f.live.WaitCaughtUp(ctx, f.cl); err != nil {
		t.Fatal(err)
	}
}

// getJSON reads an API path of the locked server into v.
func (f *fixture) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest("GET", f.locked.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}

// skuPath is a SKU's path below /v1/ or the console's root.
func skuPath(sku string) string { return "/skus/" + url.PathEscape(sku) }

// skuValues is what a SKU page's data-v cells must show for state s, as
// the API gives it: the console's one source of each number.
func skuValues(s processors.SKUJSON) map[string]string {
	out := map[string]string{"version": fmt.Sprint(s.Version), "unassigned": fmt.Sprint(s.Unassigned)}
	var onHand, avail int64
	for _, l := range s.Locations {
		for field, v := range map[string]int64{"on_hand": int64(l.OnHand), "reserved": int64(l.Reserved), "unavailable": int64(l.Unavailable),
			"incoming": int64(l.Incoming), "safety_stock": int64(l.SafetyStock), "available": int64(l.Available)} {
			out["loc/"+l.Location+"/"+field] = fmt.Sprint(v)
		}
		onHand += int64(l.OnHand)
		avail += int64(l.Available)
	}
	out["total/on_hand"], out["total/available"] = fmt.Sprint(onHand), fmt.Sprint(avail)
	for ch, v := range s.Channels {
		out["ch/"+ch+"/available"] = fmt.Sprint(v)
		out["ch/"+ch+"/unassigned"] = fmt.Sprint(s.UnassignedByChannel[ch])
	}
	for ch, v := range s.UnassignedByChannel {
		if _, ok := s.Channels[ch]; !ok {
			out["ch/"+ch+"/available"], out["ch/"+ch+"/unassigned"] = "0", fmt.Sprint(v)
		}
	}
	for _, l := range s.Listings {
		out["listing/"+l.Channel+"/"+l.ListingSKU+"/units"] = fmt.Sprint(l.Units)
		out["listing/"+l.Channel+"/"+l.ListingSKU+"/available"] = fmt.Sprint(l.Available)
	}
	for _, h := range s.OpenHolds {
		out["hold/"+h.HoldID+"/granted"] = fmt.Sprint(h.Granted)
	}
	for _, o := range s.OpenOrders {
		out["order/"+o.OrderID+"/open"] = fmt.Sprint(o.Open)
	}
	return out
}

// plain drops the thousands separators a page writes numbers with.
func plain(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), ",", "") }

// diffValues lists the keys where got and want differ.
func diffValues(got, want map[string]string) []string {
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok || plain(g) != w {
			diffs = append(diffs, fmt.Sprintf("%s: page %q, API %q", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: page %q, not in the API", k, g))
		}
	}
	return diffs
}

// get fetches a console path without following redirects.
func get(t *testing.T, u string, cookie *http.Cookie) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b.String()
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
