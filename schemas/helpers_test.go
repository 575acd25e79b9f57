package schemas

// Test helpers. They read the .avsc files from disk and talk to goavro
// directly, so the tests compare this package's codecs with an
// independent implementation, never with themselves.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/stockledger/stockledger/ledger"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: from the clock)")

// testSeed returns the seed to use, logging it so a failure can be replayed
// with -seed.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// schemaFile is a schema read from disk with its goavro codec.
type schemaFile struct {
	text   string
	codec  *goavro.Codec
	header []byte // 0xC3 0x01 and the fingerprint fastavro computed
	fields []schemaFieldInfo
}

// single encodes native as goavro does, headed with the specification's
// fingerprint (goavro's own header carries its non-standard one).
func (sf *schemaFile) single(native map[string]any) ([]byte, error) {
	return sf.codec.BinaryFromNative(append([]byte(nil), sf.header...), native)
}

// native decodes a message of sf with goavro, checking the header.
func (sf *schemaFile) native(b []byte) (any, []byte, error) {
	if !bytes.HasPrefix(b, sf.header) {
		return nil, b, fmt.Errorf("header %x, want %x", b[:min(len(b), 10)], sf.header)
	}
	return sf.codec.NativeFromBinary(b[len(sf.header):])
}

// fastavroFingerprints reads testdata/fastavro_fingerprints.txt: path ->
// the 8 fingerprint bytes in wire order.
var fastavroFingerprints = sync.OnceValue(func() map[string][]byte {
	b, err := os.ReadFile("testdata/fastavro_fingerprints.txt")
	if err != nil {
		panic(err)
	}
	m := map[string][]byte{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		path, hexFP, _ := strings.Cut(line, " ")
		fp, err := hex.DecodeString(hexFP)
		if err != nil || len(fp) != 8 {
			panic("bad line " + line)
		}
		m[path] = fp
	}
	return m
})

type schemaFieldInfo struct {
	name     string
	optional bool // a union with null
}

var (
	schemaFilesMu sync.Mutex
	schemaFiles   = map[string]*schemaFile{}
)

// loadSchemaFile reads and compiles a schema file (cached). t may be nil.
func loadSchemaFile(t testing.TB, path string) *schemaFile {
	schemaFilesMu.Lock()
	defer schemaFilesMu.Unlock()
	if s, ok := schemaFiles[path]; ok {
		return s
	}
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err) // the test's own files
	}
	codec, err := goavro.NewCodec(string(b))
	if err != nil {
		panic(fmt.Sprintf("%s: %v", path, err))
	}
	var rec struct {
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		panic(err)
	}
	fp, ok := fastavroFingerprints()[path]
	if !ok {
		panic(path + " has no line in testdata/fastavro_fingerprints.txt")
	}
	s := &schemaFile{text: string(b), codec: codec, header: append([]byte{0xC3, 0x01}, fp...)}
	for _, f := range rec.Fields {
		s.fields = append(s.fields, schemaFieldInfo{name: f.Name, optional: strings.HasPrefix(string(f.Type), `["null"`)})
	}
	schemaFiles[path] = s
	return s
}

func eventFile(t testing.TB, typ ledger.EventType) *schemaFile {
	return loadSchemaFile(t, filepath.Join("events", typ.String()+".avsc"))
}

// fieldByName maps a spec field name to its ledger.Field, through ledger's
// own names.
func fieldByName(name string) ledger.Field {
	for i := 0; i < 32; i++ {
		if f := ledger.Field(1 << i); f.String() == name {
			return f
		}
	}
	panic("no ledger field " + name)
}

// randomEvent makes an event of type typ with every field of its current
// schema, optional ones present half the time, values drawn from edge
// cases and random data.
func randomEvent(rng *rand.Rand, typ ledger.EventType, sf *schemaFile) ledger.Event {
	ev := ledger.Event{Type: typ, Has: ledger.FieldType}
	for _, f := range sf.fields {
		if f.optional && rng.IntN(2) == 0 {
			continue
		}
		field := fieldByName(f.name)
		ev.Has |= field
		switch kind := fieldKinds[f.name]; {
		case kind == "code":
			*stringField(&ev, field) = randomCode(rng)
		case kind == "text":
			*stringField(&ev, field) = randomString(rng)
		case kind == "boolean":
			*boolField(&ev, field) = rng.IntN(2) == 0
		case f.name == "safety_stock":
			seen := map[string]bool{}
			for range rng.IntN(6) {
				k := randomCode(rng)
				if !seen[k] {
					seen[k] = true
					ev.SafetyStock = append(ev.SafetyStock, ledger.LocQty{Location: k, Qty: ledger.Qty(randomLong(rng))})
				}
			}
		case f.name == "locations":
			for range rng.IntN(6) {
				ev.Locations = append(ev.Locations, randomCode(rng))
			}
		default:
			*longField(&ev, field) = randomLong(rng) // panics on a field it does not know
		}
	}
	return ev
}

