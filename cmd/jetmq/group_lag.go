package main

import (
	"fmt"
	"io"

	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

func newGroupLagCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "lag TOPIC GROUP",
		Short: "Show a group's unacknowledged messages per partition (per member for broadcasting groups)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var l wire.GroupLag
			if err := g.request(wire.GroupAPIPrefix+"LAG."+args[0]+"."+args[1], nil, &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			return printLag(cmd.OutOrStdout(), l)
		},
	}
}

func printLag(w io.Writer, l wire.GroupLag) error {
	t := newTable(w, "MEMBER", "PARTITION", "LAG", "EXACT", "CONSUMER", "ACK FLOOR")
	rows := func(member string, lag []wire.PartitionLag) {
		for _, p := range lag {
			t.row(member, p.Partition, p.Lag, p.Exact, p.Consumer, p.AckFloor)
		}
	}
	rows("-", l.Lag)
	for _, m := range l.Members {
		rows(m.Member, m.Lag)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "total %d (exact: num_pending + num_ack_pending of the partition's consumer; otherwise messages after the ack floor, some perhaps acked out of order)\n", l.Total)
	return nil
}
