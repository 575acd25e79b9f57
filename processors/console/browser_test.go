package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/stockledger/stockledger/processors"
)

// TestConsoleInBrowser clicks through the console in headless Chromium
// against a live processor and checks every number it shows against the
// API: search as you type, a SKU's page, its live update after a new
// event, its history (the chart's points and the table), the partitions,
// and the sign-in of an instance with a token. With
// STOCKLEDGER_UPDATE_SCREENSHOTS=1 it writes the pages' screenshots to
// docs/console-*.png.
//
// Without Chromium it skips, unless STOCKLEDGER_REQUIRE_BROWSER=1 (CI,
// make test-browser) makes that a failure.
func TestConsoleInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := startFixture(ctx, t, "console-browser")
	f.seed(ctx, t)
	b := newBrowser(ctx, t, chrome)
	t.Run("search, SKU, live update, history", func(t *testing.T) { testBrowse(ctx, t, f, b) })
	t.Run("partitions", func(t *testing.T) { testPartitionsPage(t, f, b) })
	t.Run("error page", func(t *testing.T) {
		b.open(t, f.open.url+"/skus/"+strings.Repeat("x", 130))
		if got := b.text(t, "main"); !strings.Contains(got, "130 bytes long") {
			t.Errorf("the error page says %q", got)
		}
		b.shot(t, "error")
	})
	t.Run("token", func(t *testing.T) { testTokenInBrowser(t, f, b) })
	b.checkNoExceptions(t)
}

// chromiumPath finds Chromium (STOCKLEDGER_CHROMIUM, else on PATH).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STOCKLEDGER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("STOCKLEDGER_REQUIRE_BROWSER") == "1" {
		t.Fatal("STOCKLEDGER_REQUIRE_BROWSER=1 and no Chromium on PATH: apt-get install chromium (make test-browser does)")
	}
	t.Skip("no Chromium on PATH, so the console's browser test does not run: apt-get install chromium, or make test-browser")
	return ""
}

// browser is one headless Chromium tab.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	// exceptions are the pages' uncaught script errors.
	exceptions []string
}

func newBrowser(ctx context.Context, t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // as root, and in containers without user namespaces
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860),
		// The machine has no network but loopback: Chromium's own
		// connections (updates, QUIC probes) would only be refused.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	b := &browser{}
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.mu.Lock()
			b.exceptions = append(b.exceptions, fmt.Sprintf("%s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception))
			b.mu.Unlock()
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	start := time.Now()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	b.ctx = bctx
	return b
}

func (b *browser) checkNoExceptions(t *testing.T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.exceptions) > 0 {
		t.Errorf("the pages threw:\n%s", strings.Join(b.exceptions, "\n"))
	}
}

// do runs steps, failing the test on an error.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to u.
func (b *browser) open(t *testing.T, u string) {
	t.Helper()
	b.do(t, "opening "+u, chromedp.Navigate(u))
}

// follow clicks sel and waits for the page it loads.
func (b *browser) follow(t *testing.T, sel string) {
	t.Helper()
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}

