package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
)

// Live updates: GET /skus/{sku}/events is a stream of server-sent events
// that carries the SKU's state each time its version changes. The stream
// polls the store (the API reads the store, never the fold's memory, and
// the store is at most one commit interval behind), renders the SKU
// page's live part with the page's own template and sends it with the
// state as JSON; the script swaps it in. An event's id is the version, so
// a browser that reconnects (EventSource does by itself) says which
// version it has in Last-Event-ID and gets only what is newer.

// streamWriteTimeout bounds one write to a stream's client: the server's
// WriteTimeout would end every stream after it, so a stream sets its own
// deadline before each write instead.
const streamWriteTimeout = 10 * time.Second

// update is the data of a stream's "state" event.
type update struct {
	Version uint64             `json:"version"`
	State   processors.SKUJSON `json:"state"`
	HTML    string             `json:"html"` // the page's live part, rendered
}

// serveStream serves GET /skus/{sku}/events until the client leaves, the
// SKU's partition moves to another instance, or the console closes.
func (c *Console) serveStream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("sku")
	switch {
	case !c.authorized(r):
		http.Error(w, "sign in first: /signin", http.StatusUnauthorized)
		return
	case !ledger.ValidCode(name, ledger.MaxSKUBytes):
		http.Error(w, "not a SKU code: "+codeProblem(name), http.StatusBadRequest)
		return
	case !c.p.Owns(c.p.PartitionOf(name)):
		http.Error(w, "this instance does not own the SKU's partition", http.StatusMisdirectedRequest)
		return
	}
	select {
	case c.streams <- struct{}{}:
		defer func() { <-c.streams }()
	case <-c.stop:
		http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
		return
	default:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many live-update streams open", http.StatusServiceUnavailable)
		return
	}
	have, _ := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64) // none or unreadable: 0, send the state
	if v := r.URL.Query().Get("version"); v != "" && have == 0 {
		have, _ = strconv.ParseUint(v, 10, 64) // the version the page was rendered at
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold events back
	w.WriteHeader(http.StatusOK)
	s := stream{w: w, rc: http.NewResponseController(w)}
	// retry: how long a browser waits before it reconnects.
	if err := s.send("retry: 2000\n\n"); err != nil {
		return
	}
	c.follow(r, &s, name, have)
}

// follow polls the SKU and sends each new version, with keep-alives in
// between, until the stream ends.
func (c *Console) follow(r *http.Request, s *stream, name string, have uint64) {
	poll := time.NewTicker(c.cfg.PollInterval)
	defer poll.Stop()
	lastWrite := time.Now()
	for {
		sent, err := c.sendNew(s, name, &have)
		if err != nil {
			return
		}
		if !sent && time.Since(lastWrite) >= c.cfg.KeepAlive {
			if s.send(": keep-alive\n\n") != nil {
				return
			}
			sent = true
		}
		if sent {
			lastWrite = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-c.stop:
			return
		case <-poll.C:
		}
	}
}

// sendNew sends the SKU's state when its version is not have, and tells
// the client when its partition moved away (the stream then ends). It
// reports whether it wrote; an error ends the stream.
func (c *Console) sendNew(s *stream, name string, have *uint64) (bool, error) {
	part := c.p.PartitionOf(name)
	if !c.p.Owns(part) {
		_ = s.send("event: moved\ndata: {}\n\n") // the script reloads: the page then names the owner
		return true, errStreamEnded
	}
	sku, found, err := c.p.SKU(name)
	if err != nil || !found || sku.Version == *have {
		return false, nil // a read that failed is tried again next poll
	}
	state := processors.NewSKUJSON(&sku, part)
	var html bytes.Buffer
	if err := c.pages["sku"].ExecuteTemplate(&html, "state", newSKUState(state, time.Now())); err != nil {
		return false, fmt.Errorf("rendering the live state: %w", err)
	}
	data, err := json.Marshal(update{Version: sku.Version, State: state, HTML: html.String()})
	if err != nil {
		return false, err
	}
	if err := s.send(fmt.Sprintf("event: state\nid: %d\ndata: %s\n\n", sku.Version, data)); err != nil {
		return false, err
	}
	*have = sku.Version
	return true, nil
}

// errStreamEnded ends a stream that has nothing more to send.
var errStreamEnded = errors.New("stream ended")

// stream writes server-sent events to one client.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// send writes and flushes msg, within streamWriteTimeout.
func (s *stream) send(msg string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	if _, err := s.w.Write([]byte(msg)); err != nil {
		return err
	}
	return s.rc.Flush()
}
