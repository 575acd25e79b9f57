package schemas

import (
	"embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

// The current schemas: the reader side of every decode and the writer side
// of every encode.
//
//go:embed events/*.avsc channel_stock_update.avsc alert.avsc dead_letter.avsc hold_result.avsc listing_binding.avsc
var files embed.FS

// slot is the bit index of a ledger.Field: which Event field a schema field
// fills. The constants follow ledger's Field order (a test checks it), so a
// switch over slots compiles to a jump table.
type slot uint8

const (
	sEventID slot = iota
	sType
	sSKU
	sOccurredAt
	sSource
	sLocation
	sToLocation
	sChannel
	sPOID
	sOrderID
	sTransferID
	sQty
	sResellable
	sOnHandDelta
	sUnavailableDelta
	sReason
	sCounted
	sSafetyStock
	sReorderPoint
	sLocations
	sBuffer
	sSharePct
	sMaxQty
	sHoldID
	sExpiresAt
	sAllowPartial
	sListingSKU
	sUnits
	sActive
	sExclude
	sEndAt
	sLeadTimeDays
	numSlots
)

func (s slot) field() ledger.Field { return 1 << s }

// isTime reports whether s holds microseconds since the epoch: Avro
// timestamp-micros, RFC 3339 in the JSON form.
func (s slot) isTime() bool { return s == sOccurredAt || s == sExpiresAt }

// valueKind is the Go shape of a slot's value in ledger.Event.
type valueKind uint8

const (
	valString  valueKind = iota
	valLong              // int64 or ledger.Qty
	valBool              // Resellable, AllowPartial, Active, Exclude
	valLocQtys           // SafetyStock: Avro map<long>
	valStrings           // Locations: Avro array<string>
	valNone              // Type: implied by the record name
)

var slotKinds = [numSlots]valueKind{
	sEventID: valString, sType: valNone, sSKU: valString, sOccurredAt: valLong,
	sSource: valString, sLocation: valString, sToLocation: valString, sChannel: valString,
	sPOID: valString, sOrderID: valString, sTransferID: valString, sQty: valLong,
	sResellable: valBool, sOnHandDelta: valLong, sUnavailableDelta: valLong, sReason: valString,
	sCounted: valLong, sSafetyStock: valLocQtys, sReorderPoint: valLong, sLocations: valStrings,
	sBuffer: valLong, sSharePct: valLong, sMaxQty: valLong,
	sHoldID: valString, sExpiresAt: valLong, sAllowPartial: valBool, sListingSKU: valString,
	sUnits: valLong, sActive: valBool, sExclude: valBool, sEndAt: valLong, sLeadTimeDays: valLong,
}

// internSlots are the low-cardinality codes a Decoder interns: a handful of
// locations, channels, sources and adjustment reasons recur across millions
// of events. (safety_stock keys and locations entries are interned too.)
// Ids (event, order, hold) and SKUs, listing SKUs included, are not: they
// are many, and interning them would only churn the table.
var internSlots = [numSlots]bool{
	sSource: true, sLocation: true, sToLocation: true, sChannel: true, sReason: true,
	sSafetyStock: true, sLocations: true,
}

// slotByName maps a field name of the spec (ledger.Field.String) to its slot.
var slotByName = func() map[string]slot {
	m := make(map[string]slot, numSlots)
	for s := slot(0); s < numSlots; s++ {
		m[s.field().String()] = s
	}
	return m
}()

// readerField is one field of a current event schema.
type readerField struct {
	name     string
	slot     slot
	optional bool // union ["null", X]: absent is written as null
	hasDef   bool // a non-null default: what a writer lacking the field means
	defLong  int64
	defBool  bool
	defStr   string
}

// readerEvent is the current schema of one event type.
type readerEvent struct {
	typ    ledger.EventType
	name   string // record full name, e.g. stockledger.events.Receipt
	text   string
	header [10]byte // single-object-encoding header of this schema
	fields []readerField
	bySlot [numSlots]int8 // index into fields, -1 when the type lacks the field
}

// has reports whether s is a field of this event type.
func (r *readerEvent) has(s slot) bool { return r.bySlot[s] >= 0 }

// outputSchema is the current schema of one output record.
type outputSchema struct {
	name   string
	text   string
	fp     uint64
	header [10]byte // single-object-encoding header
	codec  *goavro.Codec
}

type currentSchemas struct {
	events                                []*readerEvent // by ledger.EventType; nil for TypeUnknown
	byName                                map[string]*readerEvent
	update, alert, deadLetter, holdResult outputSchema
	listingBinding                        outputSchema
}

// current is loaded once from the embedded files; it is never modified.
var current = loadCurrent()

func loadCurrent() *currentSchemas {
	c := &currentSchemas{byName: map[string]*readerEvent{}}
	types := ledger.EventTypes()
	c.events = make([]*readerEvent, int(types[len(types)-1])+1)
	for _, t := range types {
		r, err := loadReaderEvent(t)
		if err != nil {
			panic("schemas: embedded schema: " + err.Error())
		}
		c.events[t] = r
		c.byName[r.name] = r
	}
	c.update = mustOutput("channel_stock_update.avsc", UpdateRecordName)
	c.alert = mustOutput("alert.avsc", AlertRecordName)
	c.deadLetter = mustOutput("dead_letter.avsc", DeadLetterRecordName)
	c.holdResult = mustOutput("hold_result.avsc", HoldResultRecordName)
	c.listingBinding = mustOutput("listing_binding.avsc", ListingBindingRecordName)
	return c
}

func readFile(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("schemas: embedded schema: " + err.Error())
	}
	return string(b)
}

