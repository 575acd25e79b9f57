package processors

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka broker (franz-go's kfake) for a
// single-machine setup, demos and tests. It speaks the real Kafka protocol,
// so other processes (produce, tail, kcat) can reach it.
type Embedded struct {
	c    *kfake.Cluster
	addr string
}

// StartEmbedded starts a one-broker cluster listening on addr (host:port;
// port 0 picks one), persisting its log under dataDir ("" keeps it in
// memory only).
func StartEmbedded(addr, dataDir string, partitions int32) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker port %q: %w", portStr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	} else {
		// In memory, kfake keeps each partition's log segment in one
		// []byte that doubles as it grows: with its default 100 MiB
		// segments, a growth copies and zeroes up to 128 MiB inside the
		// broker's loop, which stops every produce and fetch for tens of
		// milliseconds (it was the tail of bench's latency figures).
		// Small segments bound each growth to a few MiB.
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(memSegmentBytes)}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w", addr, err)
	}
	return &Embedded{c: c, addr: c.ListenAddrs()[0]}, nil
}

// memSegmentBytes is the embedded broker's log segment size in memory.
const memSegmentBytes = 4 << 20

// Addr is the broker's address.
func (e *Embedded) Addr() string { return e.addr }

// Cluster exposes the kfake cluster (tests).
func (e *Embedded) Cluster() *kfake.Cluster { return e.c }

// Close stops the broker, flushing its log.
func (e *Embedded) Close() { e.c.Close() }
