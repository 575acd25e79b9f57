package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// The console over plain HTTP: error pages, the SKU page's numbers, the
// live-update stream and its end at shutdown, the sign-in. The browser
// test (browser_test.go) clicks through the same pages in Chromium.

// cellRE finds a page's data-v cells (templates write them on one line).
var cellRE = regexp.MustCompile(`data-v="([^"]+)"[^>]*>([^<]*)<`)

func cells(html string) map[string]string {
	out := map[string]string{}
	for _, m := range cellRE.FindAllStringSubmatch(html, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestConsole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := startFixture(ctx, t, "console")
	f.seed(ctx, t)
	t.Run("pages", func(t *testing.T) { testPages(t, f) })
	t.Run("stream", func(t *testing.T) { testStream(ctx, t, f) })
	t.Run("signin", func(t *testing.T) { testSignIn(t, f) })
}

// testPages checks the pages' answers: the SKU page shows the API's
// numbers; a bad code, an unknown SKU or page, a bad range name the
// problem.
func testPages(t *testing.T, f *fixture) {
	var want processors.SKUJSON
	f.getJSON(t, "/v1"+skuPath("TEE-RED-M"), &want)
	if len(want.OpenOrders) != 3 || len(want.OpenHolds) != 1 || len(want.Listings) != 1 {
		t.Fatalf("the seeded SKU: %+v", want)
	}
	code, _, body := get(t, f.open.url+skuPath("TEE-RED-M"), nil)
	if code != http.StatusOK {
		t.Fatalf("SKU page: %d\n%s", code, body)
	}
	if diffs := diffValues(cells(body), skuValues(want)); len(diffs) > 0 {
		t.Errorf("the SKU page differs from GET /v1/skus/TEE-RED-M:\n%s", strings.Join(diffs, "\n"))
	}
	for _, c := range []struct {
		path string
		code int
		says string
	}{
		{"/", 200, "TEE-RED-L"},
		{"/?q=MUG", 200, "MUG-LOGO"},
		{"/?q=NOPE", 200, "No SKU on this instance starts with"},
		{"/?q=" + strings.Repeat("x", 129), 400, "at most 128 bytes"},
		{"/skus/" + url.PathEscape(" TEE"), 400, "starts with white space"},
		{"/skus/" + url.PathEscape("TEE\x01"), 400, "contains the control character"},
		{"/skus/" + strings.Repeat("x", 129), 400, "129 bytes long"},
		{"/skus/NO-SUCH-SKU", 404, "The ledger has no SKU"},
		{"/skus/NO-SUCH-SKU/history", 404, "The ledger has no SKU"},
		{"/skus/TEE-RED-M/history?since=2y", 400, "the history page shows 1h, 24h, 7d"},
		{"/skus/a/b", 404, "There is no page at /skus/a/b"},
		{"/partitions", 200, "this instance"},
		{"/signin", 303, ""},    // no token: nothing to sign in to
		{"/healthz", 200, "ok"}, // the processor's own paths pass through
		{"/v1/status", 200, "topic_partitions"},
	} {
		code, h, body := get(t, f.open.url+c.path, nil)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("GET %s: %d, want %d saying %q\n%s", c.path, code, c.code, c.says, body)
		}
		if code != 303 && !strings.HasPrefix(c.path, "/healthz") && !strings.HasPrefix(c.path, "/v1/") &&
			!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no content security policy", c.path)
		}
	}
	code, h, _ := get(t, f.open.url+"/static/console.js", nil)
	if code != 200 || !strings.Contains(h.Get("Content-Type"), "javascript") {
		t.Errorf("GET /static/console.js: %d %s", code, h.Get("Content-Type"))
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, id, data string }

// readEvents sends the stream's events (comments left out) to the
// returned channel until it ends.
func readEvents(sc *bufio.Scanner) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return out
}

