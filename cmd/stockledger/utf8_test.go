package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// unreachable is a broker address nothing listens on: a command that gets
// as far as Kafka fails there, so a test sees whether it refused first.
const unreachable = "127.0.0.1:1"

// inprocInput runs the command line in this process with stdin and returns its
// output and exit status (inproc, with input).
func inprocInput(ctx context.Context, stdin string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	err := dispatch(ctx, args, strings.NewReader(stdin), &o, &e)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = 1
	}
	if err != nil {
		fmt.Fprintln(&e, "stockledger:", err)
	}
	return o.String(), e.String(), code
}

// TestProduceRefusesInvalidUTF8: JSON Lines must be UTF-8. Two SKUs that
// differ only in bytes that are not UTF-8 (PROD-\xff, PROD-\xfe) were read
// as one, PROD-\uFFFD, holding both receipts. produce refuses each such
// line by number, as it refuses any bad line, and sends nothing.
func TestProduceRefusesInvalidUTF8(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	const at = `"occurred_at":"2026-11-22T10:00:00Z","location":"dc","po_id":"PO-1"`
	lines := []string{
		`{"event_id":"r-0","type":"receipt","sku":"PROD-\uFFFD",` + at + `,"qty":1}`,
		"{\"event_id\":\"r-1\",\"type\":\"receipt\",\"sku\":\"PROD-\xff\"," + at + ",\"qty\":5}",
		"{\"event_id\":\"r-2\",\"type\":\"receipt\",\"sku\":\"PROD-\xfe\"," + at + ",\"qty\":7}",
		"{\"event_id\":\"r-3\",\"type\":\"receipt\",\"sku\":\"PROD-3\"," + at + ",\"qty\":7,\"note\":\"caf\xe9\"}",
	}
	_, stderr, code := inprocInput(ctx, strings.Join(lines, "\n")+"\n", "produce", "--brokers", unreachable, "-")
	if code != 2 {
		t.Errorf("exit %d, want 2\nstderr:\n%s", code, stderr)
	}
	for n := 2; n <= 4; n++ {
		prefix := fmt.Sprintf("line %d: undecodable: ", n)
		i := strings.Index(stderr, prefix)
		if i < 0 || !strings.Contains(stderr[i:strings.IndexByte(stderr[i:], '\n')+i], "UTF-8") {
			t.Errorf("line %d (%q) not refused as undecodable UTF-8\nstderr:\n%s", n, lines[n-1], stderr)
		}
	}
	if strings.Contains(stderr, "line 1:") {
		t.Errorf("the valid line 1 was refused\nstderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "3 invalid line(s); nothing sent") {
		t.Errorf("want the whole input refused\nstderr:\n%s", stderr)
	}
}

// TestPolicySetRefusesInvalidUTF8: policy set builds its event from its
// flags; a flag that is not UTF-8 is refused, not turned into U+FFFD (which
// would set the policy of another channel, or name another location).
func TestPolicySetRefusesInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		flag  string
		flags []string
	}{
		{"--channel", []string{"--channel", "web\xff"}},
		{"--locations", []string{"--channel", "web", "--locations", "dc,st\xfeore"}},
		{"--event-id", []string{"--channel", "web", "--event-id", "p-\xc3"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		args := append([]string{"policy", "set", "--brokers", unreachable}, tc.flags...)
		_, stderr, code := inprocInput(ctx, "", args...)
		cancel()
		if code != 2 || !strings.Contains(stderr, tc.flag) || !strings.Contains(stderr, "UTF-8") {
			t.Errorf("%q: exit %d, want 2 naming %s and UTF-8\nstderr:\n%s", args, code, tc.flag, stderr)
		}
	}
}
