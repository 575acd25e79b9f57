package specmodel

// JSON text primitives: strings decoded byte for byte, whole numbers read by
// value, and the "one object of Unicode text" rule of DECISIONS.md. Kept apart
// from the field rules (decode.go) so those read as the decisions' table.

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeString decodes a raw JSON string token byte for byte. valid reports
// whether the result is valid UTF-8 (no invalid bytes, no lone surrogate
// escapes). ok is false if raw is not a JSON string.
func decodeString(raw []byte) (s string, valid, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false, false
	}
	b := raw[1 : len(raw)-1]
	valid = utf8.Valid(b)
	var out []byte
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", false, false
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, good := hex4(b, i)
			if !good {
				return "", false, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				paired := false
				if r < 0xDC00 && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if r2, good2 := hex4(b, i+2); good2 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							i += 6
							paired = true
						}
					}
				}
				if !paired {
					valid = false
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false, false
		}
	}
	return string(out), valid, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

// parseInt reads a JSON number token. isInt is false if the number's value is
// not a whole number; inRange is false if it is whole but outside int64.
// The value decides, not the spelling: 5, 5.0 and 0.5e1 are all the integer 5.
func parseInt(tok string) (v int64, isInt, inRange bool) {
	num := json.Number(tok)
	s := num.String()
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, true, true
	}
	// value = digits * 10^e
	e := -len(frac)
	e += parseExponent(exp)
	trimmed := strings.TrimRight(digits, "0")
	e += len(digits) - len(trimmed)
	digits = trimmed
	if e < 0 {
		return 0, false, false
	}
	if len(digits)+e > 19 {
		return 0, true, false
	}
	var u uint64
	for _, c := range digits + strings.Repeat("0", e) {
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, true, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, true, false
		}
		return -int64(u), true, true // -(1<<63) wraps to itself: correct
	}
	if u > 1<<63-1 {
		return 0, true, false
	}
	return int64(u), true, true
}

// numberValue checks that raw is a JSON number holding a whole number in
// [min, max]; outside the range is rangeReason.
func numberValue(raw json.RawMessage, min, max int64, rangeReason string) (int64, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, ReasonInvalidField
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, ReasonInvalidField
	}
	// decisions.md: a quantity is written as a plain JSON integer; a
	// fraction or exponent (even 5.0), or a value beyond int64, is
	// invalid_field.
	if strings.ContainsAny(n.String(), ".eE") {
		return 0, ReasonInvalidField
	}
	x, isInt, inRange := parseInt(n.String())
	if !isInt || !inRange {
		return 0, ReasonInvalidField
	}
	if x < min || x > max {
		return 0, rangeReason
	}
	return x, ""
}

// decodeObject reads a line that must be Unicode text holding exactly one
// JSON object and nothing after it; ok is false for anything else
// (undecodable). Apply and the placement check both start here, so a line
// that is not Unicode text is undecodable before anything else is looked at.
func decodeObject(line []byte) (obj map[string]json.RawMessage, ok bool) {
	if !unicodeText(line) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data after the object
	}
	return obj, true
}

// unicodeText reports whether a JSON line is Unicode text (DECISIONS.md,
// "Codes and limits"): valid UTF-8 everywhere, keys and fields nobody reads
// included, and no string escaping half a surrogate pair alone. encoding/json
// would read either as U+FFFD, so two different SKUs or event ids could
// become one; the whole line is refused instead, wherever the bad text is.
func unicodeText(line []byte) bool {
	if !utf8.Valid(line) {
		return false
	}
	for _, tok := range stringTokens(line) {
		// a malformed token (!ok) is left to the JSON decoder to refuse
		if _, valid, ok := decodeString(tok); ok && !valid {
			return false
		}
	}
	return true
}

// stringTokens returns every JSON string token of line, quotes included, keys
// and values alike. In JSON a '"' outside a string always opens one, and
// inside one only an unescaped '"' closes it, so this simple scan finds them
// all in any line the JSON decoder accepts; what it finds in other lines does
// not matter, as those are undecodable anyway.
func stringTokens(line []byte) [][]byte {
	var toks [][]byte
	start := -1 // index of the opening quote, -1 outside a string
	for i := 0; i < len(line); i++ {
		switch {
		case start < 0 && line[i] == '"':
			start = i
		case start >= 0 && line[i] == '\\':
			i++ // the escaped byte cannot close the string
		case start >= 0 && line[i] == '"':
			toks = append(toks, line[start:i+1])
			start = -1
		}
	}
	return toks
}

// parseExponent is a JSON number's exponent digits (after e or E, sign
// included; "" is 0), saturated so that a huge exponent cannot blow up.
func parseExponent(exp string) int {
	if exp == "" {
		return 0
	}
	neg := false
	switch exp[0] {
	case '+':
		exp = exp[1:]
	case '-':
		neg = true
		exp = exp[1:]
	}
	x := 0
	for _, c := range exp {
		if x < 1_000_000 {
			x = x*10 + int(c-'0')
		}
	}
	if neg {
		return -x
	}
	return x
}
