package console

import (
	"context"
	"net/http"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// partitionsPage is what the partitions template shows.
type partitionsPage struct {
	page
	Status processors.Status
	Rows   []partitionRow
	// OwnersProblem says why the owners of other instances' partitions
	// are unknown (the group could not be described).
	OwnersProblem string
}

// partitionRow is one partition of the events topic.
type partitionRow struct {
	Partition int32
	// Here: this instance owns it, and Progress is its status.
	Here     bool
	Progress processors.PartitionStatus
	// Owner is the member that owns it elsewhere ("" for none), HTTP its
	// advertised address (a link to its console).
	Owner, HTTP string
}

// servePartitions serves GET /partitions: every partition of the events
// topic, who owns it, and for this instance's its offsets, lag and
// throughput (as GET /v1/status reports them).
func (c *Console) servePartitions(w http.ResponseWriter, r *http.Request) {
	st := c.p.Status()
	out := partitionsPage{page: c.newPage(r, "Partitions"), Status: st}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	owners, err := c.p.Owners(ctx)
	if err != nil {
		out.OwnersProblem = err.Error()
	}
	here := map[int32]processors.PartitionStatus{}
	for _, ps := range st.Partitions {
		here[ps.Partition] = ps
	}
	for part := range st.TopicPartitions {
		row := partitionRow{Partition: part}
		row.Progress, row.Here = here[part]
		if !row.Here {
			o := owners[part]
			row.Owner, row.HTTP = o.Member, o.HTTP
		}
		out.Rows = append(out.Rows, row)
	}
	c.render(w, r, http.StatusOK, "partitions", out)
}
