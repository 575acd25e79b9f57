package processors

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