// testStream follows a SKU's stream: the state of a new event arrives
// and matches the API, also after the server's write timeout (a stream
// outlives it), and a server shutdown ends the stream at once.
func testStream(ctx context.Context, t *testing.T, f *fixture) {
	const writeTimeout = 300 * time.Millisecond
	srv := f.serve(t, listen(t), "", func(c *processors.HTTPConfig) { c.WriteTimeout = writeTimeout })
	var before processors.SKUJSON
	f.getJSON(t, "/v1"+skuPath("TEE-BLK-M"), &before)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.url+skuPath("TEE-BLK-M")+"/events?version="+jsonNumber(before.Version), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readEvents(bufio.NewScanner(resp.Body))
	time.Sleep(3 * writeTimeout)
	f.write(ctx, t, `{"event_id":"blk-r9","type":"receipt","occurred_at":"`+f.at(70)+`","sku":"TEE-BLK-M","location":"store-soho","qty":7}`)
	var got struct {
		Version uint64             `json:"version"`
		State   processors.SKUJSON `json:"state"`
		HTML    string             `json:"html"`
	}
	select {
	case ev := <-events:
		if ev.name != "state" {
			t.Fatalf("first event %+v, want a state", ev)
		}
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
			t.Fatal(err)
		}
		if ev.id != jsonNumber(got.Version) || got.Version != before.Version+1 {
			t.Errorf("state event id %s, version %d; want version %d", ev.id, got.Version, before.Version+1)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no state event within 10 s of a write")
	}
	var after processors.SKUJSON
	f.getJSON(t, "/v1"+skuPath("TEE-BLK-M"), &after)
	if diffs := diffValues(cells(got.HTML), skuValues(after)); len(diffs) > 0 {
		t.Errorf("the streamed state differs from the API:\n%s", strings.Join(diffs, "\n"))
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.srv.Shutdown(sctx); err != nil {
		t.Errorf("shutdown with a stream open: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a stream open", d)
	}
	for range events { // the stream ends
	}
}

func jsonNumber(v uint64) string { b, _ := json.Marshal(v); return string(b) }

// testSignIn checks the locked server: pages send to the sign-in, a
// wrong token is refused, the right one sets a read-only session cookie,
// and the sign-in never sends the browser off the site.
func testSignIn(t *testing.T, f *fixture) {
	code, h, _ := get(t, f.locked.url+skuPath("TEE-RED-M")+"?x=1", nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/signin?next="+url.QueryEscape("/skus/TEE-RED-M?x=1") {
		t.Errorf("unsigned SKU page: %d to %q, want 303 to the sign-in", code, h.Get("Location"))
	}
	if code, _, _ := get(t, f.locked.url+"/v1/skus", nil); code != http.StatusUnauthorized {
		t.Errorf("unsigned GET /v1/skus: %d, want 401", code)
	}
	if code, _, _ := get(t, f.locked.url+skuPath("TEE-RED-M")+"/events", nil); code != http.StatusUnauthorized {
		t.Errorf("unsigned stream: %d, want 401", code)
	}
	post := func(token, next string) *http.Response {
		resp, err := noRedirect.PostForm(f.locked.url+"/signin", url.Values{"token": {token}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("wrong", "/"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %d, cookies %v; want 401 and none", resp.StatusCode, resp.Cookies())
	}
	for next, want := range map[string]string{"/partitions": "/partitions", "//evil.example/x": "/", "https://evil.example/": "/", `/\evil.example`: "/"} {
		if loc := post(testToken, next).Header.Get("Location"); loc != want {
			t.Errorf("sign-in with next %q sends to %q, want %q", next, loc, want)
		}
	}
	resp := post(testToken, "/")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == processors.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || strings.Contains(cookie.Value, testToken) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, without the token", cookie)
	}
	for _, path := range []string{"/", skuPath("TEE-RED-M"), "/partitions", "/v1/skus", "/v1" + skuPath("TEE-RED-M")} {
		if code, _, body := get(t, f.locked.url+path, cookie); code != http.StatusOK {
			t.Errorf("signed-in GET %s: %d\n%s", path, code, body)
		}
	}
	req, _ := http.NewRequest("POST", f.locked.url+"/v1/events", strings.NewReader("{}\n"))
	req.AddCookie(cookie)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /v1/events with only the session cookie: %v %v, want 401", resp.StatusCode, err)
	}
}

// TestConsoleOtherInstance runs a second instance of the group: a SKU in
// a partition the first no longer owns gets a 421 page linking to the
// owner's console, the partitions page names the owner, and the search
// says which partitions it covers.
func TestConsoleOtherInstance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := startFixture(ctx, t, "console-two")
	ln := listen(t)
	other := startLive(ctx, t, f.cl, "b", ln.Addr().String())
	serveLive(t, other, f.cl, ln, "")
	var foreign string
	var part int32
	for foreign == "" {
		if ctx.Err() != nil {
			t.Fatal("the second instance never got a partition")
		}
		time.Sleep(50 * time.Millisecond)
		for i := range 64 {
			name := fmt.Sprintf("SKU-%d", i)
			part = f.live.P.PartitionOf(name)
			if other.P.Owns(part) && !f.live.P.Owns(part) && f.live.P.Owner(ctx, part) == ln.Addr().String() {
				foreign = name
				break
			}
		}
	}
	code, _, body := get(t, f.open.url+skuPath(foreign)+"/history", nil)
	link := `href="http://` + ln.Addr().String() + skuPath(foreign) + `/history"`
	if code != http.StatusMisdirectedRequest || !strings.Contains(body, link) || !strings.Contains(body, "which this instance does not own") {
		t.Errorf("a SKU of the other instance: %d, want 421 with %s\n%s", code, link, body)
	}
	_, _, body = get(t, f.open.url+"/partitions", nil)
	ownerCell := fmt.Sprintf(`data-v="p/%d/owner"><a href="http://%s/partitions">`, part, ln.Addr().String())
	if !strings.Contains(body, ownerCell) {
		t.Errorf("the partitions page does not name the owner of partition %d (%s)\n%s", part, ownerCell, body)
	}
	if _, _, body = get(t, f.open.url+"/", nil); !strings.Contains(body, "the SKUs of the others are on the instances that own them") {
		t.Errorf("the search does not say it covers only some partitions\n%s", body)
	}
}
