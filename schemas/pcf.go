package schemas

import (
	"strconv"
	"strings"
)

// Fingerprints follow the Avro specification's Parsing Canonical Form, as
// the reference (Java) implementation and fastavro compute it. goavro's
// own form departs from it in two ways that matter here: it writes a
// primitive with a logical type as {"type":"long"} where the spec and Java
// write "long" (every schema of ours has timestamp-micros fields), and it
// expands short-name references to full names only sometimes (it depends
// on Go's map order). A message headed with goavro's fingerprint could not
// be looked up by a Java or Python consumer, so the registry writes the
// spec's fingerprint and accepts goavro's on read as an alias.

// canonicalForm returns t's Parsing Canonical Form: only the attributes
// that affect parsing, full names, named types spelled out at their first
// occurrence and referred to by name after, no whitespace.
func canonicalForm(t *avroType) string {
	var b strings.Builder
	writeCanonical(&b, t, map[string]bool{})
	return b.String()
}

func writeCanonical(b *strings.Builder, t *avroType, seen map[string]bool) {
	switch t.kind {
	case kindUnion:
		b.WriteByte('[')
		for i, br := range t.branches {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, br, seen)
		}
		b.WriteByte(']')
	case kindArray:
		b.WriteString(`{"type":"array","items":`)
		writeCanonical(b, t.items, seen)
		b.WriteByte('}')
	case kindMap:
		b.WriteString(`{"type":"map","values":`)
		writeCanonical(b, t.values, seen)
		b.WriteByte('}')
	case kindRecord, kindEnum, kindFixed:
		if seen[t.name] {
			b.WriteString(strconv.Quote(t.name))
			return
		}
		seen[t.name] = true
		b.WriteString(`{"name":` + strconv.Quote(t.name) + `,"type":"` + t.kind.String() + `"`)
		switch t.kind {
		case kindEnum:
			b.WriteString(`,"symbols":[`)
			for i, s := range t.symbols {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Quote(s))
			}
			b.WriteByte(']')
		case kindFixed:
			b.WriteString(`,"size":` + strconv.Itoa(t.size))
		default:
			b.WriteString(`,"fields":[`)
			for i, f := range t.fields {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"name":` + strconv.Quote(f.name) + `,"type":`)
				writeCanonical(b, f.typ, seen)
				b.WriteByte('}')
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	default: // primitives, with or without a logical type
		b.WriteString(`"` + t.kind.String() + `"`)
	}
}

// rabinEmpty is the CRC-64-AVRO of no bytes.
const rabinEmpty = 0xc15d213aa4d7a795

var rabinTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (rabinEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

// rabin returns the CRC-64-AVRO (Rabin) fingerprint of s.
func rabin(s string) uint64 {
	fp := uint64(rabinEmpty)
	for i := 0; i < len(s); i++ {
		fp = (fp >> 8) ^ rabinTable[byte(fp)^s[i]]
	}
	return fp
}
