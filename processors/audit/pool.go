package audit

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchPool lends the client the slices it decodes fetched records into
// and decompresses batches into, and takes them back once every record of
// a batch is folded (Record.Recycle). A replay reads every record of a
// large topic exactly once: without it each record batch is a new
// allocation of records and bytes, gigabytes for a 10M-event topic, which
// the collector must then find and free, and which a fresh process first
// faults in from the kernel.
//
// Slices are pooled by size class (powers of two): batches differ in size,
// and a single pool handed out slices too small for the next batch (the
// client then allocated its own, and the pooled one was lost). Measured
// on the replay benchmark before the classes: 148 bytes of records and
// 110 of decompression buffers allocated per event, as if there were no
// pool.
type fetchPool struct {
	recs [poolClasses]sync.Pool // *[]kgo.Record, cap 1<<class
	bufs [poolClasses]sync.Pool // *[]byte, cap at least 1<<class
}

// poolClasses bounds the classes: 1<<31 is past any batch Kafka sends.
const poolClasses = 32

// ceilClass is the smallest class whose size is at least n.
func ceilClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// floorClass is the largest class whose size is at most c (c > 0).
func floorClass(c int) int { return bits.Len(uint(c)) - 1 }

func (p *fetchPool) GetRecords(n int) []kgo.Record {
	c := ceilClass(n)
	if c >= poolClasses {
		return make([]kgo.Record, 0, n)
	}
	if v, _ := p.recs[c].Get().(*[]kgo.Record); v != nil {
		return (*v)[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

func (p *fetchPool) PutRecords(recs []kgo.Record) {
	if cap(recs) == 0 {
		return
	}
	if c := floorClass(cap(recs)); c < poolClasses {
		p.recs[c].Put(&recs)
	}
}

func (p *fetchPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	c := ceilClass(decompressedSize(compressed, codec))
	if c >= poolClasses {
		return nil // the client allocates
	}
	if v, _ := p.bufs[c].Get().(*[]byte); v != nil {
		return (*v)[:0]
	}
	return make([]byte, 0, 1<<c)
}

func (p *fetchPool) PutDecompressBytes(b []byte) {
	if cap(b) == 0 {
		return
	}
	if c := floorClass(cap(b)); c < poolClasses {
		p.bufs[c].Put(&b)
	}
}

// decompressedSize is the size compressed decompresses to: exact for a
// snappy block, whose header is that size (a uvarint), else a guess the
// client grows from if short.
func decompressedSize(compressed []byte, codec kgo.CompressionCodecType) int {
	if codec == kgo.CodecSnappy && !xerial(compressed) {
		if n, k := binary.Uvarint(compressed); k > 0 && n <= 1<<30 {
			return int(n)
		}
	}
	return 4 * len(compressed)
}

// xerial reports whether b is snappy in the xerial framing (Java clients),
// whose header is not the decompressed size.
func xerial(b []byte) bool {
	return len(b) >= 8 && string(b[:8]) == "\x82SNAPPY\x00"
}

// recordBudget bounds the records fetched but not yet folded: the poll
// loop takes from it before it hands records to a partition's worker, and
// the worker gives them back once folded and recycled. Without a bound the
// poll loop ran far ahead of the folds (the client fetches at three times
// their speed): millions of records in flight, none of them recycled in
// time for the next fetch to reuse (fetchPool), so every record of a large
// topic was a new allocation and, in a fresh process, new memory faulted
// in from the kernel.
type recordBudget struct {
	mu       sync.Mutex
	cond     sync.Cond
	inFlight int
	max      int
}

func newRecordBudget(max int) *recordBudget {
	b := &recordBudget{max: max}
	b.cond.L = &b.mu
	return b
}

// take waits until n more records fit, or none are in flight (a chunk
// larger than the budget goes alone).
func (b *recordBudget) take(n int) {
	b.mu.Lock()
	for b.inFlight > 0 && b.inFlight+n > b.max {
		b.cond.Wait()
	}
	b.inFlight += n
	b.mu.Unlock()
}

// give returns n records.
func (b *recordBudget) give(n int) {
	b.mu.Lock()
	b.inFlight -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}
