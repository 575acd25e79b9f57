package processors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// apiServer is a processor's HTTP API served as `stockledger run` serves
// it: a real listener, NewHTTPServer's limits and timeouts.
type apiServer struct {
	url  string
	addr string
	srv  *http.Server
}

func serveAPI(t *testing.T, l *e2etest.Live, ln net.Listener, cfg processors.HTTPConfig) *apiServer {
	t.Helper()
	srv := processors.NewHTTPServer(l.P.HTTPHandler(l.Gatherer, cfg), cfg)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &apiServer{url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), srv: srv}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// conformance sends requests to a live server and checks each request and
// response against the OpenAPI document, every status included.
type conformance struct {
	t      *testing.T
	router routers.Router
	seen   map[string]bool // "METHOD /path/template" exercised
}

func newConformance(t *testing.T, serverURL string) *conformance {
	t.Helper()
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(processors.OpenAPI)
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	// POST /v1/events's body is JSON Lines: checked as text here (each
	// line is the ledger's to judge).
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.FileBodyDecoder)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, router: router, seen: map[string]bool{}}
}

// do sends the request, validates both sides against the document, checks
// the status and returns the body.
func (c *conformance) do(method, url, token string, body []byte, wantStatus int) []byte {
	c.t.Helper()
	return c.send(method, url, token, body, wantStatus, true)
}

// doInvalid sends a request the API refuses (a bad body, a parameter out
// of range; the document cannot say everything the API checks, so the
// request is not validated) and checks the answer against the document.
func (c *conformance) doInvalid(method, url, token string, body []byte, wantStatus int) []byte {
	c.t.Helper()
	return c.send(method, url, token, body, wantStatus, false)
}

func (c *conformance) send(method, url, token string, body []byte, wantStatus int, conforms bool) []byte {
	c.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	switch {
	case body == nil:
		req.Body = http.NoBody
	case strings.Contains(url, "/v1/events"):
		req.Header.Set("Content-Type", "application/x-ndjson")
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: not in the document: %v", method, url, err)
	}
	c.seen[method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && conforms {
		c.t.Errorf("%s %s: request does not conform: %v", method, url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		c.t.Errorf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, wantStatus, got)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: in.Options}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s: %d response does not conform: %v\n%s", method, url, resp.StatusCode, err, got)
	}
	return got
}

