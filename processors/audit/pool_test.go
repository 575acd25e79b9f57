package audit

import (
	"bytes"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchPoolSizes: a slice lent for n records (or bytes) always holds n,
// whatever was given back before, and a snappy block's buffer is exactly
// the class of its decompressed size.
func TestFetchPoolSizes(t *testing.T) {
	p := new(fetchPool)
	for _, n := range []int{1, 2, 3, 100, 511, 512, 513, 1000, 4096, 70000} {
		for _, back := range []int{1, 7, 512, 1000, 1023, 1024, 5000, 100000} {
			p.PutRecords(make([]kgo.Record, back/2, back))
			recs := p.GetRecords(n)
			if len(recs) != 0 || cap(recs) < n {
				t.Fatalf("GetRecords(%d) after a put of cap %d: len %d cap %d", n, back, len(recs), cap(recs))
			}
			p.PutDecompressBytes(make([]byte, back/2, back))
			raw := bytes.Repeat([]byte("e-SKU-000042-7"), n)
			comp := s2.EncodeSnappy(nil, raw)
			buf := p.GetDecompressBytes(comp, kgo.CodecSnappy)
			if len(buf) != 0 || cap(buf) < len(raw) {
				t.Fatalf("GetDecompressBytes for %d bytes after a put of cap %d: len %d cap %d", len(raw), back, len(buf), cap(buf))
			}
		}
	}
	raw := bytes.Repeat([]byte("x"), 3000)
	if got := decompressedSize(s2.EncodeSnappy(nil, raw), kgo.CodecSnappy); got != 3000 {
		t.Errorf("decompressed size of a snappy block of 3000 bytes: %d", got)
	}
	xe := append([]byte("\x82SNAPPY\x00"), make([]byte, 40)...)
	if got := decompressedSize(xe, kgo.CodecSnappy); got != 4*len(xe) {
		t.Errorf("xerial-framed snappy: %d, want the guess %d", got, 4*len(xe))
	}
	for n, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 1024: 10, 1025: 11} {
		if got := ceilClass(n); got != want {
			t.Errorf("ceilClass(%d) = %d, want %d", n, got, want)
		}
	}
	for c, want := range map[int]int{1: 0, 2: 1, 3: 1, 1023: 9, 1024: 10} {
		if got := floorClass(c); got != want {
			t.Errorf("floorClass(%d) = %d, want %d", c, got, want)
		}
	}
}

// TestRecordBudget: take waits while the records in flight would pass the
// budget, goes on once some are given back, and lets a chunk larger than
// the whole budget through alone.
func TestRecordBudget(t *testing.T) {
	b := newRecordBudget(100)
	b.take(60)
	b.take(40) // exactly full
	took := make(chan struct{})
	go func() {
		b.take(10)
		close(took)
	}()
	stillWaiting(t, took, "took 10 more records with 100 of 100 in flight")
	b.give(5)
	stillWaiting(t, took, "took 10 more records with 95 of 100 in flight")
	b.give(35)
	select {
	case <-took: // 60 + 10 in flight
	case <-time.After(5 * time.Second):
		t.Fatal("take still waits with 60 of 100 in flight")
	}
	b.give(70)
	b.take(500) // larger than the budget, nothing in flight: goes alone
	big := make(chan struct{})
	go func() {
		b.take(1)
		close(big)
	}()
	stillWaiting(t, big, "took a record while a chunk over the budget was in flight")
	b.give(500)
	<-big
}

// stillWaiting fails with why if done closes within 50 ms.
func stillWaiting(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
		t.Fatal(why)
	case <-time.After(50 * time.Millisecond):
	}
}
