package schemas

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/stockledger/stockledger/ledger"
)

// maxNesting bounds how deep a writer's records, arrays, maps and unions may
// nest inside a skipped field (a recursive schema cannot recurse forever).
const maxNesting = 64

// maxBlockCount is goavro's default MaxBlockCount: a larger array or map
// block count is refused.
const maxBlockCount = math.MaxInt32

// reader reads an Avro binary body. Its rules follow goavro's, so a body
// decodes here exactly when goavro decodes it (FuzzDecodeEvent holds us to
// that): varints of any length (bits past 64 drop out), booleans 0 or 1,
// union and enum indexes in range, no duplicate map keys, no trailing bytes.
type reader struct {
	b       []byte
	i       int
	problem string       // the first problem; "" while all is well
	bad     ledger.Field // fields whose writer type the ledger cannot hold
	depth   int
	seen    map[string]struct{} // duplicate-key scratch for large maps
}

// fail records msg as the problem (unless one is already recorded) and
// returns false, so callers can write `return r.fail(...)`.
func (r *reader) fail(msg string) bool {
	if r.problem == "" {
		r.problem = msg
	}
	return false
}

// uvarint reads the raw varint under a long or an int.
func (r *reader) uvarint() (uint64, bool) {
	if i := r.i; i < len(r.b) && r.b[i] < 0x80 { // one byte: inlined
		r.i = i + 1
		return uint64(r.b[i]), true
	}
	return r.uvarintSlow()
}

//go:noinline
func (r *reader) uvarintSlow() (uint64, bool) {
	var v uint64
	var shift uint
	for i := r.i; i < len(r.b); i++ {
		c := r.b[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			r.i = i + 1
			return v, true
		}
		shift += 7
	}
	return 0, r.fail("truncated varint")
}

func (r *reader) long() (int64, bool) {
	v, ok := r.uvarint()
	return int64(v>>1) ^ -int64(v&1), ok
}

func (r *reader) int() (int32, bool) {
	v, ok := r.uvarint()
	return int32(uint32(v>>1)) ^ -int32(v&1), ok
}

func (r *reader) boolean() (bool, bool) {
	if r.i >= len(r.b) {
		return false, r.fail("truncated boolean")
	}
	c := r.b[r.i]
	if c > 1 {
		return false, r.fail("boolean byte " + strconv.Itoa(int(c)))
	}
	r.i++
	return c == 1, true
}

// bytes reads a length-prefixed string or bytes value, without copying.
func (r *reader) bytes() ([]byte, bool) {
	n, ok := r.long()
	if !ok {
		return nil, false
	}
	if n < 0 {
		return nil, r.fail("negative length " + strconv.FormatInt(n, 10))
	}
	if n > int64(len(r.b)-r.i) {
		return nil, r.fail("truncated: length " + strconv.FormatInt(n, 10) + " past the end")
	}
	b := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return b, true
}

func (r *reader) fixed(n int) bool {
	if n > len(r.b)-r.i {
		return r.fail("truncated fixed-size value")
	}
	r.i += n
	return true
}

// index reads a union branch or enum symbol index below n.
func (r *reader) index(n int) (int, bool) {
	v, ok := r.long()
	if !ok {
		return 0, false
	}
	if v < 0 || v >= int64(n) {
		return 0, r.fail("index " + strconv.FormatInt(v, 10) + " out of range 0.." + strconv.Itoa(n-1))
	}
	return int(v), true
}

// blockCount reads an array or map block header: the item count, where a
// negative count is followed by the block's size in bytes (ignored). Items
// of at least minItemBytes each must fit in what is left; minItemBytes 0
// skips that check.
func (r *reader) blockCount(minItemBytes int) (int, bool) {
	n, ok := r.long()
	if !ok {
		return 0, false
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, r.fail("bad block count")
		}
		n = -n
		if _, ok := r.long(); !ok {
			return 0, false
		}
	}
	if n > maxBlockCount {
		return 0, r.fail("block count " + strconv.FormatInt(n, 10) + " too large")
	}
	if minItemBytes > 0 && n > int64((len(r.b)-r.i)/minItemBytes) {
		return 0, r.fail("truncated: block of " + strconv.FormatInt(n, 10) + " items past the end")
	}
	return int(n), true
}

// skip reads past one value of type t. Zero-size values (null, records of
// nulls) take no bytes, so a block of them is skipped without a loop.
func (r *reader) skip(t *avroType) bool {
	switch t.kind {
	case kindNull:
		return true
	case kindBoolean:
		_, ok := r.boolean()
		return ok
	case kindInt, kindLong:
		_, ok := r.uvarint()
		return ok
	case kindFloat:
		return r.fixed(4)
	case kindDouble:
		return r.fixed(8)
	case kindBytes, kindString:
		_, ok := r.bytes()
		return ok
	case kindFixed:
		return r.fixed(t.size)
	case kindEnum:
		_, ok := r.index(len(t.symbols))
		return ok
	}
	if r.depth >= maxNesting {
		return r.fail("values nested deeper than " + strconv.Itoa(maxNesting))
	}
	r.depth++
	defer func() { r.depth-- }()
	switch t.kind {
	case kindUnion:
		i, ok := r.index(len(t.branches))
		return ok && r.skip(t.branches[i])
	case kindRecord:
		for i := range t.fields {
			if !r.skip(t.fields[i].typ) {
				return false
			}
		}
		return true
	case kindArray:
		return r.skipBlocks(t.items, nil)
	case kindMap:
		return r.skipBlocks(t.values, map[string]struct{}{})
	}
	return r.fail("unknown type")
}

// skipBlocks skips an array (keys nil) or a map, refusing duplicate keys as
// goavro does.
func (r *reader) skipBlocks(item *avroType, keys map[string]struct{}) bool {
	minItem := minBytes(item)
	if keys != nil {
		minItem++
	}
	for {
		n, ok := r.blockCount(minItem)
		if !ok {
			return false
		}
		if n == 0 {
			return true
		}
		if minItem == 0 {
			continue // n values of zero size
		}
		for range n {
			if keys != nil {
				k, ok := r.bytes()
				if !ok {
					return false
				}
				if _, dup := keys[string(k)]; dup {
					return r.fail("duplicate map key " + strconv.Quote(string(k)))
				}
				keys[string(k)] = struct{}{}
			}
			if !r.skip(item) {
				return false
			}
		}
	}
}

// minBytes is the fewest bytes a value of type t takes.
func minBytes(t *avroType) int {
	return minBytesDepth(t, 0)
}

func minBytesDepth(t *avroType, depth int) int {
	switch t.kind {
	case kindNull:
		return 0
	case kindFloat:
		return 4
	case kindDouble:
		return 8
	case kindFixed:
		return t.size
	case kindRecord:
		if depth > maxNesting {
			return 1 // a recursive record: at least its union index
		}
		n := 0
		for i := range t.fields {
			n += minBytesDepth(t.fields[i].typ, depth+1)
		}
		return n
	}
	return 1
}

// Writing: the same bytes goavro writes (minimal zig-zag varints).

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func appendInt(dst []byte, v int32) []byte {
	return binary.AppendUvarint(dst, uint64(uint32(v<<1)^uint32(v>>31)))
}

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

func appendBytes(dst, b []byte) []byte {
	return append(appendLong(dst, int64(len(b))), b...)
}