// TestOpenAPIConformance runs two processors of one group on a test
// cluster and checks every /v1/ path and method of the OpenAPI document
// against the live server, with its errors: 400, 401 (no token, wrong
// token), 404, 413, 421 (the SKU's owner is the other instance). It also
// checks the probes and /metrics stay open with a token set.
func TestOpenAPIConformance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const parts = 4
	cl, err := e2etest.NewCluster("openapi", parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	lines := gen.Stream(gen.Config{Seed: 11, SKUs: 60, DupPct: 2, RefusePct: 2, InvalidPct: 1}, 3000)
	if err := e2etest.ProduceLines(ctx, cl, parts, lines); err != nil {
		t.Fatal(err)
	}
	exp := e2etest.Expect(lines)
	ln1, ln2 := listen(t), listen(t)
	advertise := func(ln net.Listener) func(*processors.Config) {
		return func(c *processors.Config) { c.AdvertiseHTTP = ln.Addr().String() }
	}
	dir := t.TempDir()
	l1, err := e2etest.StartLive(ctx, cl, filepath.Join(dir, "a", "ledger"), parts, advertise(ln1))
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Stop()
	if err := l1.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	const token = "s3cret-token"
	cfg := processors.DefaultHTTPConfig()
	cfg.Token = token
	cfg.Ingest.MaxBodyBytes, cfg.Ingest.MaxLines = 1<<20, 100
	acfg := audit.DefaultConfig()
	acfg.Brokers, acfg.Topic = cl.Brokers, cl.Topics().Events
	cfg.History = audit.HistoryFunc(acfg)
	a := serveAPI(t, l1, ln1, cfg)
	c := newConformance(t, a.url)

	var known string
	for _, name := range exp.Model.SKUs() {
		if w, _ := exp.Model.SKU(name); len(w.Locations) > 0 {
			known = name
			break
		}
	}
	var doc processors.SKUJSON
	if err := json.Unmarshal(c.do("GET", a.url+"/v1/skus/"+url.PathEscape(known), token, nil, 200), &doc); err != nil || doc.SKU != known {
		t.Errorf("GET /v1/skus/%s: %+v (%v)", known, doc, err)
	}
	c.do("GET", a.url+"/v1/skus/NO-SUCH-SKU", token, nil, 404)
	checkSKUPages(t, c, a.url, token, exp.Model.SKUs())
	checkHistory(t, c, a.url, token, known, exp)
	c.doInvalid("GET", a.url+"/v1/skus?limit=0", token, nil, 400)
	c.do("GET", a.url+"/v1/skus/"+url.PathEscape(" LEADING-SPACE"), token, nil, 400)
	c.do("GET", a.url+"/v1/status", token, nil, 200)
	var cp struct{ Path string }
	if err := json.Unmarshal(c.do("POST", a.url+"/v1/checkpoint", token, nil, 200), &cp); err != nil || cp.Path == "" {
		t.Errorf("POST /v1/checkpoint: %+v (%v)", cp, err)
	}
	os.RemoveAll(cp.Path)
	c.do("POST", a.url+"/v1/checkpoint", token, bytes.Repeat([]byte("x"), int(cfg.MaxBodyBytes)+1), 413)
	if got := c.do("GET", a.url+"/v1/openapi.yaml", token, nil, 200); !bytes.Equal(got, processors.OpenAPI) {
		t.Error("GET /v1/openapi.yaml does not serve openapi.yaml")
	}

	// The checkout API: a hold on a channel that has no policy (the
	// generated stream's channels are not known here) is decided by the
	// defaults, and released.
	hold := []byte(`{"sku":` + strconv.Quote(known) + `,"channel":"openapi-test","qty":1000000,"ttl":"15m","hold_id":"oa-1","allow_partial":true}`)
	var decision struct{ Status string }
	if err := json.Unmarshal(c.do("POST", a.url+"/v1/holds", token, hold, 201), &decision); err != nil || decision.Status != "partial" {
		t.Errorf("POST /v1/holds: %+v (%v), want partial", decision, err)
	}
	c.do("POST", a.url+"/v1/holds", token, []byte(`{"sku":`+strconv.Quote(known)+`,"channel":"openapi-test","qty":1000000,"ttl":"15m"}`), 409)
	c.doInvalid("POST", a.url+"/v1/holds", token, []byte(`{"sku":"X","qty":1}`), 400)
	c.doInvalid("POST", a.url+"/v1/holds", token, []byte(`{"listing_sku":"X","channel":"web","qty":1,"ttl":"1m"}`), 422)
	c.doInvalid("POST", a.url+"/v1/holds", token, bytes.Repeat([]byte("x"), int(cfg.MaxBodyBytes)+1), 413)
	c.do("DELETE", a.url+"/v1/holds/"+url.PathEscape(known)+"/oa-1", token, nil, 200)
	c.do("DELETE", a.url+"/v1/holds/"+url.PathEscape(known)+"/oa-unknown", token, nil, 404)
	c.do("DELETE", a.url+"/v1/holds/"+url.PathEscape(" LEADING-SPACE")+"/oa-1", token, nil, 400)
	c.do("POST", a.url+"/v1/holds", "", hold, 401)
	c.do("DELETE", a.url+"/v1/holds/"+url.PathEscape(known)+"/oa-1", "", nil, 401)

	// Ingest: a good line and a bad one are refused whole, the good one
	// written with partial=true; an empty body, too many lines or bytes.
	good := []byte(`{"event_id":"oa-r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":` + strconv.Quote(known) + `,"location":"dc","qty":1}` + "\n")
	mixed := append(slices.Clip(good), []byte(`{"event_id":"oa-bad","type":"receipt"}`+"\n")...)
	c.do("POST", a.url+"/v1/events", token, mixed, 422)
	c.do("POST", a.url+"/v1/events?partial=true", token, mixed, 200)
	c.do("POST", a.url+"/v1/events", token, good, 200)
	c.do("POST", a.url+"/v1/events", token, []byte("\n"), 400)
	c.do("POST", a.url+"/v1/events", "", good, 401)
	c.do("POST", a.url+"/v1/events", token, bytes.Repeat(good, cfg.Ingest.MaxLines+1), 413)
	c.do("POST", a.url+"/v1/events", token, bytes.Repeat([]byte(" "), int(cfg.Ingest.MaxBodyBytes)+1), 413)

	// The token: missing or wrong is 401 on every /v1/ path; right is 200.
	for _, path := range []string{"/v1/status", "/v1/skus/" + url.PathEscape(known), "/v1/openapi.yaml"} {
		c.do("GET", a.url+path, "", nil, 401)
		c.do("GET", a.url+path, "wrong-token", nil, 401)
		c.do("GET", a.url+path, token+"x", nil, 401)
		c.do("GET", a.url+path, token, nil, 200)
	}
	c.do("POST", a.url+"/v1/checkpoint", "", nil, 401)
	if left, _ := os.ReadDir(filepath.Join(dir, "a", "checkpoints")); len(left) != 0 {
		t.Errorf("a refused checkpoint request made a checkpoint: %v", left)
	}
	// Probes and metrics are open.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(a.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s without a token: %d, want 200", path, resp.StatusCode)
		}
	}
	// Headers over MaxHeaderBytes are refused by the server.
	req, _ := http.NewRequest("GET", a.url+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Padding", strings.Repeat("p", 2*cfg.MaxHeaderBytes))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %v %v, want 431", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	// A second instance joins: some SKUs now belong to it, and the first
	// answers 421 naming it.
	l2, err := e2etest.StartLive(ctx, cl, filepath.Join(dir, "b", "ledger"), parts, advertise(ln2))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Stop()
	b := serveAPI(t, l2, ln2, cfg)
	var foreign string
	for foreign == "" {
		if ctx.Err() != nil {
			t.Fatal("the second instance never got a partition")
		}
		time.Sleep(50 * time.Millisecond)
		for _, name := range exp.Model.SKUs() {
			part := l1.P.PartitionOf(name)
			if l2.P.Owns(part) && !l1.P.Owns(part) && l1.P.Owner(ctx, part) == b.addr {
				foreign = name
				break
			}
		}
	}
	var mis struct {
		Owner     string `json:"owner"`
		Partition int32  `json:"partition"`
	}
	if err := json.Unmarshal(c.do("GET", a.url+"/v1/skus/"+url.PathEscape(foreign), token, nil, 421), &mis); err != nil || mis.Owner != b.addr {
		t.Errorf("421 for %s names owner %q (%v), want %q", foreign, mis.Owner, err, b.addr)
	}

	doc3, _ := openapi3.NewLoader().LoadFromData(processors.OpenAPI)
	for path, item := range doc3.Paths.Map() {
		for method := range item.Operations() {
			if !c.seen[method+" "+path] {
				t.Errorf("%s %s is in the document but was not exercised", method, path)
			}
		}
	}
}

