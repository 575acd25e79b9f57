package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// Signing in. A browser cannot put a bearer token on a page it navigates
// to, so with a token set the console asks for it once, in a form, and
// answers with a session cookie (processors.NewSession: an expiry MACed
// with the token, never the token itself). The cookie is HttpOnly (the
// script never needs it), SameSite=Strict (no other site's page can make
// the browser send it: the sign-in form is the only write, and the cookie
// grants reads only) and Secure when the request came over TLS.

// maxSignInBytes caps a sign-in form's body: a token and a path.
const maxSignInBytes = 4 << 10

// signInPage is what the sign-in template shows.
type signInPage struct {
	page
	Next    string
	Problem string
}

// authorized reports whether r may see the console.
func (c *Console) authorized(r *http.Request) bool {
	return c.cfg.Token == "" || processors.HasSession(r, c.cfg.Token)
}

// signedIn sends a request without a session to the sign-in form, which
// brings it back to where it was going.
func (c *Console) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.authorized(r) {
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveSignInForm serves GET /signin.
func (c *Console) serveSignInForm(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if c.cfg.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther) // nothing to sign in to
		return
	}
	c.render(w, r, http.StatusOK, "signin", signInPage{page: c.newPage(r, "Sign in"), Next: next})
}

// serveSignIn serves POST /signin: the token checked (in constant time),
// the session cookie set, and the browser sent on to next.
func (c *Console) serveSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBytes)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusBadRequest, "Sign-in form unreadable", "The sign-in form could not be read: "+err.Error())
		return
	}
	next := localPath(r.PostFormValue("next"))
	if c.cfg.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !processors.SameToken(r.PostFormValue("token"), c.cfg.Token) {
		c.render(w, r, http.StatusUnauthorized, "signin", signInPage{page: c.newPage(r, "Sign in"), Next: next,
			Problem: "That is not this instance's token (--http-token)."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: processors.SessionCookie, Value: processors.NewSession(c.cfg.Token, time.Now().Add(processors.SessionTTL)),
		Path: "/", MaxAge: int(processors.SessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// serveSignOut serves POST /signout: the cookie dropped.
func (c *Console) serveSignOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: processors.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// localPath returns next when it is a path on this server, "/" otherwise:
// the sign-in must not send the browser to another site ("//host",
// "/\host" and absolute URLs are other sites to a browser).
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}
