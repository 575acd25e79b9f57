package schemas

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

// soeHeaderLen is the length of a single-object-encoding header: the magic
// 0xC3 0x01 and the schema's 8-byte little-endian Rabin fingerprint.
const soeHeaderLen = 10

// Registry knows every schema version messages may be written with, keyed
// by fingerprint: the current schemas, embedded in this package, and any
// older or newer version added with Register. Lookups take no lock; it is
// safe for concurrent use.
type Registry struct {
	mu   sync.Mutex                        // serializes Register
	byFP atomic.Pointer[map[uint64]*entry] // copy on write
	ids  confluentIDs                      // schema registry ids (confluent.go)
}

// entry is one registered schema version.
type entry struct {
	fp    uint64
	name  string // record full name; "" when the schema is not a record
	codec *goavro.Codec
	event *eventProgram // nil when the record is not an event type
}

func (e *entry) describe() string {
	if e.name == "" {
		return "non-record schema " + fpString(e.fp)
	}
	return e.name + " (" + fpString(e.fp) + ")"
}

func fpString(fp uint64) string { return "fingerprint " + fmt.Sprintf("%016x", fp) }

// NewRegistry returns a registry holding the current schemas.
func NewRegistry() *Registry {
	r := &Registry{}
	m := map[uint64]*entry{}
	r.byFP.Store(&m)
	for _, t := range ledger.EventTypes() {
		r.mustRegister(current.events[t].text)
	}
	r.mustRegister(current.update.text)
	r.mustRegister(current.alert.text)
	r.mustRegister(current.deadLetter.text)
	r.mustRegister(current.holdResult.text)
	r.mustRegister(current.listingBinding.text)
	return r
}

func (r *Registry) mustRegister(text string) {
	if _, err := r.Register(text); err != nil {
		panic("schemas: registering an embedded schema: " + err.Error())
	}
}

// Register adds a schema version (an Avro schema in JSON) and returns its
// fingerprint (see Fingerprint). Registering a version already known does
// nothing. Messages written with a version of an event record (a full name
// such as stockledger.events.Receipt) decode onto the current schema by
// field name. Messages headed with goavro's fingerprint of the schema,
// which differs from the specification's when the schema has logical
// types, are accepted too.
func (r *Registry) Register(schemaJSON string) (uint64, error) {
	codec, err := goavro.NewCodec(schemaJSON) // validates the schema
	if err != nil {
		return 0, fmt.Errorf("parsing schema: %w", err)
	}
	t, err := parseSchema(schemaJSON)
	if err != nil {
		return 0, fmt.Errorf("parsing schema: %w", err)
	}
	fp := rabin(canonicalForm(t))
	if r.lookup(fp) != nil {
		return fp, nil
	}
	e := &entry{fp: fp, codec: codec}
	if t.kind == kindRecord {
		e.name = t.name
		if rd := current.byName[t.name]; rd != nil {
			e.event = compileEvent(t, rd)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.byFP.Load()
	if _, ok := old[fp]; ok {
		return fp, nil
	}
	m := make(map[uint64]*entry, len(old)+2)
	for k, v := range old {
		m[k] = v
	}
	m[fp] = e
	if _, taken := m[codec.Rabin]; !taken {
		m[codec.Rabin] = e // goavro's fingerprint, an alias
	}
	r.byFP.Store(&m)
	return fp, nil
}

// Known reports whether a schema with fingerprint fp is registered.
func (r *Registry) Known(fp uint64) bool { return r.lookup(fp) != nil }

func (r *Registry) lookup(fp uint64) *entry { return (*r.byFP.Load())[fp] }

// frame checks a message's header and finds its schema: single-object
// encoding (0xC3 0x01, fingerprint) or the Confluent wire format (0x00,
// schema id). hdr is the header's length. err is set only when a schema
// registry could not be asked (see DecodeEvent).
func (r *Registry) frame(b []byte) (e *entry, hdr int, reason ledger.Reason, detail string, err error) {
	if len(b) > 0 && b[0] == confluentMagic {
		e, reason, detail, err = r.confluentFrame(b)
		return e, confluentHeaderLen, reason, detail, err
	}
	if len(b) < soeHeaderLen {
		return nil, 0, ledger.ReasonUndecodable, "message of " + strconv.Itoa(len(b)) + " bytes is shorter than a single-object header", nil
	}
	if b[0] != 0xC3 || b[1] != 0x01 {
		return nil, 0, ledger.ReasonUndecodable, fmt.Sprintf("message starts with %#02x %#02x, not the single-object marker 0xc3 0x01 nor the Confluent magic byte 0x00", b[0], b[1]), nil
	}
	fp := binary.LittleEndian.Uint64(b[2:])
	e = r.lookup(fp)
	if e == nil {
		return nil, 0, ledger.ReasonUnknownSchema, "no schema with " + fpString(fp), nil
	}
	return e, soeHeaderLen, ledger.ReasonNone, "", nil
}

// RecordName returns the full name of the record a message (single-object
// or Confluent framed) was written as (e.g. stockledger.ChannelStockUpdate),
// so a tool reading a topic can pick the decoder.
func (r *Registry) RecordName(b []byte) (string, error) {
	e, _, reason, detail, err := r.frame(b)
	if err != nil {
		return "", err
	}
	if reason != ledger.ReasonNone {
		return "", fmt.Errorf("%s: %s", reason, detail)
	}
	return e.name, nil
}

// Full names of the output records.
const (
	UpdateRecordName     = "stockledger.ChannelStockUpdate"
	AlertRecordName      = "stockledger.Alert"
	DeadLetterRecordName = "stockledger.DeadLetter"
	HoldResultRecordName = "stockledger.HoldResult"
	// ListingBindingRecordName is the listings topic's record.
	ListingBindingRecordName = "stockledger.ListingBinding"
)

// IsEventRecord reports whether name is the full name of an event record.
func IsEventRecord(name string) bool { return current.byName[name] != nil }
