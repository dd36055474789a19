package main

import (
	"fmt"

	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

func newTopicRepairCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "repair TOPIC",
		Short: "Move a topic's misfiled messages (left by an older jetmq) to their partitions, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			total := wire.RepairReply{Topic: args[0]}
			for {
				var r wire.RepairReply
				if err := g.request(wire.APIPrefix+"TOPIC.REPAIR."+args[0], nil, &r); err != nil {
					return err
				}
				total.Moved += r.Moved
				total.Unplaced, total.Remaining = r.Unplaced, r.Remaining
				if r.Remaining == 0 || r.Moved == 0 {
					break
				}
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), total)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "topic %s: moved %d misfiled messages; %d junk messages fit no input form and stay; %d remain\n",
				total.Topic, total.Moved, total.Unplaced, total.Remaining)
			return nil
		},
	}
}
