package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/processors/publish/standin"
)

// TestPublishUnderFaultsAndSIGKILL is issue 18's acceptance of `publish`:
// a processor folds a generated stream while `stockledger publish` sends
// the web channel's values to a stand-in that fails, throttles and answers
// late at random, and the publisher is SIGKILLed and restarted. The
// channel must end holding the model's last value of every key, must
// never have received a lower version of a key after a higher one, and
// the publisher must never have exceeded the rate limit.
func TestPublishUnderFaultsAndSIGKILL(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (again with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x9b1))
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	n := 30_000
	ks := newKillStream(ctx, t, gen.Config{Seed: seed, SKUs: 300, DupPct: 3, RefusePct: 3, Zipf: 1.1,
		PolicyChanges: []int{n / 3, 2 * n / 3}, Part2: true}, n)
	data := filepath.Join(t.TempDir(), "data")
	// Transactions put markers in the updates topic: the publisher must
	// see its partitions' ends past them.
	proc := startRun(t, "run", ks.cl, data, "--exactly-once")
	waitOwned(ctx, t, proc)

	secret := "webhook-secret"
	const rate, burst = 10, 3
	ch, err := standin.Start([]byte(secret), rate, burst, standin.Faults{Seed: seed, Throttle: 0.05, Fail: 0.08,
		ApplyThenFail: 0.04, Late: 0.03, LateBy: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	lives := &publisherLives{start: func(name string) *child {
		ch.NewClient()
		return startPublish(t, name, ks.cl, filepath.Dir(data), ch.URL(), secret,
			"--rate", strconv.Itoa(rate)+"/s", "--burst", strconv.Itoa(burst), "--batch", "5",
			"--timeout", "500ms", "--backoff-min", "20ms", "--backoff-max", "500ms", "--log-level", "debug")
	}}
	lives.next()
	defer func() {
		if t.Failed() {
			t.Logf("last publisher's log:\n%s", lives.cur.logTail())
		}
	}()
	started := time.Now()
	const chunks = 24
	for i := range chunks {
		if err := e2etest.Produce(ctx, ks.prod, ks.wire[i*n/chunks:(i+1)*n/chunks]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+rng.IntN(400)) * time.Millisecond)
		if i%5 == 2 {
			lives.killWhileSending(ctx, t, time.Duration(rng.IntN(500))*time.Millisecond)
		}
	}
	// A last kill after the stream ended, while the publisher still has a
	// backlog (rate-limited): the keys it had not sent get no later update,
	// so only offsets kept below them bring them back. (After at least one
	// commit: the publisher commits every second.)
	pending := lives.killWhileSending(ctx, t, time.Duration(1300+rng.IntN(1000))*time.Millisecond)
	t.Logf("produced with %d publisher kills in %v, the last with %d keys pending", lives.n-1, time.Since(started).Round(time.Millisecond), pending)
	pub := lives.cur
	waitCaughtUp(ctx, t, proc, kadm.NewClient(ks.prod.Client()))
	t.Logf("processor caught up at %v", time.Since(started).Round(time.Millisecond))
	exp := <-ks.exp
	want := channelFinal(exp.Final, "web")
	waitChannel(ctx, t, ch, pub, want)
	t.Logf("channel equal to the model at %v", time.Since(started).Round(time.Millisecond))
	pub.terminate(t)
	proc.terminate(t)
	r := ch.Report()
	t.Logf("%d keys; stand-in: %d requests, by status %v, %d late items not applied; %d publisher lives", len(want), r.Requests, r.ByStatus, r.LateDropped, lives.n)
	for _, list := range [][]string{r.Breaches, r.Regressions, r.Invalid, r.Impatient} {
		for _, s := range list[:min(len(list), 10)] {
			t.Error(s)
		}
	}
	if r.ByStatus[500] == 0 || r.ByStatus[429] == 0 {
		t.Errorf("the stand-in should have failed and throttled some requests: %v", r.ByStatus)
	}
}

// publisherLives are the successive `publish` processes of a test.
type publisherLives struct {
	start func(name string) *child
	n     int
	cur   *child
}

func (l *publisherLives) next() {
	l.n++
	l.cur = l.start(fmt.Sprintf("publish-%d", l.n))
}

// killWhileSending waits until the current publisher sends, lets it send
// for d, SIGKILLs it and starts the next; it returns the keys it had
// pending. Killed once sending, not while joining the group: kfake keeps a
// member killed in the middle of its join for a rebalance timeout, a
// broker bug real Kafka does not have.
func (l *publisherLives) killWhileSending(ctx context.Context, t *testing.T, d time.Duration) int {
	t.Helper()
	waitPublisherReady(ctx, t, l.cur)
	time.Sleep(d)
	st, _ := publisherStatus(l.cur)
	l.cur.kill(t)
	l.next()
	return st.KeysPending
}

