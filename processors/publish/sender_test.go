package publish

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stockledger/stockledger/schemas"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 5 ", 5 * time.Second}, {"-1", 0}, {"soon", 0},
		{"10000000000", MaxRetryAfter}, // would overflow a Duration
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(c.v, now); got != c.want {
			t.Errorf("retryAfter(%q) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestBackoffStaysWithinItsBounds(t *testing.T) {
	b := backoff{Min: 100 * time.Millisecond, Max: time.Hour}
	for i := range 100 {
		d := b.next()
		if d < b.Min/2 || d > b.Max {
			t.Fatalf("wait %d: %s, want within [%s, %s]", i, d, b.Min/2, b.Max)
		}
	}
	if b.bound != b.Max {
		t.Fatalf("after 100 failures the bound is %s, want the max %s", b.bound, b.Max)
	}
	b.reset()
	if d := b.next(); d > b.Min {
		t.Fatalf("after a reset: %s, want at most %s", d, b.Min)
	}
	huge := backoff{Min: time.Second, Max: math.MaxInt64}
	for range 80 {
		huge.next() // doubling must not overflow into a panic
	}
}

func TestBatchSizeIsolatesARefusedKey(t *testing.T) {
	size := 100
	for _, status := range []int{400, 422, 400} {
		size = batchSize(size, 100, answer{status: status, err: errTest})
	}
	if size != 12 {
		t.Fatalf("after three refusals: %d, want 12", size)
	}
	if got := batchSize(size, 100, answer{status: 500, err: errTest}); got != size {
		t.Fatalf("a 500 changed the size to %d", got)
	}
	if got := batchSize(size, 100, answer{status: 429, err: errTest}); got != size {
		t.Fatalf("a 429 changed the size to %d", got)
	}
	if got := batchSize(80, 100, answer{status: 200}); got != 100 {
		t.Fatalf("a success: %d, want back up to 100", got)
	}
}

var errTest = context.DeadlineExceeded

func TestRedirectIsAFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hook" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK) // a GET of the login page, say
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.Channel, cfg.Webhook, cfg.Secret = "web", srv.URL+"/hook", []byte("k")
	sent := []sentValue{{v: value{sku: "A", available: 1, version: 1}}}
	if a := post(context.Background(), webhookClient(), &cfg, sent, time.Now()); a.ok() || a.status != http.StatusFound {
		t.Fatalf("a redirected request: %+v, want a failure with status 302", a)
	}
}

func TestTakeNothingWhileCatchingUp(t *testing.T) {
	p := &Publisher{cfg: DefaultConfig()}
	p.mu.t = newTable()
	p.mu.t.observe("web/A", 0, val(3, 1, 0))
	if got := p.take(10); len(got) != 0 {
		t.Fatalf("took %d keys before the catch-up ended", len(got))
	}
	p.ready.Store(true)
	if got := p.take(10); len(got) != 1 {
		t.Fatalf("took %d keys once caught up, want 1", len(got))
	}
}

func TestValidateRefusesWhatCannotWork(t *testing.T) {
	ok := DefaultConfig()
	ok.Channel, ok.Webhook, ok.Secret = "web", "http://127.0.0.1:1/", []byte("k")
	ok.Brokers, ok.Topic, ok.Group = []string{"b:9092"}, "t", "g"
	ok.Schemas = schemas.NewRegistry()
	if err := ok.Validate(); err != nil {
		t.Fatalf("a working config refused: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"rate NaN":           func(c *Config) { c.Rate = math.NaN() },
		"rate Inf":           func(c *Config) { c.Rate = math.Inf(1) },
		"catch-up timeout 0": func(c *Config) { c.CatchUpTimeout = 0 },
		"commit interval 0":  func(c *Config) { c.CommitInterval = 0 },
		"backoff max 1 year": func(c *Config) { c.Backoff.Max = 365 * 24 * time.Hour },
		"webhook ftp":        func(c *Config) { c.Webhook = "ftp://x/" },
	} {
		c := ok
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
