package schemas

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stockledger/stockledger/ledger"
)

// The Confluent wire format, for schema registry mode: the magic byte 0x00,
// the writer schema's id in a Confluent-compatible schema registry (4
// bytes, big-endian), then the Avro binary body, the same body a
// single-object encoded message carries. A Registry reads both framings
// (the first byte tells them apart: 0xC3 or 0x00); a Framing writes one.
//
// Subjects (decided in DESIGN.md, "Schema registry"): the outputs hold one
// record each and use TopicNameStrategy (TOPIC-value); the events topic holds
// one record per event type and uses TopicRecordNameStrategy
// (TOPIC-<record full name>), so each type evolves on its own.

const (
	confluentMagic     = 0x00
	confluentHeaderLen = 5
	// maxMissingIDs bounds the ids remembered as absent from the registry.
	maxMissingIDs = 4096
	// missingTTL is how long an absent id is remembered before the registry
	// is asked again (an id may be assigned after a message claimed it).
	missingTTL = time.Minute
)

// ErrUnusableSchema is wrapped by a SchemaLookup's error when the schema
// registry answered that it has no usable schema for an id (none at all,
// or not an Avro one): messages with that id are dead letters
// (unknown_schema). Any other lookup error means the registry could not be
// asked, and is an operating failure.
var ErrUnusableSchema = errors.New("no usable Avro schema with this id")

// SchemaLookup fetches the text of a writer schema by its schema registry
// id. RegistryClient is the implementation.
type SchemaLookup interface {
	SchemaByID(ctx context.Context, id uint32) (string, error)
}

// confluentIDs is what a Registry knows of schema registry ids. The zero
// value knows none and has no lookup.
type confluentIDs struct {
	byID atomic.Pointer[map[uint32]*entry] // copy on write; nil: none yet

	mu      sync.Mutex // serializes lookups and the fields below
	lookup  SchemaLookup
	timeout time.Duration
	missing map[uint32]missingID
}

type missingID struct {
	detail string
	at     time.Time
}

// UseSchemaLookup makes r resolve the schema ids of Confluent-framed
// messages with l, each id once (answers are cached for good; ids the
// registry lacks for a minute). timeout bounds one lookup (0: 10s).
func (r *Registry) UseSchemaLookup(l SchemaLookup, timeout time.Duration) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	r.ids.mu.Lock()
	defer r.ids.mu.Unlock()
	r.ids.lookup, r.ids.timeout = l, timeout
}

// AddSchemaID records that schema registry id id is the schema schemaJSON,
// registering the schema if r does not know it yet; it returns the
// schema's fingerprint.
func (r *Registry) AddSchemaID(id uint32, schemaJSON string) (uint64, error) {
	fp, err := r.Register(schemaJSON)
	if err != nil {
		return 0, err
	}
	r.ids.mu.Lock()
	defer r.ids.mu.Unlock()
	r.setIDLocked(id, r.lookup(fp))
	return fp, nil
}

// SchemaIDKnown reports whether r knows schema registry id id without
// asking the registry.
func (r *Registry) SchemaIDKnown(id uint32) bool { return r.byID(id) != nil }