// fieldKinds sorts the event fields that are not longs: codes (a few
// recurring values: the interner's case), other text, booleans.
var fieldKinds = map[string]string{
	"source": "code", "location": "code", "to_location": "code", "channel": "code", "reason": "code",
	"event_id": "text", "sku": "text", "po_id": "text", "order_id": "text", "transfer_id": "text",
	"hold_id": "text", "listing_sku": "text",
	"resellable": "boolean", "allow_partial": "boolean", "active": "boolean", "exclude": "boolean",
}

func randomLong(rng *rand.Rand) int64 {
	switch rng.IntN(8) {
	case 0:
		return [...]int64{0, 1, -1, 63, 64, -64, -65, math.MaxInt64, math.MinInt64, 1_000_000_000}[rng.IntN(10)]
	case 1:
		return int64(rng.Uint64())
	case 2:
		return -rng.Int64N(1 << 40)
	default:
		return rng.Int64N(1 << uint(rng.IntN(62)+1))
	}
}

var codes = []string{"dc-east", "dc-west", "store-12", "web", "amazon", "ebay", "pos", "3pl-α"}

// randomCode returns a recurring code most of the time (the interner's
// case) and a random string otherwise.
func randomCode(rng *rand.Rand) string {
	if rng.IntN(4) > 0 {
		return codes[rng.IntN(len(codes))]
	}
	return randomString(rng)
}

func randomString(rng *rand.Rand) string {
	const alphabet = "abcXYZ019-_/ \"\\\n\x00é€😀"
	runes := []rune(alphabet)
	n := rng.IntN(20)
	if rng.IntN(20) == 0 {
		n = 200 + rng.IntN(200)
	}
	var b strings.Builder
	for range n {
		b.WriteRune(runes[rng.IntN(len(runes))])
	}
	return b.String()
}

// eventNative converts ev to goavro's native form for a schema with the
// given fields: union values wrapped, absent optional fields nil.
func eventNative(ev *ledger.Event, sf *schemaFile) map[string]any {
	m := map[string]any{}
	for _, f := range sf.fields {
		present := ev.Has&fieldByName(f.name) != 0
		v := nativeValue(ev, f.name)
		switch {
		case f.optional && !present:
			v = nil
		case f.optional:
			kind := "string"
			switch v.(type) {
			case int64:
				kind = "long"
			case bool:
				kind = "boolean"
			case []any:
				kind = "array"
			}
			v = goavro.Union(kind, v)
		case !present:
			continue // the schema's default applies
		}
		m[f.name] = v
	}
	return m
}

// nativeValue is field name of ev as goavro takes it.
func nativeValue(ev *ledger.Event, name string) any {
	f := fieldByName(name)
	switch kind := fieldKinds[name]; {
	case kind == "code" || kind == "text":
		return *stringField(ev, f)
	case kind == "boolean":
		return *boolField(ev, f)
	case name == "safety_stock":
		ss := map[string]any{}
		for _, e := range ev.SafetyStock {
			ss[e.Location] = int64(e.Qty)
		}
		return ss
	case name == "locations":
		ls := []any{}
		for _, l := range ev.Locations {
			ls = append(ls, l)
		}
		return ls
	}
	return *longField(ev, f)
}

// nativeEvent converts goavro's decoding of an event record of type typ to
// an event, independently of the package under test. Fields the current
// schema of typ lacks are ignored, as a reader does.
func nativeEvent(typ ledger.EventType, native any) ledger.Event {
	m := native.(map[string]any)
	ev := ledger.Event{Type: typ, Has: ledger.FieldType}
	known := map[string]bool{}
	for _, f := range loadSchemaFile(nil, filepath.Join("events", typ.String()+".avsc")).fields {
		known[f.name] = true
	}
	for name, v := range m {
		if !known[name] {
			continue
		}
		if u, ok := v.(map[string]any); ok && name != "safety_stock" {
			for _, x := range u { // a union branch
				v = x
			}
		}
		if v == nil {
			continue
		}
		f := fieldByName(name)
		ev.Has |= f
		switch x := v.(type) {
		case string:
			*stringField(&ev, f) = x
		case int64:
			*longField(&ev, f) = x
		case time.Time:
			*longField(&ev, f) = x.UnixMicro()
		case bool:
			*boolField(&ev, f) = x
		case map[string]any:
			for k, q := range x {
				ev.SafetyStock = append(ev.SafetyStock, ledger.LocQty{Location: k, Qty: ledger.Qty(q.(int64))})
			}
		case []any:
			for _, l := range x {
				ev.Locations = append(ev.Locations, l.(string))
			}
		default:
			panic(fmt.Sprintf("nativeEvent: %s is %T", name, v))
		}
	}
	return ev
}