// eval evaluates a script expression into T.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// wait waits until the script expression is true.
func (b *browser) wait(t *testing.T, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// values reads the data-v cells under sel.
func (b *browser) values(t *testing.T, sel string) map[string]string {
	t.Helper()
	return eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll(`+jsString(sel+" [data-v]")+
		`)].map((e) => [e.dataset.v, e.textContent.trim()]))`)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// shot saves the page as docs/console-NAME.png when
// STOCKLEDGER_UPDATE_SCREENSHOTS=1.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("STOCKLEDGER_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "..", "docs", "console-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// testBrowse types a prefix, clicks a result, checks the SKU page, writes
// an event and watches it arrive, and opens the history.
func testBrowse(ctx context.Context, t *testing.T, f *fixture, b *browser) {
	b.open(t, f.open.url+"/")
	b.do(t, "typing a prefix", chromedp.SendKeys(chromedp.CSS("#q"), "TEE-RED"))
	b.wait(t, "the results of TEE-RED", `location.search === "?q=TEE-RED"`)
	var list processors.SKUList
	f.getJSON(t, "/v1/skus?prefix=TEE-RED", &list)
	var want []string
	for _, s := range list.SKUs {
		want = append(want, s.SKU)
	}
	got := eval[[]string](t, b, `[...document.querySelectorAll("#results a.sku")].map((a) => a.textContent)`)
	if !slices.Equal(got, want) || len(got) != 2 {
		t.Fatalf("search TEE-RED shows %q; GET /v1/skus?prefix=TEE-RED has %q", got, want)
	}
	b.shot(t, "search")

	b.follow(t, `#results a.sku[href="/skus/TEE-RED-M"]`)
	var s processors.SKUJSON
	f.getJSON(t, "/v1/skus/TEE-RED-M", &s)
	if diffs := diffValues(b.values(t, "#state"), skuValues(s)); len(diffs) > 0 {
		t.Errorf("the SKU page differs from GET /v1/skus/TEE-RED-M:\n%s", strings.Join(diffs, "\n"))
	}
	b.wait(t, "the live updates to connect", `document.getElementById("live").classList.contains("on")`)

	// A new event: the page updates in place (no reload: the marker set
	// on the window survives) and shows the API's new numbers.
	eval[bool](t, b, `window.stayed = true`)
	f.write(ctx, t, `{"event_id":"m-r4","type":"receipt","occurred_at":"`+f.at(63)+`","sku":"TEE-RED-M","location":"store-soho","qty":6}`)
	f.getJSON(t, "/v1/skus/TEE-RED-M", &s)
	b.wait(t, "the live update", fmt.Sprintf(`document.getElementById("live").dataset.version === "%d"`, s.Version))
	if !eval[bool](t, b, `window.stayed === true`) {
		t.Error("the page reloaded instead of updating in place")
	}
	if diffs := diffValues(b.values(t, "#state"), skuValues(s)); len(diffs) > 0 {
		t.Errorf("after the live update the SKU page differs from the API:\n%s", strings.Join(diffs, "\n"))
	}
	if changed := eval[[]string](t, b, `[...document.querySelectorAll("#state .changed")].map((e) => e.dataset.v)`); !slices.Contains(changed, "loc/store-soho/on_hand") {
		t.Errorf("cells marked changed: %q; want loc/store-soho/on_hand among them", changed)
	}
	b.shot(t, "sku")

	b.follow(t, `.tabs a[href="/skus/TEE-RED-M/history"]`)
	checkHistory(t, f, b)
	b.shot(t, "history")
}

// historyJSON is the part of GET /v1/skus/{sku}/history the page shows.
type historyJSON struct {
	Rows []struct {
		Offset     int64  `json:"offset"`
		OccurredAt string `json:"occurred_at"`
		Locations  []struct {
			OnHand int64 `json:"on_hand"`
		} `json:"locations"`
		Channels map[string]int64 `json:"channels"`
	} `json:"rows"`
}