func (r *Registry) byID(id uint32) *entry {
	if m := r.ids.byID.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

func (r *Registry) setIDLocked(id uint32, e *entry) {
	var old map[uint32]*entry
	if m := r.ids.byID.Load(); m != nil {
		old = *m
	}
	m := make(map[uint32]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[id] = e
	r.ids.byID.Store(&m)
}

// confluentFrame finds the schema of a Confluent-framed message: from the
// id table, else by asking the schema registry (once per id; concurrent
// decoders wait for one answer). err is set only when the registry could
// not be asked.
func (r *Registry) confluentFrame(b []byte) (*entry, ledger.Reason, string, error) {
	if len(b) < confluentHeaderLen {
		return nil, ledger.ReasonUndecodable, "message of " + strconv.Itoa(len(b)) + " bytes is shorter than a Confluent header (0x00 and a 4-byte schema id)", nil
	}
	id := binary.BigEndian.Uint32(b[1:])
	if e := r.byID(id); e != nil {
		return e, ledger.ReasonNone, "", nil
	}
	c := &r.ids
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := r.byID(id); e != nil { // another decoder asked meanwhile
		return e, ledger.ReasonNone, "", nil
	}
	sid := "schema id " + strconv.FormatUint(uint64(id), 10)
	if c.lookup == nil {
		return nil, ledger.ReasonUnknownSchema, "Confluent-framed message with " + sid + ", but no schema registry is configured", nil
	}
	if m, ok := c.missing[id]; ok && time.Since(m.at) < missingTTL {
		return nil, ledger.ReasonUnknownSchema, m.detail, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	text, err := c.lookup.SchemaByID(ctx, id)
	cancel()
	if err != nil {
		if !errors.Is(err, ErrUnusableSchema) {
			return nil, ledger.ReasonUnknownSchema, "schema registry unavailable", fmt.Errorf("looking up %s in the schema registry: %w", sid, err)
		}
		return nil, ledger.ReasonUnknownSchema, r.missingLocked(id, err.Error()), nil
	}
	fp, err := r.Register(text)
	if err != nil {
		return nil, ledger.ReasonUnknownSchema, r.missingLocked(id, sid+" in the schema registry is not an Avro schema stockledger can read: "+err.Error()), nil
	}
	e := r.lookup(fp)
	r.setIDLocked(id, e)
	return e, ledger.ReasonNone, "", nil
}

// missingLocked remembers that id has no usable schema and returns detail.
func (r *Registry) missingLocked(id uint32, detail string) string {
	c := &r.ids
	if c.missing == nil || len(c.missing) >= maxMissingIDs {
		c.missing = make(map[uint32]missingID)
	}
	c.missing[id] = missingID{detail: detail, at: time.Now()}
	return detail
}

func appendConfluentHeader(dst []byte, id uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, confluentMagic), id)
}

// Framing says how stockledger frames the Avro messages it writes. A nil
// *Framing writes Avro single-object encoding (the default); one made by
// RegistryClient.Register writes the Confluent wire format with the ids
// the schema registry gave the current schemas. Its methods are safe for
// concurrent use.
type Framing struct {
	events                                []schemaID // by ledger.EventType
	update, alert, deadLetter, holdResult schemaID
	listingBinding                        schemaID
}

// schemaID is a schema registry id, when ok.
type schemaID struct {
	id uint32
	ok bool
}

// Confluent reports whether f writes the Confluent wire format.
func (f *Framing) Confluent() bool { return f != nil }

// AppendUpdate appends u, framed by f, to dst.
func (f *Framing) AppendUpdate(dst []byte, u *ledger.Update) []byte {
	if f == nil || !f.update.ok {
		return AppendUpdate(dst, u)
	}
	return appendUpdateBody(appendConfluentHeader(dst, f.update.id), u)
}

// AppendAlert appends a, framed by f, to dst.
func (f *Framing) AppendAlert(dst []byte, a *ledger.Alert) []byte {
	if f == nil || !f.alert.ok {
		return AppendAlert(dst, a)
	}
	return appendAlertBody(appendConfluentHeader(dst, f.alert.id), a)
}

// AppendDeadLetter appends d, framed by f, to dst.
func (f *Framing) AppendDeadLetter(dst []byte, d *DeadLetter) []byte {
	if f == nil || !f.deadLetter.ok {
		return AppendDeadLetter(dst, d)
	}
	return appendDeadLetterBody(appendConfluentHeader(dst, f.deadLetter.id), d)
}

// EncodeEvent is the package's EncodeEvent, framed by f.
func (f *Framing) EncodeEvent(dst []byte, ev *ledger.Event) ([]byte, error) {
	if f == nil || int(ev.Type) >= len(f.events) || !f.events[ev.Type].ok {
		return EncodeEvent(dst, ev)
	}
	rd, err := encodable(ev)
	if err != nil {
		return dst, err
	}
	return appendEventBody(appendConfluentHeader(dst, f.events[ev.Type].id), ev, rd), nil
}

// RegistryTopics names the topics whose subjects a RegistryClient
// registers; an empty name is skipped (produce registers only the events'
// subjects).
type RegistryTopics struct {
	Events, Updates, Alerts, DeadLetters, HoldResults, Listings string
}

// EventSubject is the subject of event type t's schema on the events
// topic: TopicRecordNameStrategy, e.g.
// stockledger.events-stockledger.events.Receipt.
func EventSubject(eventsTopic string, t ledger.EventType) string {
	if int(t) >= len(current.events) || current.events[t] == nil {
		return ""
	}
	return eventsTopic + "-" + current.events[t].name
}

// ValueSubject is the subject of an output topic's value schema:
// TopicNameStrategy, e.g. stockledger.updates-value.
func ValueSubject(topic string) string { return topic + "-value" }