// checkSKUPages reads GET /v1/skus page by page, with and without a prefix,
// and checks it lists exactly the model's SKUs (the instance owns every
// partition), each once and in order.
func checkSKUPages(t *testing.T, c *conformance, base, token string, want []string) {
	t.Helper()
	for _, prefix := range []string{"", want[len(want)/2][:len(want[0])-1]} {
		var names []string
		after := ""
		for {
			var page processors.SKUList
			u := base + "/v1/skus?limit=7&prefix=" + url.QueryEscape(prefix) + "&after=" + url.QueryEscape(after)
			if err := json.Unmarshal(c.do("GET", u, token, nil, 200), &page); err != nil {
				t.Fatal(err)
			}
			for _, s := range page.SKUs {
				names = append(names, s.SKU)
			}
			if page.NextAfter == "" {
				break
			}
			after = page.NextAfter
		}
		var wantHere []string
		for _, n := range want {
			if strings.HasPrefix(n, prefix) {
				wantHere = append(wantHere, n)
			}
		}
		slices.Sort(wantHere)
		if !slices.Equal(names, wantHere) {
			t.Errorf("GET /v1/skus?prefix=%q, page by page: %v, want %v", prefix, names, wantHere)
		}
	}
}

// checkHistory reads sku's history over HTTP: its last row's version is
// the model's, versions never go down, and a bad time or SKU is a 400.
func checkHistory(t *testing.T, c *conformance, base, token, sku string, exp *e2etest.Expected) {
	t.Helper()
	var h struct {
		SKU  string
		Rows []struct {
			Version uint64
			Outcome string
		}
	}
	if err := json.Unmarshal(c.do("GET", base+"/v1/skus/"+url.PathEscape(sku)+"/history", token, nil, 200), &h); err != nil || len(h.Rows) == 0 {
		t.Fatalf("GET /v1/skus/%s/history: %d rows (%v)", sku, len(h.Rows), err)
	}
	w, _ := exp.Model.SKU(sku)
	for i := 1; i < len(h.Rows); i++ {
		if h.Rows[i].Version < h.Rows[i-1].Version {
			t.Fatalf("history of %s: version %d after %d", sku, h.Rows[i].Version, h.Rows[i-1].Version)
		}
	}
	if last := h.Rows[len(h.Rows)-1].Version; int64(last) != w.Version {
		t.Errorf("history of %s ends at version %d, model %d", sku, last, w.Version)
	}
	c.doInvalid("GET", base+"/v1/skus/"+url.PathEscape(sku)+"/history?since=yesterday", token, nil, 400)
	c.do("GET", base+"/v1/skus/"+url.PathEscape(" LEADING-SPACE")+"/history", token, nil, 400)
}
