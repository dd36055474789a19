package main

import (
	"fmt"
	"io"

	"github.com/jetmq/jetmq/wire"
)

// printOrderedPartitions prints an ordered group's partition table:
// owner, lease epoch, lag, waiting pulls and state (a stalled partition
// is being moved away from an owner that held it without consuming it).
func printOrderedPartitions(w io.Writer, parts []wire.OrderedPartitionStatus) error {
	if len(parts) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "PARTITION", "OWNER", "EPOCH", "PENDING", "ACK PENDING", "WAITING", "STATE")
	for _, p := range parts {
		owner, state := p.Owner, "ok"
		if owner == "" {
			owner = "-"
		}
		switch {
		case p.Stalled:
			state = "stalled"
		case p.Suspended:
			state = "suspended"
		case p.Revoking:
			state = "revoking"
		case p.Owner == "":
			state = "unowned"
		}
		t.row(p.Partition, owner, p.Epoch, p.Pending, p.AckPending, p.Waiting, state)
	}
	return t.flush()
}
