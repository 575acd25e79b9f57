package processors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// POST /v1/events: upstream systems write events over HTTP, without a
// Kafka client of their own (Avro single-object encoding, Java's murmur2
// partitioner). The body is JSON Lines, read as produce reads a file
// (ReadEvents); each event goes to its SKU's partition, a channel_policy
// to every partition. A body with a bad line is refused whole, unless
// ?partial=true, which writes the good ones. Writing is idempotent by
// event_id: a body posted again writes its events again, and the ledger
// skips each as a duplicate (part 1's de-duplication), so it is applied
// once.

// IngestConfig configures POST /v1/events. Start from DefaultIngestConfig.
type IngestConfig struct {
	// MaxBodyBytes caps a body (413 past it). Default 16 MiB.
	MaxBodyBytes int64
	// MaxLines caps the lines of a body, blank ones included (413 past
	// it). Default 100,000.
	MaxLines int
	// Listings resolves events naming a listing_sku against the listings
	// the ledger applied (a ListingResolver); nil: none was applied, and
	// such a line is refused (unresolved_listing).
	Listings ListingView
}

// DefaultIngestConfig returns an IngestConfig with every default set.
func DefaultIngestConfig() IngestConfig {
	return IngestConfig{MaxBodyBytes: 16 << 20, MaxLines: 100_000}
}

func (c *IngestConfig) problems(bad func(field, f string, a ...any)) {
	if c.MaxBodyBytes < 1 {
		bad("Ingest.MaxBodyBytes", "%d must be positive", c.MaxBodyBytes)
	}
	if c.MaxLines < 1 {
		bad("Ingest.MaxLines", "%d must be positive", c.MaxLines)
	}
}

// ingestAPI is a processor's ingest state: the producer, made by the first
// request that writes, and the metrics.
type ingestAPI struct {
	lines *prometheus.CounterVec
	mu    struct {
		sync.Mutex
		prod   *EventProducer
		closed bool
	}
}

func newIngestMetrics(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stockledger_ingest_lines_total",
		Help: "Lines of POST /v1/events bodies, by outcome: accepted (written), refused (bad), or unwritten (good, in a body refused whole or not written).",
	}, []string{"outcome"})
	reg.MustRegister(c)
	return c
}

// producer returns the ingest's producer, connecting on first use.
func (p *Processor) ingestProducer(ctx context.Context) (*EventProducer, error) {
	in := &p.ingest
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.mu.closed {
		return nil, errors.New("the processor is stopping")
	}
	if in.mu.prod == nil {
		prod, err := NewEventProducer(ctx, p.cfg.Brokers, p.cfg.Topics, p.numPartitions, p.cfg.ClientOpts...)
		if err != nil {
			return nil, err
		}
		in.mu.prod = prod
	}
	return in.mu.prod, nil
}

// close closes the producer, if made; later requests get 503.
func (in *ingestAPI) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.closed = true
	if in.mu.prod != nil {
		in.mu.prod.Close()
	}
}

// IngestLine is one line's answer: accepted (written), refused (with the
// reason), or unwritten (good, but the body was refused whole or could
// not be written).
type IngestLine struct {
	Line    int    `json:"line"`
	Status  string `json:"status"`
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// IngestAnswer is the answer to POST /v1/events.
type IngestAnswer struct {
	Accepted int          `json:"accepted"`
	Refused  int          `json:"refused"`
	Error    string       `json:"error,omitempty"`
	Lines    []IngestLine `json:"lines"`
}

// serveIngest serves POST /v1/events.
func (p *Processor) serveIngest(cfg IngestConfig) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		partial := r.URL.Query().Get("partial")
		if partial != "" && partial != "true" && partial != "false" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "partial: want true or false, got " + partial})
			return
		}
		views := func() (ListingView, error) { return cfg.Listings, nil }
		events, bad, err := ReadEvents(r.Body, p.framing, views, cfg.MaxLines)
		if code, msg := ingestReadFailed(err, cfg); code != 0 {
			writeJSON(w, code, map[string]string{"error": msg})
			return
		}
		if len(events) == 0 && len(bad) == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "no events: the body is JSON Lines, one event per line"})
			return
		}
		a := ingestLines(events, bad)
		code := http.StatusOK
		switch {
		case len(bad) > 0 && partial != "true":
			code, a.Error = http.StatusUnprocessableEntity,
				fmt.Sprintf("%d invalid line(s); nothing written (?partial=true writes the %d valid ones)", len(bad), len(events))
		case len(events) > 0:
			if err := p.writeIngested(r.Context(), events); err != nil {
				code, a.Error = http.StatusServiceUnavailable, "writing the events: "+err.Error()+"; nothing or some of them written: post the body again (the ledger skips what it has)"
				break
			}
			a.accept()
		}
		p.ingest.lines.WithLabelValues("accepted").Add(float64(a.Accepted))
		p.ingest.lines.WithLabelValues("refused").Add(float64(a.Refused))
		p.ingest.lines.WithLabelValues("unwritten").Add(float64(len(events) - a.Accepted))
		writeJSON(w, code, a)
	}
}

// ingestReadFailed maps a failed read of a body to its answer (0: none).
func ingestReadFailed(err error, cfg IngestConfig) (int, string) {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit)
	case errors.Is(err, ErrTooManyLines):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d lines in one body: send them in several", cfg.MaxLines)
	}
	return http.StatusBadRequest, err.Error()
}

// ingestLines answers every line: the good ones unwritten (accept marks
// them written), the bad ones refused, in line order.
func ingestLines(events []EncodedEvent, bad []LineError) IngestAnswer {
	a := IngestAnswer{Refused: len(bad), Lines: make([]IngestLine, 0, len(events)+len(bad))}
	i, j := 0, 0
	for i < len(events) || j < len(bad) {
		if j == len(bad) || (i < len(events) && events[i].Line < bad[j].Line) {
			a.Lines = append(a.Lines, IngestLine{Line: events[i].Line, Status: "unwritten", EventID: events[i].EventID})
			i++
			continue
		}
		a.Lines = append(a.Lines, IngestLine{Line: bad[j].Line, Status: "refused", Reason: bad[j].Reason, Detail: bad[j].Detail})
		j++
	}
	return a
}

// accept marks the good lines written.
func (a *IngestAnswer) accept() {
	for i := range a.Lines {
		if a.Lines[i].Status == "unwritten" {
			a.Lines[i].Status = "accepted"
			a.Accepted++
		}
	}
}

// writeIngested writes events to the events topic and waits for Kafka.
func (p *Processor) writeIngested(ctx context.Context, events []EncodedEvent) error {
	prod, err := p.ingestProducer(ctx)
	if err != nil {
		return err
	}
	return prod.SendAll(ctx, events)
}
