package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
)

// ParseEventJSON parses one event in the JSON Lines form into ev (reset
// first), setting ev.Has for every field present. It follows
// ledger/DECISIONS.md:
//
//   - not UTF-8, or a string escaping half of a UTF-16 surrogate pair
//     alone: ReasonUndecodable (see checkText);
//   - not one JSON object (or data after it): ReasonUndecodable;
//   - no "type" (or null): ReasonMissingField; an unknown one:
//     ReasonUnknownType; one that is not a string: ReasonInvalidField;
//   - a field of the wrong JSON type, a number that is not a 64-bit integer
//     (1.5, 1e3), an occurred_at or expires_at that is not RFC 3339, a
//     boolean that is not true or false: ReasonInvalidField,
//     unless a field checked earlier has a problem, which wins;
//   - null is an absent field; fields the type does not have are ignored.
//
// occurred_at and expires_at become UTC microseconds (finer digits are
// dropped). Like
// DecodeEvent it leaves range and code checks to ledger.Validate. When the
// type is missing or unknown, ev still gets event_id and sku if they are
// strings, for the dead letter.
func ParseEventJSON(line []byte, ev *ledger.Event) (ledger.Reason, string) {
	ev.Reset()
	if problem := checkText(line); problem != "" {
		return ledger.ReasonUndecodable, problem
	}
	var buf [24]member
	obj, err := splitObject(line, buf[:0])
	if err != nil {
		return ledger.ReasonUndecodable, "not a JSON object: " + err.Error()
	}
	raw, ok := obj.get("type")
	if !ok || isNull(raw) {
		obj.bestEffortIDs(ev)
		return ledger.ReasonMissingField, "missing type"
	}
	ev.Has = ledger.FieldType // present, if not known
	var name string
	if raw[0] != '"' || json.Unmarshal(raw, &name) != nil {
		obj.bestEffortIDs(ev)
		return ledger.ReasonInvalidField, "type " + string(raw) + " is not a string"
	}
	t, ok := ledger.ParseEventType(name)
	if !ok {
		obj.bestEffortIDs(ev)
		return ledger.ReasonUnknownType, "unknown type " + strconv.Quote(name)
	}
	ev.Type = t
	rd := current.events[t]
	for i := range rd.fields {
		f := &rd.fields[i]
		raw, ok := obj.get(f.name)
		if !ok || isNull(raw) {
			continue
		}
		if problem := parseJSONField(ev, f, raw); problem != "" {
			return firstProblem(ev, f.slot.field(), ledger.ReasonInvalidField, problem)
		}
		ev.Has |= f.slot.field()
	}
	return ledger.ReasonNone, ""
}

// checkText returns what makes line not Unicode text, or "". JSON text
// must be UTF-8 (RFC 8259), and encoding/json reads an invalid byte, or an
// escaped surrogate without its other half, as U+FFFD: SKUs PROD-\xff and
// PROD-\xfe would both be read as PROD-\uFFFD and merge. So the whole
// line is refused, wherever the bad text is (a key or a field nobody reads
// included): a writer that emits it has a bug worth seeing, and a line read
// in part cannot be trusted to say what it meant.
func checkText(line []byte) string {
	if !utf8.Valid(line) {
		i := 0
		for {
			r, size := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return fmt.Sprintf("not valid UTF-8 at byte %d (0x%02x): JSON text must be UTF-8", i+1, line[i])
	}
	if i := unpairedSurrogate(line); i >= 0 {
		return fmt.Sprintf("unpaired surrogate escape %s at byte %d: a string must be Unicode text", line[i:i+6], i+1)
	}
	return ""
}

// unpairedSurrogate returns the index of the first \u escape of a UTF-16
// surrogate that is not half of a high-low pair, or -1. In JSON a
// backslash appears only inside strings, and it starts an escape unless
// it is itself escaped (an odd run of backslashes before it).
func unpairedSurrogate(line []byte) int {
	for i := 0; ; {
		j := bytes.Index(line[i:], []byte(`\u`))
		if j < 0 {
			return -1
		}
		j += i
		i = j + 2
		run := 0
		for k := j - 1; k >= 0 && line[k] == '\\'; k-- {
			run++
		}
		r, ok := hex4(line, j+2)
		if run%2 == 1 || !ok || !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xDC00 {
			return j // a low half first
		}
		if len(line) < j+8 || line[j+6] != '\\' || line[j+7] != 'u' {
			return j
		}
		if r2, ok := hex4(line, j+8); !ok || r2 < 0xDC00 || r2 > 0xDFFF {
			return j
		}
		i = j + 12
	}
}

// hex4 reads the four hex digits at b[i:], as a \u escape holds them.
func hex4(b []byte, i int) (rune, bool) {
	if len(b) < i+4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(v), err == nil
}

// member is one key and raw value of a JSON object.
type member struct {
	key string
	raw json.RawMessage
}

type object []member

// get returns the value of key; the last one wins, as in encoding/json.
func (o object) get(key string) (json.RawMessage, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].key == key {
			return o[i].raw, true
		}
	}
	return nil, false
}