func stringField(ev *ledger.Event, f ledger.Field) *string {
	switch f {
	case ledger.FieldEventID:
		return &ev.ID
	case ledger.FieldSKU:
		return &ev.SKU
	case ledger.FieldSource:
		return &ev.Source
	case ledger.FieldLocation:
		return &ev.Location
	case ledger.FieldToLocation:
		return &ev.ToLocation
	case ledger.FieldChannel:
		return &ev.Channel
	case ledger.FieldPOID:
		return &ev.POID
	case ledger.FieldOrderID:
		return &ev.OrderID
	case ledger.FieldTransferID:
		return &ev.TransferID
	case ledger.FieldReason:
		return &ev.Reason
	case ledger.FieldHoldID:
		return &ev.HoldID
	case ledger.FieldListingSKU:
		return &ev.ListingSKU
	}
	panic("not a string field: " + f.String())
}

func boolField(ev *ledger.Event, f ledger.Field) *bool {
	switch f {
	case ledger.FieldResellable:
		return &ev.Resellable
	case ledger.FieldAllowPartial:
		return &ev.AllowPartial
	case ledger.FieldActive:
		return &ev.Active
	case ledger.FieldExclude:
		return &ev.Exclude
	}
	panic("not a boolean field: " + f.String())
}

func longField(ev *ledger.Event, f ledger.Field) *int64 {
	switch f {
	case ledger.FieldQty:
		return (*int64)(&ev.Qty)
	case ledger.FieldCounted:
		return (*int64)(&ev.Counted)
	case ledger.FieldOnHandDelta:
		return (*int64)(&ev.OnHandDelta)
	case ledger.FieldUnavailableDelta:
		return (*int64)(&ev.UnavailableDelta)
	case ledger.FieldReorderPoint:
		return (*int64)(&ev.ReorderPoint)
	case ledger.FieldBuffer:
		return (*int64)(&ev.Buffer)
	case ledger.FieldSharePct:
		return &ev.SharePct
	case ledger.FieldMaxQty:
		return (*int64)(&ev.MaxQty)
	case ledger.FieldOccurredAt:
		return &ev.OccurredAt
	case ledger.FieldExpiresAt:
		return &ev.ExpiresAt
	case ledger.FieldUnits:
		return (*int64)(&ev.Units)
	case ledger.FieldEndAt:
		return (*int64)(&ev.EndAt)
	case ledger.FieldLeadTimeDays:
		return &ev.LeadTimeDays
	}
	panic("not a long field: " + f.String())
}

// normalized returns a copy of ev comparable with reflect.DeepEqual: the
// safety stock sorted by location (goavro's maps have no order), empty
// slices nil.
func normalized(ev ledger.Event) ledger.Event {
	ev.SafetyStock = slices.Clone(ev.SafetyStock)
	slices.SortFunc(ev.SafetyStock, func(a, b ledger.LocQty) int { return strings.Compare(a.Location, b.Location) })
	if len(ev.SafetyStock) == 0 {
		ev.SafetyStock = nil
	}
	if len(ev.Locations) == 0 {
		ev.Locations = nil
	}
	return ev
}

func sameEvent(t testing.TB, what string, got, want ledger.Event) {
	t.Helper()
	if g, w := normalized(got), normalized(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func headerFP(fp uint64) []byte {
	h := []byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

// withGoavroLimits lowers goavro's MaxBlockCount for the test: goavro
// allocates a block's items before reading them, so a garbage count of
// 2^31 would have it allocate gigabytes. Inputs stay far smaller than the
// limit, so it changes no verdict: a count above it is also past the end.
func withGoavroLimits(t testing.TB) {
	old := goavro.MaxBlockCount
	goavro.MaxBlockCount = 1 << 16
	t.Cleanup(func() { goavro.MaxBlockCount = old })
}
