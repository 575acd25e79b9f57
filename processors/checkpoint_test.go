package processors_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// checkpointAPI is a caught-up processor whose API has no token, served on
// loopback, and the checkpoints its requests made.
type checkpointAPI struct {
	t     *testing.T
	l     *e2etest.Live
	lines [][]byte
	dir   string // the processor's data directory
	url   string
	c     *conformance
	made  []string
}

const checkpointParts = 2

func newCheckpointAPI(ctx context.Context, t *testing.T) *checkpointAPI {
	cl, err := e2etest.NewCluster("checkpoint", checkpointParts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	lines := gen.Stream(gen.Config{Seed: 5, SKUs: 30}, 800)
	if err := e2etest.ProduceLines(ctx, cl, checkpointParts, lines); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(dir, "ledger"), checkpointParts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	a := serveAPI(t, l, listen(t), processors.DefaultHTTPConfig())
	return &checkpointAPI{t: t, l: l, lines: lines, dir: dir, url: a.url, c: newConformance(t, a.url)}
}

// post asks c's server at url for a checkpoint, expecting status want, and
// returns the path (200) or the error.
func (a *checkpointAPI) post(c *conformance, url, token string, want int) string {
	a.t.Helper()
	var body struct{ Path, Error string }
	if err := json.Unmarshal(c.do("POST", url+"/v1/checkpoint", token, nil, want), &body); err != nil {
		a.t.Fatal(err)
	}
	if want == http.StatusOK {
		a.made = append(a.made, body.Path)
		return body.Path
	}
	return body.Error
}

// left lists the checkpoints directory.
func (a *checkpointAPI) left() []string {
	a.t.Helper()
	ents, err := os.ReadDir(filepath.Join(a.dir, "checkpoints"))
	if err != nil {
		a.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// newest are the names of the newest store.CheckpointsKept checkpoints made.
func (a *checkpointAPI) newest() []string {
	var names []string
	for _, p := range a.made[max(len(a.made)-store.CheckpointsKept, 0):] {
		names = append(names, filepath.Base(p))
	}
	return names
}

// TestCheckpointEndpoint: however often POST /v1/checkpoint is called, one
// at a time or many at once, the newest store.CheckpointsKept checkpoints
// are left beside the store, and older ones a reader has open: a
// checkpoint opened as a store (as `stockledger verify --http` opens it)
// survives later requests and reads back the whole ledger until it is
// closed. Without a token, only loopback clients may make one (403 for
// others); with a token, anyone who has it.
func TestCheckpointEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := newCheckpointAPI(ctx, t)
	a.oneAtATime()
	a.atOnce()
	a.fromAnotherHost()
}

func (a *checkpointAPI) oneAtATime() {
	t := a.t
	for range store.CheckpointsKept + 3 {
		a.post(a.c, a.url, "", http.StatusOK)
	}
	if got := a.left(); !slices.Equal(got, a.newest()) {
		t.Errorf("after %d checkpoints one at a time: %v left, want the newest %d, %v", len(a.made), got, store.CheckpointsKept, a.newest())
	}

	// The oldest of those kept, open as verify opens it, while newer ones
	// push it out.
	open := a.made[len(a.made)-store.CheckpointsKept]
	held, err := store.Open(open, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for range store.CheckpointsKept + 1 {
		a.post(a.c, a.url, "", http.StatusOK)
	}
	if got, want := a.left(), append([]string{filepath.Base(open)}, a.newest()...); !slices.Equal(got, want) {
		t.Errorf("with %s open: %v left, want it and the newest, %v", filepath.Base(open), got, want)
	}
	for _, d := range e2etest.CompareSKUs(e2etest.Expect(a.lines), e2etest.StoreSKUs(held, checkpointParts)) {
		t.Errorf("the open checkpoint: %s", d)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	a.post(a.c, a.url, "", http.StatusOK)
	if got := a.left(); !slices.Equal(got, a.newest()) {
		t.Errorf("once it was closed: %v left, want %v", got, a.newest())
	}
}

// atOnce: concurrent requests are all served (one after another), and the
// newest are left.
func (a *checkpointAPI) atOnce() {
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range cap(codes) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(a.url+"/v1/checkpoint", "", nil)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			a.t.Errorf("concurrent checkpoint request: %d", code)
		}
	}
	if got := a.left(); len(got) != store.CheckpointsKept {
		a.t.Errorf("after concurrent requests: %v left, want the newest %d", got, store.CheckpointsKept)
	}
}

// fromAnotherHost: without a token a client that is not on loopback is
// refused, saying a token is needed, and nothing is made; with a token it
// is served.
func (a *checkpointAPI) fromAnotherHost() {
	t := a.t
	remote := func(cfg processors.HTTPConfig) string {
		h := a.l.P.HTTPHandler(a.l.Gatherer, cfg)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.RemoteAddr = "192.0.2.7:40000" // TEST-NET-1: not loopback
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	before := a.left()
	cfg := processors.DefaultHTTPConfig()
	far := remote(cfg)
	if msg := a.post(newConformance(t, far), far, "", http.StatusForbidden); !strings.Contains(strings.ToLower(msg), "token") {
		t.Errorf("403 from another host without a token says %q; want it to say a token must be configured", msg)
	}
	if got := a.left(); !slices.Equal(got, before) {
		t.Errorf("a refused request changed the checkpoints: %v, was %v", got, before)
	}
	cfg.Token = "s3cret"
	far = remote(cfg)
	a.post(newConformance(t, far), far, cfg.Token, http.StatusOK)
}
