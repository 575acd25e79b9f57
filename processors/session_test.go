package processors

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSessionCookie checks the console's session: valid for its token
// until it expires, not for another token or when altered, and accepted
// by the /v1/ guard on reads only, never in place of a wrong bearer token.
func TestSessionCookie(t *testing.T) {
	const token = "s3cret-Token"
	now := time.Now()
	v := NewSession(token, now.Add(time.Hour))
	if !ValidSession(v, token, now) {
		t.Fatal("a fresh session is not valid")
	}
	for name, bad := range map[string]bool{
		"expired":       ValidSession(v, token, now.Add(2*time.Hour)),
		"another token": ValidSession(v, token+"x", now),
		"no token":      ValidSession(v, "", now),
		"altered mac":   ValidSession(v[:len(v)-1]+"0", token, now) && v[len(v)-1] != '0',
		"later expiry":  ValidSession("9"+v, token, now),
		"no dot":        ValidSession("12345", token, now),
		"empty":         ValidSession("", token, now),
	} {
		if bad {
			t.Errorf("%s: accepted", name)
		}
	}

	cfg := DefaultHTTPConfig()
	cfg.Token = token
	h := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), cfg)
	cookie := &http.Cookie{Name: SessionCookie, Value: v}
	for _, c := range []struct {
		method, auth string
		cookie       bool
		want         int
	}{
		{"GET", "", true, http.StatusOK},
		{"HEAD", "", true, http.StatusOK},
		{"GET", "", false, http.StatusUnauthorized},
		{"POST", "", true, http.StatusUnauthorized},
		{"DELETE", "", true, http.StatusUnauthorized},
		{"GET", "Bearer wrong", true, http.StatusUnauthorized},
		{"POST", "Bearer " + token, true, http.StatusOK},
	} {
		r := httptest.NewRequest(c.method, "/v1/status", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if c.cookie {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s with Authorization %q, cookie %v: %d, want %d", c.method, c.auth, c.cookie, w.Code, c.want)
		}
	}
}
