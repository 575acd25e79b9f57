package store

import "encoding/binary"

// Key layout (all integers big-endian, so keys sort by partition):
//
//	'm' "meta"                  -> JSON: the topic and partition count the store was built from
//	'o' u32 partition           -> u64 next offset of the events topic to fold
//	'p' u32 partition           -> ledger.Partition encoding (channel policies, policy ids)
//	's' u32 partition sku-bytes -> ledger.SKU state: whole, or the core of a split one
//	'x' u32 partition u8 len(sku) sku-bytes u32 seq -> part seq of a split SKU (ledger/layout.go)
//	'u' u32 partition           -> u64 offset below which outputs are acknowledged
//	                               (stores written before the marks moved to their
//	                               own file, published.go; read, no longer written)

func offsetKey(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'o'}, uint32(p)) }

func publishedKey(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'u'}, uint32(p)) }

func partitionKey(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'p'}, uint32(p)) }

func skuPrefix(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'s'}, uint32(p)) }

// AppendSKUKey appends the key of sku in partition p to dst.
func AppendSKUKey(dst []byte, p int32, sku string) []byte {
	dst = append(dst, 's')
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	return append(dst, sku...)
}

func partPrefix(p int32) []byte { return binary.BigEndian.AppendUint32([]byte{'x'}, uint32(p)) }

// appendPartKey appends the key of part seq of sku in partition p to dst.
// SKU codes are at most ledger.MaxSKUBytes (128) long, so one length byte
// keeps one SKU's parts apart from another's.
func appendPartKey(dst []byte, p int32, sku string, seq uint32) []byte {
	dst = append(dst, 'x')
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	dst = append(dst, byte(len(sku)))
	dst = append(dst, sku...)
	return binary.BigEndian.AppendUint32(dst, seq)
}

var metaKey = []byte("mmeta")

var probeKey = []byte("mprobe")
