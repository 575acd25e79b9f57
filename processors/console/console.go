// Package console serves stockledger's web console: server-rendered pages
// over the same committed store the /v1/ API reads, for an operator who
// wants to look rather than script. It finds SKUs by code prefix, shows
// one SKU's quantities per location, each channel's and listing's
// available, its open holds and orders, pushes the SKU's new state while
// the page is open (server-sent events), draws its history, and shows the
// partitions: owner, lag and throughput.
//
// It is read-only: every page is a GET, and the only form posts the token
// to sign in. With a token set (HTTPConfig.Token), every page asks for a
// sign-in first; the sign-in sets the session cookie of
// processors.NewSession, which the /v1/ guard accepts on reads as well.
//
// The pages are html/template files and one small script, both embedded:
// there is nothing to build. The script only improves what the HTML
// already shows: search as you type, live updates, the history chart and
// the partitions' refresh.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/stockledger/stockledger/processors"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the console. Start from ConfigFrom.
type Config struct {
	// Token, when set, is required: a sign-in form checks it and sets a
	// session cookie (processors.SessionCookie) that the pages accept.
	Token string
	// History reads a SKU's history for the history page; nil: the page
	// says the server reads none.
	History processors.HistoryFunc
	// HandlerTimeout bounds a page (the history page folds the SKU's
	// partition from its start). Default 30s.
	HandlerTimeout time.Duration
	// MaxConcurrent caps the pages served at once; more get 503.
	// Default 16.
	MaxConcurrent int
	// MaxStreams caps the live-update streams open at once; more get 503
	// (the page then shows the state it loaded, without updates).
	// Default 64.
	MaxStreams int
	// PollInterval is how often a live-update stream reads its SKU's
	// state from the store. The store is at most one commit interval
	// behind the fold, so polling costs one point read per stream and
	// interval, and a change shows within about this long. Default 500ms.
	PollInterval time.Duration
	// KeepAlive is how often an idle stream sends a comment, so proxies
	// and the browser keep the connection. Default 15s.
	KeepAlive time.Duration
	// HistoryRows caps the rows the history page shows: the most recent.
	// Default 500.
	HistoryRows int
}

// ConfigFrom returns the console's config for an HTTP server configured
// by h: its token, history reader and handler timeout, the rest default.
func ConfigFrom(h processors.HTTPConfig) Config {
	return Config{
		Token:          h.Token,
		History:        h.History,
		HandlerTimeout: h.HandlerTimeout,
		MaxConcurrent:  16,
		MaxStreams:     64,
		PollInterval:   500 * time.Millisecond,
		KeepAlive:      15 * time.Second,
		HistoryRows:    500,
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"HandlerTimeout": c.HandlerTimeout, "PollInterval": c.PollInterval, "KeepAlive": c.KeepAlive} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("console: %s %v must be positive", name, d))
		}
	}
	for name, n := range map[string]int{"MaxConcurrent": c.MaxConcurrent, "MaxStreams": c.MaxStreams, "HistoryRows": c.HistoryRows} {
		if n < 1 {
			errs = append(errs, fmt.Errorf("console: %s %d must be at least 1", name, n))
		}
	}
	return errors.Join(errs...)
}

// Console serves the web console of one processor.
type Console struct {
	p     *processors.Processor
	cfg   Config
	pages map[string]*template.Template
	// static holds the script and the styles.
	static fs.FS
	// slots and streams cap the pages and the live-update streams served
	// at once.
	slots   chan struct{}
	streams chan struct{}
	// stop ends every live-update stream (Close): http.Server.Shutdown
	// waits for handlers, and a stream's would never return by itself.
	stop     chan struct{}
	stopOnce sync.Once
}

// New returns the console of p.
func New(p *processors.Processor, cfg Config) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Console{p: p, cfg: cfg, pages: pages, static: static, slots: make(chan struct{}, cfg.MaxConcurrent),
		streams: make(chan struct{}, cfg.MaxStreams), stop: make(chan struct{})}, nil
}

// Close ends the live-update streams open now and refuses new ones. Give
// it to http.Server.RegisterOnShutdown, so a shutdown does not wait for
// browsers to leave.
func (c *Console) Close() { c.stopOnce.Do(func() { close(c.stop) }) }

// Handler serves the console beside api, the processor's own handler
// (processors.Processor.HTTPHandler): the console's paths here, every
// other path (/v1/, /metrics, /healthz, /readyz and any added later) to
// api. Pages run under HandlerTimeout as api does; live-update streams do
// not, since http.TimeoutHandler buffers the whole response.
func (c *Console) Handler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(http.FileServerFS(c.static))))
	mux.Handle("GET /skus/{sku}/events", c.headers(http.HandlerFunc(c.serveStream)))
	page := func(h http.Handler) http.Handler {
		timeout := `<!doctype html><title>Timed out</title><p>The page took too long; try again.</p>`
		return c.headers(http.TimeoutHandler(c.limit(h), c.cfg.HandlerTimeout, timeout))
	}
	mux.Handle("GET /{$}", page(c.signedIn(http.HandlerFunc(c.serveSearch))))
	mux.Handle("GET /skus/{sku}", page(c.signedIn(http.HandlerFunc(c.serveSKU))))
	mux.Handle("GET /skus/{sku}/history", page(c.signedIn(http.HandlerFunc(c.serveHistory))))
	mux.Handle("GET /partitions", page(c.signedIn(http.HandlerFunc(c.servePartitions))))
	mux.Handle("GET /skus/", page(c.signedIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "No such page", "There is no page at "+r.URL.Path+".")
	}))))
	mux.Handle("GET /signin", page(http.HandlerFunc(c.serveSignInForm)))
	mux.Handle("POST /signin", page(http.HandlerFunc(c.serveSignIn)))
	mux.Handle("POST /signout", page(http.HandlerFunc(c.serveSignOut)))
	return mux
}

// headers sets what every console response carries: a content security
// policy that allows only the console's own script and styles (the pages
// show codes and ids from events, which are data, never markup), and no
// framing.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// staticFiles lets browsers keep the script and styles for a while; a
// page loads them by a path that changes with neither, so keep it short.
func staticFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// limit refuses pages beyond MaxConcurrent at once.
func (c *Console) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case c.slots <- struct{}{}:
			defer func() { <-c.slots }()
		default:
			w.Header().Set("Retry-After", "1")
			c.fail(w, r, http.StatusServiceUnavailable, "Busy", "The console is serving too many pages at once; try again in a moment.")
			return
		}
		next.ServeHTTP(w, r)
	})
}
