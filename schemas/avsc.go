package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// avroKind is the kind of an Avro type.
type avroKind uint8

const (
	kindNull avroKind = iota
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindBytes
	kindString
	kindRecord
	kindEnum
	kindArray
	kindMap
	kindUnion
	kindFixed
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	"record", "enum", "array", "map", "union", "fixed"}

func (k avroKind) String() string { return kindNames[k] }

// avroType is a parsed Avro schema: the shape of the values a writer put on
// the wire. It is only what decoding needs (no docs, no aliases); goavro
// validates the schema text before we parse it.
type avroType struct {
	kind     avroKind
	logical  string      // logicalType annotation, "" for none
	name     string      // full name of a record, enum or fixed
	fields   []avroField // record
	items    *avroType   // array
	values   *avroType   // map
	branches []*avroType // union
	symbols  []string    // enum
	size     int         // fixed: bytes
}

// avroField is one field of a record.
type avroField struct {
	name       string
	typ        *avroType
	def        any // the default, decoded from JSON (json.Number for numbers)
	hasDefault bool
}

// describe renders t briefly for details ("long", "union[null,string]").
func (t *avroType) describe() string {
	switch t.kind {
	case kindRecord, kindEnum, kindFixed:
		return t.kind.String() + " " + t.name
	case kindArray:
		return "array<" + t.items.describe() + ">"
	case kindMap:
		return "map<" + t.values.describe() + ">"
	case kindUnion:
		parts := make([]string, len(t.branches))
		for i, b := range t.branches {
			parts[i] = b.describe()
		}
		return "union[" + strings.Join(parts, ",") + "]"
	}
	if t.logical != "" {
		return t.kind.String() + "(" + t.logical + ")"
	}
	return t.kind.String()
}

// parseSchema parses an Avro schema text.
func parseSchema(text string) (*avroType, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parsing schema JSON: %w", err)
	}
	p := schemaParser{named: map[string]*avroType{}}
	return p.parse(v, "")
}

// schemaParser resolves named types while parsing one schema.
type schemaParser struct {
	named map[string]*avroType
}

var primitiveKinds = map[string]avroKind{
	"null": kindNull, "boolean": kindBoolean, "int": kindInt, "long": kindLong,
	"float": kindFloat, "double": kindDouble, "bytes": kindBytes, "string": kindString,
}

func (p *schemaParser) parse(v any, ns string) (*avroType, error) {
	switch t := v.(type) {
	case string:
		return p.reference(t, ns)
	case []any:
		u := &avroType{kind: kindUnion}
		for _, b := range t {
			bt, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, bt)
		}
		if len(u.branches) == 0 {
			return nil, errors.New("empty union")
		}
		return u, nil
	case map[string]any:
		return p.parseObject(t, ns)
	}
	return nil, fmt.Errorf("schema element of JSON type %T", v)
}

func (p *schemaParser) reference(name, ns string) (*avroType, error) {
	if k, ok := primitiveKinds[name]; ok {
		return &avroType{kind: k}, nil
	}
	if !strings.Contains(name, ".") && ns != "" {
		if t, ok := p.named[ns+"."+name]; ok {
			return t, nil
		}
	}
	if t, ok := p.named[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown type name %q", name)
}

func (p *schemaParser) parseObject(m map[string]any, ns string) (*avroType, error) {
	logical, _ := m["logicalType"].(string)
	switch typ := m["type"].(type) {
	case map[string]any, []any:
		return p.parse(typ, ns)
	case string:
		switch typ {
		case "record", "error", "enum", "fixed":
			return p.parseNamed(typ, m, ns)
		case "array":
			items, err := p.parse(m["items"], ns)
			if err != nil {
				return nil, fmt.Errorf("array items: %w", err)
			}
			return &avroType{kind: kindArray, items: items, logical: logical}, nil
		case "map":
			values, err := p.parse(m["values"], ns)
			if err != nil {
				return nil, fmt.Errorf("map values: %w", err)
			}
			return &avroType{kind: kindMap, values: values, logical: logical}, nil
		}
		t, err := p.reference(typ, ns)
		if err != nil {
			return nil, err
		}
		if t.kind <= kindString && logical != "" {
			t.logical = logical // a fresh primitive: safe to annotate
		}
		return t, nil
	}
	return nil, errors.New(`schema object without a valid "type"`)
}

// parseNamed parses a record, enum or fixed, registering its name before its
// fields so that a record may refer to itself.
func (p *schemaParser) parseNamed(typ string, m map[string]any, ns string) (*avroType, error) {
	name, _ := m["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("%s without a name", typ)
	}
	full := name
	if !strings.Contains(name, ".") {
		if space, ok := m["namespace"].(string); ok {
			ns = space
		}
		if ns != "" {
			full = ns + "." + name
		}
	}
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		ns = full[:i]
	} else {
		ns = ""
	}
	t := &avroType{name: full}
	p.named[full] = t
	switch typ {
	case "enum":
		syms, _ := m["symbols"].([]any)
		t.kind = kindEnum
		for _, s := range syms {
			sym, _ := s.(string)
			t.symbols = append(t.symbols, sym)
		}
	case "fixed":
		n, _ := m["size"].(json.Number)
		size, err := n.Int64()
		if err != nil || size < 0 {
			return nil, fmt.Errorf("fixed %s: bad size", full)
		}
		t.kind, t.size = kindFixed, int(size)
	default:
		t.kind = kindRecord
		fields, _ := m["fields"].([]any)
		for _, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: field is not an object", full)
			}
			fname, _ := fm["name"].(string)
			ft, err := p.parse(fm["type"], ns)
			if err != nil {
				return nil, fmt.Errorf("record %s field %q: %w", full, fname, err)
			}
			def, hasDef := fm["default"]
			t.fields = append(t.fields, avroField{name: fname, typ: ft, def: def, hasDefault: hasDef})
		}
	}
	return t, nil
}
