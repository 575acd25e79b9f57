package processors

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// Reading events from JSON Lines, the spec's JSON form, for the tools that
// write them (produce, POST /v1/events): every line parsed and validated
// as the ledger would, listings resolved, each event encoded for the
// events topic; bad lines named by number with their reason.

// MaxLineBytes bounds one JSON line of an input.
const MaxLineBytes = 1 << 20

// EncodedEvent is a validated event ready to send: from line Line of its
// input, keyed by SKU, or to every partition (Policy: a channel_policy).
type EncodedEvent struct {
	Line    int
	EventID string
	SKU     string
	Policy  bool
	Value   []byte
}

// LineError is a line the ledger would refuse: its number (from 1), the
// reason (a dead-letter reason, or listing_conflict) and what is wrong.
type LineError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// ErrTooManyLines: an input has more lines than its reader takes.
var ErrTooManyLines = errors.New("too many lines")

// ReadError is a failure to read an input (not a bad line).
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// ReadEvents parses and validates every line of in, returning the good
// ones encoded (framed by fr; nil: single-object encoding) and the bad ones.
// Blank lines are skipped. Lines naming a listing_sku instead of a sku are
// resolved, and listing events checked, against the view listings returns
// (called once, at the first such line) and the input's listing events
// before them; an error from listings ends the read. maxLines > 0 bounds
// the lines read (*ReadError wrapping ErrTooManyLines past it).
func ReadEvents(in io.Reader, fr *schemas.Framing, listings func() (ListingView, error), maxLines int) (events []EncodedEvent, bad []LineError, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	var ev ledger.Event
	var input *ListingInput
	for n := 1; sc.Scan(); n++ {
		if maxLines > 0 && n > maxLines {
			return nil, nil, &ReadError{fmt.Errorf("%w: more than %d", ErrTooManyLines, maxLines)}
		}
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		reason, detail := schemas.ParseEventJSON(line, &ev)
		if reason == ledger.ReasonNone && input == nil && NeedsListings(&ev) {
			view, err := listings()
			if err != nil {
				return nil, nil, fmt.Errorf("reading the listings (line %d names a listing): %w", n, err)
			}
			input = NewListingInput(view)
		}
		code := ""
		if reason != ledger.ReasonNone {
			code = reason.String()
		} else {
			code, detail = checkLine(input, &ev, line)
		}
		if code != "" {
			bad = append(bad, LineError{n, code, detail})
			continue
		}
		v, err := fr.EncodeEvent(nil, &ev)
		if err != nil {
			bad = append(bad, LineError{n, "encoding", err.Error()})
			continue
		}
		if input != nil {
			input.Accept(&ev)
		}
		events = append(events, EncodedEvent{Line: n, EventID: ev.ID, SKU: ev.SKU, Policy: ev.Type == ledger.TypeChannelPolicy, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &ReadError{fmt.Errorf("reading input: %w", err)}
	}
	return events, bad, nil
}

// checkLine resolves a parsed event's listing (when it names one instead
// of its sku), validates it, and checks a listing event against the
// listings; it returns what is wrong as a code (a dead-letter reason, or
// listing_conflict) and a detail, or "". input is nil when no line so far
// needed the listings.
func checkLine(input *ListingInput, ev *ledger.Event, line []byte) (code, detail string) {
	if input != nil {
		if err := input.Resolve(ev, lineChannel(ev, line)); err != nil {
			return ledger.ReasonUnresolvedListing.String(), err.Error()
		}
	}
	if reason, detail := ledger.Validate(ev); reason != ledger.ReasonNone {
		return reason.String(), detail
	}
	if input != nil {
		if err := input.Check(ev); err != nil {
			return "listing_conflict", err.Error()
		}
	}
	return "", ""
}

// lineChannel is the channel an event names: its channel field, or, for
// the types that have none (order_cancelled, hold_released, return), the
// line's "channel" member, which names the listing's channel and is not
// written.
func lineChannel(ev *ledger.Event, line []byte) string {
	if ev.Has&ledger.FieldChannel != 0 {
		return ev.Channel
	}
	var m struct {
		Channel string `json:"channel"`
	}
	_ = json.Unmarshal(line, &m) // a line ParseEventJSON read; a channel that is no string is none
	return m.Channel
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
