package main

import (
	"fmt"
	"io"

	"github.com/jetmq/jetmq/semantics"
)

// printOrderedPartitions prints an ordered group's partition table:
// owner, lease epoch, lag and suspension.
func printOrderedPartitions(w io.Writer, parts []semantics.OrderedPartitionStatus) error {
	if len(parts) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "PARTITION", "OWNER", "EPOCH", "PENDING", "ACK PENDING", "STATE")
	for _, p := range parts {
		owner, state := p.Owner, "ok"
		if owner == "" {
			owner = "-"
		}
		switch {
		case p.Suspended:
			state = "suspended"
		case p.Revoking:
			state = "revoking"
		case p.Owner == "":
			state = "unowned"
		}
		t.row(p.Partition, owner, p.Epoch, p.Pending, p.AckPending, state)
	}
	return t.flush()
}
