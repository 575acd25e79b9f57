package processors

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHTTPConcurrencyCap holds MaxConcurrent /v1/ requests inside the
// handler and checks the next one is refused with 503 and Retry-After,
// and that a slot freed is usable again.
func TestHTTPConcurrencyCap(t *testing.T) {
	cfg := DefaultHTTPConfig()
	cfg.MaxConcurrent = 2
	entered, release := make(chan struct{}), make(chan struct{})
	h := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}), cfg)
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan int, cfg.MaxConcurrent)
	for range cfg.MaxConcurrent {
		go func() {
			resp, err := http.Get(srv.URL + "/v1/slow")
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		<-entered
	}
	resp, err := http.Get(srv.URL + "/v1/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("request over the cap: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(release)
	for range cfg.MaxConcurrent {
		if code := <-done; code != http.StatusOK {
			t.Errorf("held request: %d", code)
		}
	}
	resp, err = http.Get(srv.URL + "/v1/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the held requests ended: %d, want 200", resp.StatusCode)
	}
}

// TestHTTPBearerSchemeCaseInsensitive: the auth scheme is matched without
// regard to case (RFC 7235 section 2.1), with one or more spaces before the
// token; the token itself is exact, and other schemes are refused.
func TestHTTPBearerSchemeCaseInsensitive(t *testing.T) {
	cfg := DefaultHTTPConfig()
	cfg.Token = "s3cret-Token"
	h := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), cfg)
	for _, c := range []struct {
		auth string
		want int
	}{
		{"Bearer s3cret-Token", http.StatusOK},
		{"bearer s3cret-Token", http.StatusOK},
		{"BEARER s3cret-Token", http.StatusOK},
		{"bEaReR s3cret-Token", http.StatusOK},
		{"Bearer   s3cret-Token", http.StatusOK},
		{"Bearer s3cret-token", http.StatusUnauthorized},
		{"Bearers3cret-Token", http.StatusUnauthorized},
		{"Basic s3cret-Token", http.StatusUnauthorized},
		{"s3cret-Token", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.auth, w.Code, c.want)
		}
	}
}

// rawRequest sends a GET of exactly size bytes of request line and
// headers (padded with one header) on a new connection and returns the
// status code of the answer.
func rawRequest(t *testing.T, addr string, size int) int {
	t.Helper()
	codes := rawRequests(t, addr, size)
	return codes[0]
}

// rawRequests sends requests of the given head sizes on one connection,
// pipelined in one write, and returns the status code of each answer (0
// for one the server did not answer).
func rawRequests(t *testing.T, addr string, sizes ...int) []int {
	t.Helper()
	var buf bytes.Buffer
	for _, size := range sizes {
		buf.WriteString(paddedHead(t, addr, size))
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	codes := make([]int, len(sizes))
	for i := range sizes {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		codes[i] = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			break
		}
	}
	return codes
}

// paddedHead is a GET request head of exactly size bytes.
func paddedHead(t *testing.T, host string, size int) string {
	t.Helper()
	head := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nX-Pad: "
	const end = "\r\n\r\n"
	pad := size - len(head) - len(end)
	if pad < 1 {
		t.Fatalf("a request head of %d bytes is too small to pad", size)
	}
	return head + strings.Repeat("p", pad) + end
}

// TestHTTPMaxHeaderBytesIsExact: a request whose request line and headers
// are at most MaxHeaderBytes is served, one byte more gets 431. net/http
// alone reads 4096 bytes past http.Server.MaxHeaderBytes; the limit must
// hold for the default (16 KiB), for a limit under that slack, and for a
// request pipelined behind another one on the same connection.
func TestHTTPMaxHeaderBytesIsExact(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, limit := range []int{DefaultHTTPConfig().MaxHeaderBytes, 2048, 5000} {
		cfg := DefaultHTTPConfig()
		cfg.MaxHeaderBytes = limit
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := NewHTTPServer(ok, cfg)
		go func() { _ = srv.Serve(ln) }()
		addr := ln.Addr().String()
		for _, c := range []struct{ size, want int }{
			{limit - 100, http.StatusOK},
			{limit, http.StatusOK},
			{limit + 1, http.StatusRequestHeaderFieldsTooLarge},
			{limit + 100, http.StatusRequestHeaderFieldsTooLarge},
		} {
			if got := rawRequest(t, addr, c.size); got != c.want {
				t.Errorf("limit %d, request head of %d bytes: %d, want %d", limit, c.size, got, c.want)
			}
		}
		if got := rawRequests(t, addr, 200, limit); !slices.Equal(got, []int{200, 200}) {
			t.Errorf("limit %d, pipelined heads of 200 and %d bytes: %v, want both served", limit, limit, got)
		}
		if got := rawRequests(t, addr, 200, limit+1); !slices.Equal(got, []int{200, http.StatusRequestHeaderFieldsTooLarge}) {
			t.Errorf("limit %d, pipelined heads of 200 and %d bytes: %v, want 200 then 431", limit, limit+1, got)
		}
		srv.Close()
	}
}
