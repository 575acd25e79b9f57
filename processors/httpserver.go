package processors

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// OpenAPI is the OpenAPI 3 document of the /v1/ API (openapi.yaml),
// served at GET /v1/openapi.yaml and checked against the live server by
// the tests.
//
//go:embed openapi.yaml
var OpenAPI []byte

// HTTPConfig configures the HTTP server: where it listens, who may use the
// API, and the limits that keep a slow or greedy client from holding
// resources. Start from DefaultHTTPConfig.
type HTTPConfig struct {
	// Addr is the listen address. Default 127.0.0.1:8080: only this
	// machine; give 0.0.0.0:8080 (or a specific address) to serve others.
	Addr string
	// Token, if set, is required on every /v1/ request as
	// "Authorization: Bearer TOKEN" (401 otherwise; the scheme in any
	// case), or on a GET the web console's session cookie (session.go).
	// /healthz, /readyz and /metrics stay open: probes and scrapers
	// rarely carry tokens, and they reveal no stock data. Without a token,
	// POST /v1/checkpoint, which writes to this machine's disk, serves
	// loopback clients only (403).
	Token string
	// ReadHeaderTimeout bounds reading a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request. Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a response, from the end of the request's
	// headers. Default 60s (a checkpoint of a large store takes a while).
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long. Default 60s.
	IdleTimeout time.Duration
	// HandlerTimeout bounds a handler; past it the client gets 503. Default 30s.
	HandlerTimeout time.Duration
	// MaxHeaderBytes caps a request's request line and headers (431 past
	// it). Default 16 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes caps a request's body (413 past it). Default 64 KiB:
	// a hold's body is a few hundred bytes.
	MaxBodyBytes int64
	// MaxConcurrent caps /v1/ requests served at once; more get 503 with
	// Retry-After. Default 64.
	MaxConcurrent int
	// Holds configures the checkout API (POST /v1/holds, DELETE
	// /v1/holds/{sku}/{hold_id}).
	Holds HoldAPIConfig
	// Ingest configures POST /v1/events, whose body limit is its own.
	Ingest IngestConfig
	// History reads a SKU's history for GET /v1/skus/{sku}/history
	// (audit.HistoryFunc); nil: 501.
	History HistoryFunc
}

// DefaultHTTPConfig returns an HTTPConfig with every default set.
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{
		Addr:              "127.0.0.1:8080",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		HandlerTimeout:    30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		MaxBodyBytes:      64 << 10,
		MaxConcurrent:     64,
		Holds:             DefaultHoldAPIConfig(),
		Ingest:            DefaultIngestConfig(),
	}
}

// Validate reports every problem with c at once: errors.Join of
// *ConfigError (fields prefixed "HTTP.").
func (c *HTTPConfig) Validate() error {
	var errs []error
	bad := func(field, f string, a ...any) {
		errs = append(errs, &ConfigError{Field: "HTTP." + field, Problem: fmt.Sprintf(f, a...)})
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			bad("Addr", "%q is not host:port", c.Addr)
		}
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		bad("Token", "must not contain white space")
	}
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": c.ReadHeaderTimeout, "ReadTimeout": c.ReadTimeout,
		"WriteTimeout": c.WriteTimeout, "IdleTimeout": c.IdleTimeout, "HandlerTimeout": c.HandlerTimeout} {
		if d <= 0 {
			bad(name, "%v must be positive", d)
		}
	}
	if c.MaxHeaderBytes < 1024 {
		bad("MaxHeaderBytes", "%d is under 1024", c.MaxHeaderBytes)
	}
	if c.MaxBodyBytes < 0 {
		bad("MaxBodyBytes", "%d must not be negative", c.MaxBodyBytes)
	}
	if c.MaxConcurrent < 1 {
		bad("MaxConcurrent", "%d must be at least 1", c.MaxConcurrent)
	}
	c.Holds.problems(bad)
	c.Ingest.problems(bad)
	return errors.Join(errs...)
}

// NewHTTPServer returns a server for h with c's timeouts and header limit.
func NewHTTPServer(h http.Handler, c HTTPConfig) *http.Server {
	return &http.Server{
		Handler:           headerLimit(h, c.MaxHeaderBytes),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes(c.MaxHeaderBytes),
	}
}

// headerSlack is what net/http reads of a request's head past
// http.Server.MaxHeaderBytes before it answers 431 (room for its read
// buffer, in Server.initialReadLimitSize).
const headerSlack = 4096

// serverMaxHeaderBytes is the http.Server.MaxHeaderBytes that makes
// net/http stop reading a request's head at limit bytes. A limit within
// the slack cannot be set that way (0 would mean net/http's 1 MiB
// default): the server then reads up to the slack, and headerLimit
// refuses what is over the limit.
func serverMaxHeaderBytes(limit int) int { return max(limit-headerSlack, 1) }

// headerLimit answers 431 to a request whose head is over limit bytes.
// The server's own limit is exact only for the first request of a
// connection and for limits over the slack: a pipelined request's first
// bytes may already sit in the read buffer, uncounted.
func headerLimit(next http.Handler, limit int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := headBytes(r); n > limit {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusRequestHeaderFieldsTooLarge, map[string]string{"error": fmt.Sprintf("request line and headers over %d bytes", limit)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headBytes is the size of r's request line and headers written in the
// usual form ("Name: value" lines, one space after the colon). net/http
// keeps the headers' values without the white space around them, so a
// client that sent more white space sent more bytes than this.
func headBytes(r *http.Request) int {
	n := len(r.Method) + len(" ") + len(r.RequestURI) + len(" ") + len(r.Proto) + len("\r\n")
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + len("\r\n")
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n + len("\r\n")
}

// guard wraps the /v1/ API: bearer token, body limit, concurrency cap.
func guard(next http.Handler, c HTTPConfig) http.Handler {
	slots := make(chan struct{}, max(1, c.MaxConcurrent))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.Token != "" && !authorized(r, c.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stockledger"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		limit := c.MaxBodyBytes
		if r.Method == http.MethodPost && r.URL.Path == "/v1/events" {
			limit = c.Ingest.MaxBodyBytes
		}
		if r.ContentLength > limit {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("request body over %d bytes", limit)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many requests at once"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries token as a bearer token or, on a
// read without an Authorization header, the web console's session
// cookie (session.go): the console's script reads the API, and the
// cookie is a read-only credential.
func authorized(r *http.Request, token string) bool {
	auth := r.Header.Get("Authorization")
	if auth == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return HasSession(r, token)
	}
	got, ok := bearerToken(auth)
	return ok && SameToken(got, token)
}

// SameToken reports whether got is token. It compares their SHA-256
// digests in constant time: equal lengths, so the time taken says
// nothing about the token's length or its prefix.
func SameToken(got, token string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bearerToken returns the credentials of an Authorization header value of
// the Bearer scheme. An auth scheme is case-insensitive and one or more
// spaces separate it from the credentials (RFC 7235 section 2.1).
func bearerToken(auth string) (string, bool) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}