func (o object) bestEffortIDs(ev *ledger.Event) {
	for _, f := range [...]struct {
		key string
		s   slot
	}{{"event_id", sEventID}, {"sku", sSKU}} {
		var s string
		if raw, ok := o.get(f.key); ok && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			setString(ev, f.s, s)
			ev.Has |= f.s.field()
		}
	}
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// splitObject reads line as exactly one JSON object and returns its
// members, appended to dst.
func splitObject(line []byte, dst object) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("does not start with {")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		dst = append(dst, member{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return dst, nil
}

// parseJSONField parses raw (not null) into field f of ev; it returns a
// problem description, or "".
func parseJSONField(ev *ledger.Event, f *readerField, raw json.RawMessage) string {
	switch slotKinds[f.slot] {
	case valString:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return f.name + " must be a string, not " + string(raw)
		}
		setString(ev, f.slot, s)
	case valLong:
		if f.slot.isTime() {
			return parseTime(ev, f, raw)
		}
		v, problem := jsonInt(f.name, raw)
		if problem != "" {
			return problem
		}
		setLong(ev, f.slot, v)
	case valBool:
		switch string(raw) {
		case "true", "false":
			setBool(ev, f.slot, string(raw) == "true")
		default:
			return f.name + " must be true or false, not " + string(raw)
		}
	case valLocQtys:
		return parseSafetyStock(ev, raw)
	case valStrings:
		return parseLocations(ev, raw)
	}
	return ""
}

// parseTime reads a time field (occurred_at, expires_at) as UTC
// microseconds, dropping finer digits.
func parseTime(ev *ledger.Event, f *readerField, raw json.RawMessage) string {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return f.name + " must be an RFC 3339 string, not " + string(raw)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return f.name + " " + strconv.Quote(s) + " is not an RFC 3339 time"
	}
	setLong(ev, f.slot, t.UnixMicro())
	return ""
}

// jsonInt parses a JSON integer that fits in an int64 exactly.
func jsonInt(what string, raw []byte) (int64, string) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, what + " must be an integer, not " + string(raw)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if bytes.ContainsAny(raw, ".eE") {
			return 0, what + " " + string(raw) + " is not an integer"
		}
		return 0, what + " " + string(raw) + " does not fit in 64 bits"
	}
	return v, ""
}

// parseSafetyStock reads an object of location -> units, keeping its order
// (and any repeated key, for ledger.Validate to refuse).
func parseSafetyStock(ev *ledger.Event, raw json.RawMessage) string {
	const want = "safety_stock must be an object of location to units"
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return want + ", not " + string(raw)
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return want
		}
		tok, err = dec.Token()
		n, ok := tok.(json.Number)
		if err != nil || !ok {
			return "safety_stock[" + strconv.Quote(key) + "] must be an integer"
		}
		v, problem := jsonInt("safety_stock["+strconv.Quote(key)+"]", []byte(n))
		if problem != "" {
			return problem
		}
		ev.SafetyStock = append(ev.SafetyStock, ledger.LocQty{Location: key, Qty: ledger.Qty(v)})
	}
	return ""
}

func parseLocations(ev *ledger.Event, raw json.RawMessage) string {
	const want = "locations must be an array of strings"
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, _ := dec.Token(); tok != json.Delim('[') {
		return want + ", not " + string(raw)
	}
	for dec.More() {
		tok, err := dec.Token()
		s, ok := tok.(string)
		if err != nil || !ok {
			return want
		}
		ev.Locations = append(ev.Locations, s)
	}
	return ""
}
