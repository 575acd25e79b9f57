package processors

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionOfMatchesFranzGo: the ledger's own murmur2 partitioner puts
// every key where franz-go's Kafka-compatible partitioner (an independent
// implementation of Java's default) puts it, for keys of every length
// class, random bytes included.
func TestPartitionOfMatchesFranzGo(t *testing.T) {
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("events")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		key := make([]byte, i%41)
		for j := range key {
			key[j] = byte(r.UintN(256))
		}
		for _, n := range []int32{1, 3, 8, 12, 100} {
			want := int32(kafka.Partition(&kgo.Record{Key: key}, int(n)))
			if got := PartitionOf(string(key), n); got != want {
				t.Fatalf("key %q of %d partitions: PartitionOf %d, franz-go %d", key, n, got, want)
			}
		}
	}
}