// checkHistory checks the history page's chart (a dot per event and
// channel) and table against GET /v1/skus/TEE-RED-M/history.
func checkHistory(t *testing.T, f *fixture, b *browser) {
	b.wait(t, "the chart", `document.querySelectorAll("#chart circle").length > 0`)
	var h historyJSON
	f.getJSON(t, "/v1/skus/TEE-RED-M/history", &h)
	wantDots, wantCells := map[string]string{}, map[string]string{}
	channels := map[string]bool{}
	for _, r := range h.Rows {
		for ch := range r.Channels {
			channels[ch] = true
		}
	}
	for _, r := range h.Rows {
		var onHand int64
		for _, l := range r.Locations {
			onHand += l.OnHand
		}
		wantCells[fmt.Sprintf("row/%d/on_hand", r.Offset)] = fmt.Sprint(onHand)
		for ch := range channels {
			v, ok := r.Channels[ch]
			wantCells[fmt.Sprintf("row/%d/ch/%s", r.Offset, ch)] = "—"
			if ok {
				wantCells[fmt.Sprintf("row/%d/ch/%s", r.Offset, ch)] = fmt.Sprint(v)
				wantDots[fmt.Sprintf("%d/%s", r.Offset, ch)] = fmt.Sprintf("%s=%d", r.OccurredAt, v)
			}
		}
	}
	dots := eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll("#chart circle")].map((c) =>
		[c.dataset.offset + "/" + c.dataset.channel, c.dataset.t + "=" + c.dataset.v]))`)
	if len(dots) < 10 {
		t.Errorf("the chart has %d dots; the seeded history has more", len(dots))
	}
	if diffs := diffValues(dots, wantDots); len(diffs) > 0 {
		t.Errorf("the chart's points differ from the API's history:\n%s", strings.Join(diffs, "\n"))
	}
	if diffs := diffValues(b.values(t, "table.history"), wantCells); len(diffs) > 0 {
		t.Errorf("the history table differs from the API's history:\n%s", strings.Join(diffs, "\n"))
	}
}

// testPartitionsPage checks the partitions page against GET /v1/status.
func testPartitionsPage(t *testing.T, f *fixture, b *browser) {
	type status struct {
		Ready      bool                         `json:"ready"`
		Lag        int64                        `json:"lag"`
		OwnedLag   int64                        `json:"owned_lag"`
		Partitions []processors.PartitionStatus `json:"partitions"`
	}
	want := func() map[string]string {
		var st status
		f.getJSON(t, "/v1/status", &st)
		out := map[string]string{"ready": map[bool]string{true: "ready", false: "not ready"}[st.Ready],
			"lag": fmt.Sprint(st.Lag), "owned_lag": fmt.Sprint(st.OwnedLag)}
		for _, p := range st.Partitions {
			k := fmt.Sprintf("p/%d/", p.Partition)
			out[k+"owner"] = "this instance"
			out[k+"next_offset"], out[k+"end_offset"], out[k+"lag"] = fmt.Sprint(p.Next), fmt.Sprint(p.End), fmt.Sprint(p.Lag)
			out[k+"events_per_second"] = fmt.Sprintf("%.1f", p.Rate)
		}
		return out
	}
	b.open(t, f.open.url+"/partitions")
	before := want()
	got := b.values(t, "#partitions")
	after := want()
	if len(got) != 3+5*testPartitions {
		t.Errorf("the partitions page shows %d values, want %d: %v", len(got), 3+5*testPartitions, got)
	}
	// Throughput moves between reads: the page must match the status
	// read just before it or the one just after.
	if d1, d2 := diffValues(got, before), diffValues(got, after); len(d1) > 0 && len(d2) > 0 {
		t.Errorf("the partitions page differs from GET /v1/status:\n%s", strings.Join(d1, "\n"))
	}
	b.shot(t, "partitions")
}

// testTokenInBrowser signs in to the instance with a token: the pages
// and the API refuse the browser until it does, a wrong token is told
// so, and once signed in the pages, their script's reads and the live
// updates work while writes stay refused.
func testTokenInBrowser(t *testing.T, f *fixture, b *browser) {
	b.open(t, f.locked.url+"/skus/TEE-RED-M")
	b.wait(t, "the sign-in form", `location.pathname === "/signin" && !!document.getElementById("token")`)
	if code := eval[int](t, b, `fetch("/v1/skus/TEE-RED-M").then((r) => r.status)`); code != 401 {
		t.Errorf("GET /v1/skus/TEE-RED-M before signing in: %d, want 401", code)
	}
	b.shot(t, "signin")
	b.do(t, "typing a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"))
	b.follow(t, `form[action="/signin"] button`)
	if got := b.text(t, ".problem"); !strings.Contains(got, "not this instance's token") {
		t.Errorf("a wrong token: the page says %q", got)
	}
	b.do(t, "typing the token", chromedp.SendKeys(chromedp.CSS("#token"), testToken))
	b.follow(t, `form[action="/signin"] button`)
	if path := eval[string](t, b, `location.pathname`); path != "/skus/TEE-RED-M" {
		t.Fatalf("after signing in the browser is at %s, want /skus/TEE-RED-M", path)
	}
	var s processors.SKUJSON
	f.getJSON(t, "/v1/skus/TEE-RED-M", &s)
	if diffs := diffValues(b.values(t, "#state"), skuValues(s)); len(diffs) > 0 {
		t.Errorf("signed in, the SKU page differs from the API:\n%s", strings.Join(diffs, "\n"))
	}
	b.wait(t, "the live updates to connect", `document.getElementById("live").classList.contains("on")`)
	for expr, want := range map[string]int{
		`fetch("/v1/skus/TEE-RED-M").then((r) => r.status)`:                           200,
		`fetch("/v1/events", {method: "POST", body: "{}\n"}).then((r) => r.status)`:   401,
		`fetch("/v1/holds/TEE-RED-M/H-77", {method: "DELETE"}).then((r) => r.status)`: 401,
	} {
		if got := eval[int](t, b, expr); got != want {
			t.Errorf("signed in, %s: %d, want %d", expr, got, want)
		}
	}
	if cookies := eval[string](t, b, `document.cookie`); strings.Contains(cookies, processors.SessionCookie) {
		t.Errorf("the session cookie is readable by scripts: %q", cookies)
	}
	b.open(t, f.locked.url+"/?q=MUG")
	b.wait(t, "the search results", `document.querySelectorAll("#results a.sku").length === 1`)
	b.follow(t, `form.signout button`)
	if path := eval[string](t, b, `location.pathname`); path != "/signin" {
		t.Errorf("after signing out the browser is at %s, want /signin", path)
	}
}
