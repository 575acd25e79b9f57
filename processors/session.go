package processors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The web console's session: a browser cannot put a bearer token on a
// page it navigates to, so the console's sign-in checks the token once
// and sets a cookie that /v1/ GETs (the console's script reads the API)
// and the console's pages accept instead. The cookie does not carry the
// token: it is an expiry and a MAC of it keyed by the token, so a leaked
// cookie reads for at most SessionTTL and cannot write, and changing the
// token ends every session.

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "stockledger_session"

// SessionTTL is how long a console session lasts.
const SessionTTL = 12 * time.Hour

// NewSession returns the value of a session cookie for token that
// expires at expires.
func NewSession(token string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + hex.EncodeToString(sessionMAC(token, exp))
}

// ValidSession reports whether value is a session for token that has not
// expired at now. The MAC is compared in constant time.
func ValidSession(value, token string, now time.Time) bool {
	exp, mac, ok := strings.Cut(value, ".")
	if !ok || token == "" {
		return false
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(sec, 0)) {
		return false
	}
	got, err := hex.DecodeString(mac)
	return err == nil && hmac.Equal(got, sessionMAC(token, exp))
}

// HasSession reports whether r carries a valid session cookie for token.
func HasSession(r *http.Request, token string) bool {
	c, err := r.Cookie(SessionCookie)
	return err == nil && ValidSession(c.Value, token, time.Now())
}

// sessionMAC is the MAC of a session's expiry, keyed by the token; the
// label keeps it from being the MAC of anything else keyed so.
func sessionMAC(token, exp string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("stockledger console session\x00" + exp))
	return m.Sum(nil)
}