// channelFinal is the model's last value of each of channel's keys, by the
// stand-in's target (sku, or sku NUL listing_sku).
func channelFinal(final map[string]int64, channel string) map[string]int64 {
	out := map[string]int64{}
	for k, v := range final {
		rest, ok := strings.CutPrefix(k, channel+"/")
		if !ok {
			continue
		}
		// The generator's codes hold no '/': a second one starts the listing.
		if sku, listing, ok := strings.Cut(rest, "/"); ok {
			rest = sku + "\x00" + listing
		}
		out[rest] = v
	}
	return out
}

// waitChannel waits until the stand-in holds want, and the publisher has
// nothing pending.
func waitChannel(ctx context.Context, t *testing.T, ch *standin.Channel, pub *child, want map[string]int64) {
	t.Helper()
	idleSince := time.Now()
	for {
		got := ch.State()
		var diff []string
		for k, v := range want {
			if g, ok := got[k]; !ok || g.Available != v {
				diff = append(diff, fmt.Sprintf("%q: channel has %d (present %t), the model's last value is %d", k, g.Available, ok, v))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				diff = append(diff, fmt.Sprintf("%q: on the channel, not in the model", k))
			}
		}
		st, err := publisherStatus(pub)
		idle := err == nil && st.CaughtUp && st.KeysPending == 0
		if len(diff) == 0 && idle {
			return
		}
		if !idle {
			idleSince = time.Now()
		}
		// A publisher with nothing left to send for a while will not fix
		// the difference.
		if ctx.Err() != nil || pub.exited() || time.Since(idleSince) > 15*time.Second {
			t.Fatalf("the channel never reached the model's values (publisher: %+v, %v); %d differ:\n%s\n%s", st, err, len(diff),
				strings.Join(diff[:min(len(diff), 10)], "\n"), pub.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitPublisherReady waits until the publisher has caught up and sends.
func waitPublisherReady(ctx context.Context, t *testing.T, pub *child) {
	t.Helper()
	for {
		if st, err := publisherStatus(pub); err == nil && st.CaughtUp {
			return
		}
		if ctx.Err() != nil || pub.exited() {
			t.Fatalf("%s never caught up:\n%s", pub.name, pub.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type pubStatus struct {
	CaughtUp    bool `json:"caught_up"`
	KeysPending int  `json:"keys_pending"`
}

func publisherStatus(c *child) (pubStatus, error) {
	var st pubStatus
	resp, err := http.Get(c.url + "/healthz")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// startPublish starts `stockledger publish --channel web` on cl, logging
// into dir.
func startPublish(t *testing.T, name string, cl *cluster, dir, webhook, secret string, extra ...string) *child {
	t.Helper()
	port := freePort(t)
	logPath := filepath.Join(dir, name+".log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, cl: cl, log: logPath, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	c.cmd = exec.Command(binPath, "publish", "--brokers", cl.brokers, "--topic-prefix", cl.prefix,
		"--channel", "web", "--group", cl.group+"-publish-web", "--webhook", webhook, "--session-timeout", sessionTimeout,
		"--http", fmt.Sprintf("127.0.0.1:%d", port))
	c.cmd.Args = append(append(c.cmd.Args, cl.args...), extra...)
	c.cmd.Env = append(os.Environ(), "STOCKLEDGER_PUBLISH_SECRET="+secret)
	c.start(t, logf)
	return c
}

// TestPublishFlags: a bad setting is named, with exit status 2, before
// anything connects.
func TestPublishFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--webhook", "http://127.0.0.1:1/", "--secret", "s"}, "--channel is required"},
		{[]string{"--channel", "web", "--secret", "s"}, `--webhook "": want an http:// or https:// URL`},
		{[]string{"--channel", "web", "--webhook", "http://127.0.0.1:1/"}, "--secret is required"},
		{[]string{"--channel", "web", "--webhook", "http://127.0.0.1:1/", "--secret", "s", "--rate", "5/h"}, `--rate "5/h": want N/s or N/m`},
		{[]string{"--channel", "web", "--webhook", "http://127.0.0.1:1/", "--secret", "s", "--rate", "NaN"}, "--rate NaN: want a finite number"},
		{[]string{"--channel", "web", "--webhook", "http://127.0.0.1:1/", "--secret", "s", "--batch", "0"}, "--batch 0: want at least 1"},
		{[]string{"--channel", "web", "--webhook", "http://127.0.0.1:1/", "--secret-file", "/nonexistent"}, "--secret-file"},
	} {
		_, stderr, code := cli(ctx, t, nil, append([]string{"publish"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("publish %v: exit %d, stderr %q; want 2 and %q", c.args, code, lastLine(stderr), c.want)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