func mustOutput(file, name string) outputSchema {
	text := readFile(file)
	codec, err := goavro.NewCodec(text)
	if err != nil {
		panic(fmt.Sprintf("schemas: embedded %s: %v", file, err))
	}
	st, err := parseSchema(text)
	if err != nil || st.kind != kindRecord || st.name != name {
		panic(fmt.Sprintf("schemas: embedded %s: want record %s (%v)", file, name, err))
	}
	fp := rabin(canonicalForm(st))
	return outputSchema{name: st.name, text: text, fp: fp, header: soeHeader(fp), codec: codec}
}

func soeHeader(fp uint64) [10]byte {
	var h [10]byte
	h[0], h[1] = 0xC3, 0x01
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

// loadReaderEvent reads events/<type>.avsc and checks that every field is
// one the ledger knows, with the Avro type its Go field can hold.
func loadReaderEvent(t ledger.EventType) (*readerEvent, error) {
	file := path.Join("events", t.String()+".avsc")
	text := readFile(file)
	if _, err := goavro.NewCodec(text); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	st, err := parseSchema(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if st.kind != kindRecord || !strings.HasPrefix(st.name, "stockledger.events.") {
		return nil, fmt.Errorf("%s: want a record in namespace stockledger.events", file)
	}
	r := &readerEvent{typ: t, name: st.name, text: text, header: soeHeader(rabin(canonicalForm(st)))}
	for i := range r.bySlot {
		r.bySlot[i] = -1
	}
	for _, f := range st.fields {
		rf, err := readerFieldOf(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		r.bySlot[rf.slot] = int8(len(r.fields))
		r.fields = append(r.fields, rf)
	}
	return r, nil
}

func readerFieldOf(f avroField) (readerField, error) {
	s, ok := slotByName[f.name]
	if !ok || slotKinds[s] == valNone {
		return readerField{}, fmt.Errorf("field %q is not an event field", f.name)
	}
	rf := readerField{name: f.name, slot: s}
	t := f.typ
	if t.kind == kindUnion {
		if len(t.branches) != 2 || t.branches[0].kind != kindNull || f.def != nil || !f.hasDefault {
			return rf, fmt.Errorf("field %q: an optional field is [\"null\", T] with default null", f.name)
		}
		rf.optional, t = true, t.branches[1]
	}
	want := map[valueKind]avroKind{valString: kindString, valLong: kindLong, valBool: kindBoolean,
		valLocQtys: kindMap, valStrings: kindArray}[slotKinds[s]]
	if t.kind != want ||
		(t.kind == kindMap && t.values.kind != kindLong) ||
		(t.kind == kindArray && t.items.kind != kindString) ||
		(s.isTime() && t.logical != "timestamp-micros") {
		return rf, fmt.Errorf("field %q: type %s does not fit the ledger field", f.name, f.typ.describe())
	}
	if f.hasDefault && !rf.optional {
		rf.hasDef = true
		switch d := f.def.(type) {
		case bool:
			rf.defBool = d
		case string:
			rf.defStr = d
		case json.Number:
			n, err := d.Int64()
			if err != nil {
				return rf, fmt.Errorf("field %q: default %v", f.name, d)
			}
			rf.defLong = n
		default:
			return rf, fmt.Errorf("field %q: unsupported default %v", f.name, d)
		}
	}
	return rf, nil
}

// EventSchema returns the current schema text of event type t ("" for an
// unknown type), e.g. to register it with a schema registry.
func EventSchema(t ledger.EventType) string {
	if int(t) >= len(current.events) || current.events[t] == nil {
		return ""
	}
	return current.events[t].text
}

// UpdateSchema returns the current channel stock update schema text.
func UpdateSchema() string { return current.update.text }

// AlertSchema returns the current alert schema text.
func AlertSchema() string { return current.alert.text }

// DeadLetterSchema returns the current dead-letter schema text.
func DeadLetterSchema() string { return current.deadLetter.text }

// HoldResultSchema returns the current hold result schema text.
func HoldResultSchema() string { return current.holdResult.text }

// ListingBindingSchema returns the current listing binding schema text.
func ListingBindingSchema() string { return current.listingBinding.text }

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of a schema's
// Parsing Canonical Form, as the Avro specification (and its Java
// implementation) defines it: the 8 bytes after 0xC3 0x01 in a
// single-object encoded message written with it.
func Fingerprint(schemaJSON string) (uint64, error) {
	if _, err := goavro.NewCodec(schemaJSON); err != nil {
		return 0, fmt.Errorf("parsing schema: %w", err)
	}
	t, err := parseSchema(schemaJSON)
	if err != nil {
		return 0, fmt.Errorf("parsing schema: %w", err)
	}
	return rabin(canonicalForm(t)), nil
}
