package specmodel

// Placement (ledger-semantics-2.md, "Placement"): Kafka's default Java
// partitioner, and ApplyRecord's wrong_partition rule, with worked example 16
// of worked-examples-2.md.

import (
	"encoding/json"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// murmur2ByteAtATime is a second formulation of Kafka's murmur2, to check the
// model's against: it reads one byte at a time into a word that is mixed when
// full (the tail is the last, partial word), in uint64 arithmetic cut to 32
// bits by hand, instead of whole words and a switch in uint32 arithmetic.
func murmur2ByteAtATime(data []byte) int32 {
	const mask = 0xffffffff
	const m = 0x5bd1e995
	h := (uint64(0x9747b28c) ^ uint64(len(data))) & mask
	var k uint64
	filled := 0 // bytes in k
	for _, b := range data {
		k |= uint64(b) << (8 * filled)
		filled++
		if filled == 4 {
			k = (k * m) & mask
			k ^= k >> 24
			k = (k * m) & mask
			h = (h * m) & mask
			h ^= k
			k, filled = 0, 0
		}
	}
	if filled > 0 {
		// XOR-ing the partial word is XOR-ing each tail byte at its place
		h ^= k
		h = (h * m) & mask
	}
	h ^= h >> 13
	h = (h * m) & mask
	h ^= h >> 15
	return int32(uint32(h))
}

func TestMurmur2SpecNumbers(t *testing.T) {
	// worked-examples-2.md, example 16
	for _, c := range []struct {
		key               string
		hash, masked, got int32
	}{
		{"TEE", 170148815, 170148815, 7},
		{"MUG", -39713638, 2107770010, 2},
	} {
		for name, f := range map[string]func([]byte) int32{"murmur2": murmur2, "byte at a time": murmur2ByteAtATime} {
			if h := f([]byte(c.key)); h != c.hash {
				t.Errorf("%s(%q) = %d, want %d", name, c.key, h, c.hash)
			}
		}
		if masked := murmur2([]byte(c.key)) & 0x7fffffff; masked != c.masked {
			t.Errorf("toPositive(murmur2(%q)) = %d, want %d", c.key, masked, c.masked)
		}
		if p := PartitionFor([]byte(c.key), 8); p != c.got {
			t.Errorf("PartitionFor(%q, 8) = %d, want %d", c.key, p, c.got)
		}
	}
	// The spec's contrasts: abs instead of the mask puts MUG in 6, and
	// librdkafka's default (crc32) puts TEE in 1.
	if abs := int32(39713638); abs%8 != 6 || -murmur2([]byte("MUG")) != abs {
		t.Errorf("abs(murmur2(MUG)) %% 8 is not 6")
	}
	if p := crc32.ChecksumIEEE([]byte("TEE")) % 8; p != 1 {
		t.Errorf("crc32(TEE) %% 8 = %d, the spec says 1", p)
	}
}

func TestMurmur2KafkaVectors(t *testing.T) {
	// The values Apache Kafka's own test (UtilsTest.testMurmur2) pins, and
	// the empty key. Key lengths 2, 6, 24, 26, 48, 3 and 0.
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
		"":    275646681,
	} {
		if got := murmur2([]byte(key)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
		if got := murmur2ByteAtATime([]byte(key)); got != want {
			t.Errorf("murmur2ByteAtATime(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestMurmur2AgainstByteAtATime(t *testing.T) {
	// Every length from 0 to 64 (so every tail, 0 to 3 bytes, after 0 to
	// 16 whole words), with bytes of the whole range: Java's bytes are signed
	// and its murmur2 masks them, so bytes >= 0x80 must not sign-extend.
	rng := rand.New(rand.NewPCG(16, 8))
	tails := map[int]int{}
	for n := 0; n <= 64; n++ {
		for trial := 0; trial < 20; trial++ {
			key := make([]byte, n)
			for i := range key {
				key[i] = byte(rng.IntN(256))
			}
			if trial == 0 {
				for i := range key {
					key[i] = 0xff // every byte negative in Java
				}
			}
			if a, b := murmur2(key), murmur2ByteAtATime(key); a != b {
				t.Fatalf("murmur2(% x) = %d, byte at a time %d", key, a, b)
			}
		}
		tails[n%4]++
	}
	// SKU-like keys, of every tail, longer than a word
	for _, key := range []string{"T", "TE", "TEE", "TEE-", "TEE-R", "TEE-RED-M", "TEE-RED-MX", "TEE-RED-MXL", "TEE-RED-MXL1", "ÉCHARPE-été", strings.Repeat("SKU", 43)} {
		if a, b := murmur2([]byte(key)), murmur2ByteAtATime([]byte(key)); a != b {
			t.Errorf("murmur2(%q) = %d, byte at a time %d", key, a, b)
		}
	}
	if len(tails) != 4 {
		t.Errorf("tails covered: %v", tails)
	}
}

func TestPartitionForMasksTheSignBit(t *testing.T) {
	negatives := 0
	for i := 0; i < 2000; i++ {
		key := []byte("SKU-" + strconv.Itoa(i))
		h := murmur2ByteAtATime(key)
		if h < 0 {
			negatives++
		}
		for _, n := range []int32{1, 2, 3, 8, 12, 50, 1 << 30} {
			want := int32(uint32(h)&0x7fffffff) % n
			if got := PartitionFor(key, n); got != want || got < 0 || got >= n {
				t.Fatalf("PartitionFor(%s, %d) = %d, want %d", key, n, got, want)
			}
		}
	}
	if negatives == 0 {
		t.Fatal("no negative hash among the keys: the mask went untested")
	}
	defer func() {
		if recover() == nil {
			t.Error("PartitionFor(key, 0) did not panic")
		}
	}()
	PartitionFor([]byte("TEE"), 0)
}

// example16 is worked example 16's records, copied from worked-examples-2.md:
// "partition key event", "(no key)" for no key.
const example16 = `
0 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
1 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
2 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
3 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
4 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
5 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
6 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
7 (no key) {"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
7 TEE {"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
1 TEE {"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":5}
2 MUG {"event_id":"r3","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","location":"dc","qty":4}
0 mug {"event_id":"r4","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","location":"dc","qty":4}
1 TEE {"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
7 TEE {"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
1 TEE {"type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":1}
1 TEE {"event_id":"r6","type":"inventory_snapshot","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc"}
1 TEE {"event_id":"r7","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","location":"dc","qty":1}
`

// parseRecords reads "partition key event" lines into records of a topic of
// the given partition count.
func parseRecords(t *testing.T, text string, partitions int32) []Record {
	t.Helper()
	var out []Record
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		part, rest, _ := strings.Cut(l, " ")
		p, err := strconv.Atoi(part)
		if err != nil {
			t.Fatalf("bad record line %q", l)
		}
		r := Record{Partition: int32(p), Partitions: partitions}
		if after, ok := strings.CutPrefix(rest, "(no key) "); ok {
			r.Value = []byte(after)
		} else {
			key, value, _ := strings.Cut(rest, " ")
			r.Key, r.Value = []byte(key), []byte(value)
		}
		out = append(out, r)
	}
	return out
}

// wantDead is a dead letter's event_id, reason and belonging partition (-1:
// not wrong_partition), and whether the record key was not the sku.
type wantDead struct {
	id, reason string
	belongsTo  int32
	keyNotSKU  bool
}

func checkDeadPlaced(t *testing.T, m *Model, want ...wantDead) {
	t.Helper()
	got := m.DeadLetters()
	if len(got) != len(want) {
		t.Errorf("dead letters = %+v, want %+v", got, want)
		return
	}
	for i, w := range want {
		g := wantDead{got[i].EventID, got[i].Reason, got[i].BelongsTo, got[i].KeyNotSKU}
		if g != w {
			t.Errorf("dead letter %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestExample16Placement(t *testing.T) {
	records := parseRecords(t, example16, 8)
	m := New()
	// The spec writes p-web to each of the 8 partitions; the model folds one
	// global sequence, so it is given once (the copy in partition 0). Every
	// other record is given as it sits in the topic.
	var lines [][]byte
	for _, r := range records {
		var head struct{ Type string }
		if json.Unmarshal(r.Value, &head) == nil && head.Type == TypeChannelPolicy && r.Partition != 0 {
			continue
		}
		m.ApplyRecord(r)
		lines = append(lines, r.Value)
	}

	checkSKU(t, m, "MUG", wantSKU{
		version:   1,
		locations: map[string]LocationView{"dc": {OnHand: 4, Available: 4}},
		channels:  map[string]int64{"web": 4},
	})
	checkSKU(t, m, "TEE", wantSKU{
		version:   1,
		locations: map[string]LocationView{"dc": {OnHand: 10, Available: 10}},
		channels:  map[string]int64{"web": 10},
	})
	if got := m.SKUs(); !reflect.DeepEqual(got, []string{"MUG", "TEE"}) {
		t.Errorf("SKUs = %v", got)
	}
	checkDeadPlaced(t, m,
		wantDead{"r2", ReasonWrongPartition, 7, false},
		wantDead{"r4", ReasonWrongPartition, 2, true}, // keyed 'mug'
		wantDead{"r1", ReasonWrongPartition, 7, false},
		wantDead{"", ReasonWrongPartition, 7, false}, // no event_id
		wantDead{"r6", ReasonUnknownType, -1, false},
		wantDead{"r7", ReasonMissingField, -1, false}, // no sku
	)
	// dead letters keep the record's value whole
	for i, want := range []int{2, 4, 5, 7, 8, 9} {
		if got := m.DeadLetters()[i].Line; string(got) != string(lines[want]) {
			t.Errorf("dead letter %d line = %s, want %s", i, got, lines[want])
		}
	}
	if m.Duplicates() != 1 {
		t.Errorf("duplicates = %d, want 1 (the retry of r1 in partition 7)", m.Duplicates())
	}
	checkAlerts(t, m)
	checkFinalMatchesUpdates(t, m)
}

func TestPlacementCheckOrder(t *testing.T) {
	// TEE belongs to partition 7 of 8; partition 1 is wrong for it.
	const teeBody = `"occurred_at":"2026-11-27T10:00:00Z","location":"dc","qty":1`
	tee := func(fields string) string { return `{` + fields + `,` + teeBody + `}` }
	spaced := " TEE" // a string sku that is not a valid code
	cases := []struct {
		name      string
		partition int32
		key       []byte // nil: no key
		line      string
		want      wantDead // id "" and reason "": applied
	}{
		// placed: folded as Apply folds it
		{"well placed", 7, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":"TEE"`), wantDead{}},
		{"sku escaped, key its bytes", 7, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":"T\u0045E"`), wantDead{}},
		{"channel_policy, any partition and key", 5, []byte("junk"), e("cp", TypeChannelPolicy, `"channel":"web","locations":[],"buffer":0,"share_pct":100`), wantDead{}},

		// misplaced: before the other checks of part 1
		{"wrong partition", 1, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":"TEE"`), wantDead{"a", ReasonWrongPartition, 7, false}},
		{"no key", 7, nil, tee(`"event_id":"a","type":"receipt","sku":"TEE"`), wantDead{"a", ReasonWrongPartition, 7, true}},
		{"empty key", 7, []byte{}, tee(`"event_id":"a","type":"receipt","sku":"TEE"`), wantDead{"a", ReasonWrongPartition, 7, true}},
		{"key of another case", 7, []byte("tee"), tee(`"event_id":"a","type":"receipt","sku":"TEE"`), wantDead{"a", ReasonWrongPartition, 7, true}},
		{"wrong key and partition", 1, []byte("MUG"), tee(`"event_id":"a","type":"receipt","sku":"TEE"`), wantDead{"a", ReasonWrongPartition, 7, true}},
		{"misplaced, no event_id", 1, []byte("TEE"), tee(`"type":"receipt","sku":"TEE"`), wantDead{"", ReasonWrongPartition, 7, false}},
		{"misplaced, invalid event_id", 1, []byte("TEE"), tee(`"event_id":"","type":"receipt","sku":"TEE"`), wantDead{"", ReasonWrongPartition, 7, false}},
		{"misplaced, qty 0", 1, []byte("TEE"), `{"event_id":"a","type":"receipt","sku":"TEE","occurred_at":"2026-11-27T10:00:00Z","location":"dc","qty":0}`, wantDead{"a", ReasonWrongPartition, 7, false}},
		{"misplaced, unknown order", 1, []byte("TEE"), `{"event_id":"a","type":"order_cancelled","sku":"TEE","occurred_at":"2026-11-27T10:00:00Z","order_id":"NOPE"}`, wantDead{"a", ReasonWrongPartition, 7, false}},
		{"misplaced invalid sku", (PartitionFor([]byte(spaced), 8) + 1) % 8, []byte(spaced), tee(`"event_id":"a","type":"receipt","sku":" TEE"`), wantDead{"a", ReasonWrongPartition, PartitionFor([]byte(spaced), 8), false}},

		// cannot be placed: part 1's reasons, wherever the record sits
		{"placed invalid sku", PartitionFor([]byte(spaced), 8), []byte(spaced), tee(`"event_id":"a","type":"receipt","sku":" TEE"`), wantDead{"a", ReasonInvalidField, -1, false}},
		{"empty sku, empty key", PartitionFor(nil, 8), []byte{}, tee(`"event_id":"a","type":"receipt","sku":""`), wantDead{"a", ReasonInvalidField, -1, false}},
		{"sku missing", 1, []byte("TEE"), tee(`"event_id":"a","type":"receipt"`), wantDead{"a", ReasonMissingField, -1, false}},
		{"sku null", 1, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":null`), wantDead{"a", ReasonMissingField, -1, false}},
		{"sku number", 1, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":7`), wantDead{"a", ReasonInvalidField, -1, false}},
		{"unknown type", 1, []byte("TEE"), tee(`"event_id":"a","type":"teleport","sku":"TEE"`), wantDead{"a", ReasonUnknownType, -1, false}},
		{"type missing", 1, []byte("TEE"), tee(`"event_id":"a","sku":"TEE"`), wantDead{"a", ReasonMissingField, -1, false}},
		{"type number", 1, []byte("TEE"), tee(`"event_id":"a","type":7,"sku":"TEE"`), wantDead{"a", ReasonInvalidField, -1, false}},
		{"undecodable", 1, []byte("TEE"), `{"event_id":"a","type":"receipt","sku":"TEE"`, wantDead{"", ReasonUndecodable, -1, false}},
		{"misplaced, bad byte in an unknown field", 1, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":"TEE","colour":"` + "\xff" + `"`), wantDead{"", ReasonUndecodable, -1, false}},
		{"misplaced, lone surrogate in sku", 1, []byte("TEE"), tee(`"event_id":"a","type":"receipt","sku":"TEE\ud800"`), wantDead{"", ReasonUndecodable, -1, false}},
		{"placed, bad byte in sku", PartitionFor([]byte("TEE\xff"), 8), []byte("TEE\xff"), tee(`"event_id":"a","type":"receipt","sku":"TEE` + "\xff" + `"`), wantDead{"", ReasonUndecodable, -1, false}},
		{"channel_policy invalid", 3, nil, e("cp", TypeChannelPolicy, `"locations":[],"buffer":0,"share_pct":100`), wantDead{"cp", ReasonMissingField, -1, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := New()
			m.ApplyRecord(Record{Partition: c.partition, Partitions: 8, Key: c.key, Value: []byte(c.line)})
			if c.want == (wantDead{}) {
				checkDeadPlaced(t, m)
				if len(m.SKUs()) == 0 && !strings.Contains(c.line, TypeChannelPolicy) {
					t.Error("not applied")
				}
				return
			}
			checkDeadPlaced(t, m, c.want)
			if len(m.SKUs()) != 0 || m.Duplicates() != 0 {
				t.Errorf("a dead letter changed the ledger: SKUs %v, duplicates %d", m.SKUs(), m.Duplicates())
			}
		})
	}
}

func TestMisplacedRetryIsNotADuplicate(t *testing.T) {
	r1 := []byte(`{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}`)
	m := New()
	m.ApplyRecord(Record{Partition: 7, Partitions: 8, Key: []byte("TEE"), Value: r1})
	m.ApplyRecord(Record{Partition: 1, Partitions: 8, Key: []byte("TEE"), Value: r1})
	if m.Duplicates() != 0 {
		t.Errorf("misplaced retry counted as a duplicate")
	}
	checkDeadPlaced(t, m, wantDead{"r1", ReasonWrongPartition, 7, false})
	m.ApplyRecord(Record{Partition: 7, Partitions: 8, Key: []byte("TEE"), Value: r1})
	if m.Duplicates() != 1 {
		t.Errorf("duplicates = %d, want 1", m.Duplicates())
	}
	checkSKU(t, m, "TEE", wantSKU{version: 1, locations: map[string]LocationView{"dc": {OnHand: 10, Available: 10}}})
}

func TestWellPlacedRecordsFoldAsApply(t *testing.T) {
	// deadletters_test.go's setup stream of SKU S, each event in S's
	// partition under key S (the channel policy in some partition, no key),
	// and then every dead-letter case of S well placed: ApplyRecord and Apply
	// must agree on everything.
	const partitions = 12
	lines := append([]string(nil), setup...)
	lines = append(lines,
		e("s1", TypeReceipt, `"location":"dc","qty":10`), // a retry
		e("x", TypeOrderCancelled, `"order_id":"NOPE"`),
		e("y", TypePOSSale, `"channel":"web","location":"dc","qty":20`), // oversold, negative on hand
		`not json`,
		e("z", "teleport", ""),
	)
	byApply, byRecord := New(), New()
	for i, l := range lines {
		byApply.Apply([]byte(l))
		r := Record{Partition: PartitionFor([]byte("S"), partitions), Partitions: partitions, Key: []byte("S"), Value: []byte(l)}
		if strings.Contains(l, `"type":"channel_policy"`) {
			r.Partition, r.Key = int32(i%partitions), nil
		}
		byRecord.ApplyRecord(r)
	}
	a, _ := byApply.SKU("S")
	b, _ := byRecord.SKU("S")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("SKU S: Apply %+v, ApplyRecord %+v", a, b)
	}
	if !reflect.DeepEqual(byApply.Updates(), byRecord.Updates()) || !reflect.DeepEqual(byApply.Alerts(), byRecord.Alerts()) {
		t.Errorf("updates or alerts differ")
	}
	if !reflect.DeepEqual(byApply.DeadLetters(), byRecord.DeadLetters()) || byApply.Duplicates() != byRecord.Duplicates() {
		t.Errorf("dead letters %+v / %+v, duplicates %d / %d",
			byApply.DeadLetters(), byRecord.DeadLetters(), byApply.Duplicates(), byRecord.Duplicates())
	}
	if len(byRecord.DeadLetters()) != 3 || byRecord.Duplicates() != 1 || len(byRecord.Alerts()) == 0 {
		t.Errorf("the stream did not exercise what it should: dead %d, duplicates %d, alerts %d",
			len(byRecord.DeadLetters()), byRecord.Duplicates(), len(byRecord.Alerts()))
	}
}

func TestApplyRecordRejectsImpossibleRecords(t *testing.T) {
	for _, r := range []Record{
		{Partition: 8, Partitions: 8},
		{Partition: -1, Partitions: 8},
		{Partition: 0, Partitions: 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ApplyRecord(partition %d of %d) did not panic", r.Partition, r.Partitions)
				}
			}()
			New().ApplyRecord(r)
		}()
	}
}
