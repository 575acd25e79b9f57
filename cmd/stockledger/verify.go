package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors/audit"
)

// verify's exit statuses, as cmp(1) and diff(1) have them.
const (
	verifyMatch   = 0
	verifyDiffer  = 1
	verifyTrouble = 2
)

func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "verify [--data DIR | --http ADDR] [--brokers a,b] [--topic-prefix P] [--max-diffs N]", stderr)
	af := addAuditFlags(fs)
	data := fs.String("data", envOr("STOCKLEDGER_DATA", "./data"), "the stopped processor's --data directory (its store is DIR/ledger, opened read-only)")
	httpAddr := fs.String("http", "", "HTTP address of a running processor (its --http): verify a checkpoint of its store, made beside it, instead of --data")
	maxDiffs := fs.Int("max-diffs", 20, "differing SKUs to describe per partition")
	scratch := fs.String("scratch", "", "directory for the replayed store (must not exist or be empty; kept). Default: a temporary directory, removed after")
	var token, tokenFile string
	var ts settings
	ts.addSecret("http-token", strVal(&token), "with --http: the processor's bearer token (its --http-token)")
	ts.add("http-token-file", strVal(&tokenFile), "with --http: file holding the processor's bearer token")
	ts.bind(fs, os.LookupEnv)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return exitError{2, fmt.Errorf("verify: unexpected argument %q", pos[0])}
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return err
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return exitError{2, fmt.Errorf("%s: %w", ts.get("http-token-file").label(), err)}
		}
		token = strings.TrimSpace(string(b))
	}
	if err := ts.err(); err != nil {
		return exitError{2, err}
	}
	live, closeLive, err := openLive(ctx, *data, *httpAddr, token)
	if err != nil {
		return exitError{verifyTrouble, err}
	}
	defer closeLive()
	dir, cleanup, err := scratchDir(*scratch)
	if err != nil {
		return exitError{verifyTrouble, err}
	}
	defer cleanup()
	var prog audit.Progress
	stopBar := startProgress(stderr, *af.quiet, "verify", &prog)
	res, err := audit.Verify(ctx, cfg, live, dir, *maxDiffs, &prog)
	stopBar()
	if err != nil {
		return exitError{verifyTrouble, explainKafkaErr(err)}
	}
	defer res.Replay.Close()
	differ, skus := 0, 0
	for _, c := range res.Partitions {
		if c.Match {
			fmt.Fprintf(stdout, "partition %d at offset %d: %d SKUs, checksum %s: match\n", c.Partition, c.Next, c.Live.SKUs, c.Live.Hex()[:16])
			continue
		}
		differ++
		n := len(c.Diffs) + c.More
		skus += n
		fmt.Fprintf(stdout, "partition %d at offset %d: checksum live %s (%d SKUs), replay %s (%d SKUs): %d SKU(s) differ\n",
			c.Partition, c.Next, c.Live.Hex()[:16], c.Live.SKUs, c.Replay.Hex()[:16], c.Replay.SKUs, n)
		if c.Replay.Next != c.Next {
			fmt.Fprintf(stdout, "  the replay reached offset %d, not %d\n", c.Replay.Next, c.Next)
		}
		for _, p := range c.Policies {
			fmt.Fprintf(stdout, "  partition state: %s\n", p)
		}
		for _, d := range c.Diffs {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
		if c.More > 0 {
			fmt.Fprintf(stdout, "  ... and %d more\n", c.More)
		}
	}
	if differ == 0 {
		fmt.Fprintf(stdout, "verify: the live ledger equals the events topic replayed to its offsets (%d partitions)\n", len(res.Partitions))
		return nil
	}
	return exitError{verifyDiffer, fmt.Errorf("verify: the live ledger differs from the events topic replayed to its offsets in %d partition(s), %d SKU(s)", differ, skus)}
}

// openLive opens the live store read-only: the stopped processor's, or a
// checkpoint the running one makes on request (Pebble lets one process
// open a store, so a running processor's cannot be opened directly).
func openLive(ctx context.Context, data, httpAddr, token string) (*store.Store, func(), error) {
	if httpAddr == "" {
		dir := filepath.Join(data, "ledger")
		if _, err := os.Stat(dir); err != nil {
			return nil, nil, fmt.Errorf("no ledger store at %s: %w", dir, err)
		}
		st, err := store.Open(dir, store.Options{ReadOnly: true})
		if err != nil {
			return nil, nil, fmt.Errorf("%w (if the processor is running on it, stop it, or pass --http with its HTTP address to verify a checkpoint instead)", err)
		}
		return st, func() { st.Close() }, nil
	}
	st, dir, err := openCheckpoint(ctx, httpAddr, token)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close(); os.RemoveAll(dir) }, nil
}

// openCheckpoint asks a running processor for a checkpoint and opens it.
// While it is open, the store holds Pebble's lock on it, and the processor
// removes only checkpoints nobody holds; one removed by another request
// between the answer and the open is gone (never half there), so it asks
// again. A checkpoint it could not open is left to the processor, which
// removes it at the next request.
func openCheckpoint(ctx context.Context, addr, token string) (*store.Store, string, error) {
	var err error
	for range 3 {
		dir, rerr := requestCheckpoint(ctx, addr, token)
		if rerr != nil {
			return nil, "", rerr
		}
		st, oerr := store.Open(dir, store.Options{ReadOnly: true})
		if oerr == nil {
			return st, dir, nil
		}
		err = fmt.Errorf("opening checkpoint %s (verify must run on the processor's machine): %w", dir, oerr)
	}
	return nil, "", err
}

// requestCheckpoint asks a running processor for a checkpoint of its store.
func requestCheckpoint(ctx context.Context, addr, token string) (string, error) {
	url := addr
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	url = strings.TrimSuffix(url, "/") + "/v1/checkpoint"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking the processor for a checkpoint: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("checkpoint response from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || body.Path == "" {
		return "", fmt.Errorf("checkpoint from %s: %s %s", url, resp.Status, body.Error)
	}
	return body.Path, nil
}
