package ledger

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// printableModel is the definition printableASCII implements, a byte at a
// time.
func printableModel(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validCodeModel is ValidCode's contract read rune by rune.
func validCodeModel(s string, maxBytes int) bool {
	if len(s) == 0 || len(s) > maxBytes || !utf8.ValidString(s) {
		return false
	}
	rs := []rune(s)
	for _, r := range rs {
		if unicode.IsControl(r) {
			return false
		}
	}
	return !unicode.IsSpace(rs[0]) && !unicode.IsSpace(rs[len(rs)-1])
}

// TestPrintableASCIIEveryByte puts every byte value at every position of
// strings of every length up to three words, so each lane of the
// word-at-a-time check and the tail loop see every value.
func TestPrintableASCIIEveryByte(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				s := string(b)
				if got, want := printableASCII(s), printableModel(s); got != want {
					t.Fatalf("printableASCII(%q) = %v, want %v", s, got, want)
				}
				if got, want := ValidCode(s, 64), validCodeModel(s, 64); got != want {
					t.Fatalf("ValidCode(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

// TestValidCodeRandom compares ValidCode with the model on random strings
// drawn mostly from the bytes at the edges of the printable range.
func TestValidCodeRandom(t *testing.T) {
	edges := []byte{0x00, 0x1f, 0x20, 0x21, 'A', 0x7e, 0x7f, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xff, '\t', '\n'}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = edges[r.IntN(len(edges))]
			} else {
				b[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		s := string(b)
		if got, want := printableASCII(s), printableModel(s); got != want {
			t.Fatalf("printableASCII(%q) = %v, want %v", s, got, want)
		}
		if got, want := ValidCode(s, 32), validCodeModel(s, 32); got != want {
			t.Fatalf("ValidCode(%q) = %v, want %v", s, got, want)
		}
	}
}
