package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const (
	holdSynopsis    = "hold --http ADDR [--token T] --sku S --channel C --qty N --ttl 15m [--location L] [--allow-partial] [--hold-id H]"
	releaseSynopsis = "hold release --http ADDR [--token T] --sku S --hold-id H"
)

// holdAttempts is how often hold asks before it gives up on an instance
// that does not answer with a result (504, 503, no connection): a retry
// carries the same hold_id, so it gets the same decision.
const holdAttempts = 3

// holdCmd places or releases a hold through a processor's checkout API
// and prints the hold result as one JSON line. Exit status 0: granted,
// partial, released (or converted); 1: refused, expired, or no result;
// 2: usage.
func holdCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "release" {
		return releaseCmd(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("hold", holdSynopsis+"\n       stockledger "+releaseSynopsis, stderr)
	api := addHoldAPIFlags(fs)
	sku := fs.String("sku", "", "the SKU (or --listing-sku with --channel)")
	listing := fs.String("listing-sku", "", "the channel's listing SKU instead of --sku (the processor resolves it)")
	channel := fs.String("channel", "", "the channel the hold is for (required)")
	qty := fs.Int64("qty", 0, "units to hold, at least 1 (required)")
	ttl := fs.Duration("ttl", 0, "how long the hold lasts, at most 168h (or --expires-at)")
	expiresAt := fs.String("expires-at", "", "when the hold expires, RFC 3339 (instead of --ttl)")
	location := fs.String("location", "", "hold at this location (default: the channel's unassigned units)")
	partial := fs.Bool("allow-partial", false, "grant what the channel can offer when it is less than --qty")
	holdID := fs.String("hold-id", "", "the hold's id, unique per SKU (default: a random one); run again with the same id to retry")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := api.check(pos); err != nil {
		return err
	}
	if *holdID == "" {
		*holdID = "h-" + randomHex()
	}
	body := map[string]any{"channel": *channel, "qty": *qty, "hold_id": *holdID, "allow_partial": *partial}
	for k, v := range map[string]string{"sku": *sku, "listing_sku": *listing, "expires_at": *expiresAt, "location": *location} {
		if v != "" {
			body[k] = v
		}
	}
	if *ttl != 0 {
		body["ttl"] = ttl.String()
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return api.call(ctx, http.MethodPost, "/v1/holds", b, stdout)
}

// releaseCmd releases a hold.
func releaseCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("hold release", releaseSynopsis, stderr)
	api := addHoldAPIFlags(fs)
	sku := fs.String("sku", "", "the SKU (required)")
	holdID := fs.String("hold-id", "", "the hold's id (required)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := api.check(pos); err != nil {
		return err
	}
	if *sku == "" || *holdID == "" {
		fs.Usage()
		return exitError{2, errors.New("hold release: --sku and --hold-id are required")}
	}
	return api.call(ctx, http.MethodDelete, "/v1/holds/"+url.PathEscape(*sku)+"/"+url.PathEscape(*holdID), nil, stdout)
}

// holdAPIFlags say where the checkout API is.
type holdAPIFlags struct {
	addr, token, tokenFile *string
	timeout                *time.Duration
}

func addHoldAPIFlags(fs *flag.FlagSet) *holdAPIFlags {
	return &holdAPIFlags{
		addr:      fs.String("http", envOr("STOCKLEDGER_HTTP", "127.0.0.1:8080"), "HTTP address of a running processor (any instance of the group)"),
		token:     fs.String("token", envOr("STOCKLEDGER_HTTP_TOKEN", ""), "the processor's bearer token (its --http-token; prefer STOCKLEDGER_HTTP_TOKEN or --token-file)"),
		tokenFile: fs.String("token-file", envOr("STOCKLEDGER_HTTP_TOKEN_FILE", ""), "file holding the processor's bearer token"),
		timeout:   fs.Duration("timeout", 10*time.Second, "time one request may take"),
	}
}

// check refuses positional arguments and reads the token file.
func (f *holdAPIFlags) check(pos []string) error {
	if len(pos) != 0 {
		return exitError{2, fmt.Errorf("hold: unexpected argument %q", pos[0])}
	}
	if *f.tokenFile != "" {
		b, err := os.ReadFile(*f.tokenFile)
		if err != nil {
			return exitError{2, fmt.Errorf("--token-file: %w", err)}
		}
		*f.token = strings.TrimSpace(string(b))
	}
	return nil
}

// call sends the request (again, up to holdAttempts, while the instance
// gives no answer), prints a hold result and turns its status into the
// exit status.
func (f *holdAPIFlags) call(ctx context.Context, method, path string, body []byte, stdout io.Writer) error {
	base := *f.addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	var code int
	var got []byte
	var err error
	for attempt := range holdAttempts {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		code, got, err = f.send(ctx, method, strings.TrimSuffix(base, "/")+path, body)
		if err == nil && code != http.StatusGatewayTimeout && code != http.StatusServiceUnavailable {
			break
		}
	}
	if err != nil {
		return err
	}
	var res struct {
		Type   string `json:"type"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if jerr := json.Unmarshal(got, &res); jerr != nil || res.Type != "hold_result" {
		if res.Error == "" {
			res.Error = strings.TrimSpace(string(got))
		}
		if code == http.StatusBadRequest || code == http.StatusUnprocessableEntity {
			return exitError{2, fmt.Errorf("%d: %s", code, res.Error)}
		}
		return fmt.Errorf("%d: %s", code, res.Error)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, got); err != nil {
		return err
	}
	fmt.Fprintln(stdout, line.String())
	if res.Status == "refused" || res.Status == "expired" {
		return exitError{1, errors.New("")}
	}
	return nil
}

// send makes one request.
func (f *holdAPIFlags) send(ctx context.Context, method, u string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, *f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, exitError{2, err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if *f.token != "" {
		req.Header.Set("Authorization", "Bearer "+*f.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("asking %s: %w", u, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer of %s: %w", u, err)
	}
	return resp.StatusCode, got, nil
}

// randomHex is 16 random bytes in hex.
func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
