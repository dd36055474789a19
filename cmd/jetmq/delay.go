package main

import (
	"fmt"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

func newDelayCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delay",
		Short: "List a topic's delayed messages still waiting, and cancel one",
	}
	cmd.AddCommand(newDelayLsCmd(g), newDelayCancelCmd(g))
	return cmd
}

func delaySubject(op, topic string) string { return wire.DelayAPIPrefix + op + "." + topic }

func newDelayLsCmd(g *globalFlags) *cobra.Command {
	var from uint64
	var limit int
	cmd := &cobra.Command{
		Use:   "ls TOPIC",
		Short: "List the delayed messages waiting in a topic, in the order they were stored",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := wire.DelayListRequest{From: from}
			if cmd.Flags().Changed("limit") {
				req.Limit = &limit
			}
			var l wire.DelayList
			if err := g.request(delaySubject("LIST", args[0]), req, &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			t := newTable(w, "ID", "DELIVER AT", "SUBJECT", "KEY", "TAG", "SIZE")
			for _, d := range l.Delayed {
				t.row(d.ID, d.DeliverAt.Format(time.RFC3339Nano), d.Subject, d.Key, dash(d.Tag), d.Size)
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "%d of %d delayed messages", len(l.Delayed), l.Total)
			if l.Next != 0 {
				fmt.Fprintf(w, "; more with --from %d", l.Next)
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	cmd.Flags().Uint64Var(&from, "from", 0, "internal stream sequence to list from (the cursor of the previous page)")
	cmd.Flags().IntVar(&limit, "limit", wire.DefaultMsgPage, fmt.Sprintf("at most this many (1 to %d)", wire.MaxMsgPage))
	return cmd
}

func newDelayCancelCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel TOPIC ID",
		Short: "Cancel a delayed message so that it is never delivered",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r wire.DelayCancelReply
			if err := g.request(delaySubject("CANCEL", args[0]), wire.DelayCancelRequest{ID: args[1]}, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancelled delayed message %s (due %s)\n", r.ID, r.DeliverAt.Format(time.RFC3339Nano))
			return nil
		},
	}
}
