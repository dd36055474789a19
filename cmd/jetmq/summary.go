package main

import (
	"fmt"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

// newSummaryCmd reads the bulk listings the dashboard's pages show
// ($MQ.API.SUMMARY[.TOPICS|.GROUPS|.TXNS]).
func newSummaryCmd(g *globalFlags) *cobra.Command {
	var fresh bool
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Show the cluster at a glance: nodes, leaders, totals and the groups with most lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o wire.SummaryOverview
			if err := g.request(wire.SummaryAPIPrefix, wire.SummaryRequest{Fresh: fresh}, &o); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), o)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "at %s (took %d ms), meta leader %s\n", o.At.Format(time.RFC3339), o.TookMS, dash(o.Cluster.MetaLeader))
			t := newTable(w, "NODE", "HEALTHY", "LEADER", "LEADS TOPICS", "PROBLEM")
			for _, n := range o.Cluster.Nodes {
				t.row(n.Name, n.Healthy, n.Leader, o.Leaders[n.Name], dash(n.Problem))
			}
			if err := t.flush(); err != nil {
				return err
			}
			tot := o.Totals
			fmt.Fprintf(w, "%d topics, %d groups, %d messages, %d bytes, lag %d, delayed %d, open transactions %d (parked %d), dead letters %d\n",
				tot.Topics, tot.Groups, tot.Messages, tot.Bytes, tot.Lag, tot.Delayed, tot.TxnOpen, tot.TxnParked, tot.DLQ)
			if o.Imbalanced {
				fmt.Fprintln(w, "stream leadership is imbalanced")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&fresh, "fresh", false, "wait for a snapshot taken after the request")
	cmd.AddCommand(newSummaryTopicsCmd(g), newSummaryGroupsCmd(g), newSummaryTxnsCmd(g))
	return cmd
}

// summaryFlags are the paging and freshness flags of the listings.
type summaryFlags struct {
	req   wire.SummaryRequest
	topic string
}

func (f *summaryFlags) add(cmd *cobra.Command, paged bool) {
	cmd.Flags().BoolVar(&f.req.Fresh, "fresh", false, "wait for a snapshot taken after the request")
	cmd.Flags().StringVar(&f.req.Topic, "topic", "", "only this topic")
	if paged {
		cmd.Flags().IntVar(&f.req.Offset, "offset", 0, "skip this many rows")
		cmd.Flags().IntVar(&f.req.Limit, "limit", 0, "at most this many rows (default 1000)")
	}
}

func newSummaryTopicsCmd(g *globalFlags) *cobra.Command {
	f := &summaryFlags{}
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Every topic with its messages, replicas, leader, delayed, open transactions and dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p wire.SummaryTopicPage
			if err := g.request(wire.SummaryAPIPrefix+".TOPICS", f.req, &p); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITIONS", "MESSAGES", "BYTES", "REPLICAS", "LEADER", "GROUPS", "DELAYED", "TXNS", "PARKED", "DLQ")
			for _, r := range p.Topics {
				t.row(r.Name, r.Partitions, r.Messages, r.Bytes, fmt.Sprintf("%d/%d", r.ReplicasCurrent, r.Replicas), dash(r.Leader), r.Groups, r.Delayed, r.TxnOpen, r.TxnParked, r.DLQ)
			}
			return t.flush()
		},
	}
	f.add(cmd, true)
	return cmd
}

func newSummaryGroupsCmd(g *globalFlags) *cobra.Command {
	f := &summaryFlags{}
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "Every group with its lag, ack pending, redelivered and dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p wire.SummaryGroupPage
			if err := g.request(wire.SummaryAPIPrefix+".GROUPS", f.req, &p); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "GROUP", "MODE", "ORDERED", "LAG", "ACK PENDING", "REDELIVERED", "DLQ", "LIVE")
			for _, r := range p.Groups {
				t.row(r.Topic, r.Group, r.Mode, r.Ordered, r.Lag, r.AckPending, r.Redelivered, r.DLQ, r.MembersLive)
			}
			return t.flush()
		},
	}
	f.add(cmd, true)
	return cmd
}

func newSummaryTxnsCmd(g *globalFlags) *cobra.Command {
	f := &summaryFlags{}
	cmd := &cobra.Command{
		Use:   "txns",
		Short: "Every open (pending or parked) transaction of every topic, with its age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l wire.SummaryTxnList
			if err := g.request(wire.SummaryAPIPrefix+".TXNS", f.req, &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "TXID", "STATE", "AGE", "CHECKS", "PRODUCER GROUP", "MESSAGES")
			for _, r := range l.Transactions {
				t.row(r.Topic, r.TxnID, r.State, (time.Duration(r.AgeMS) * time.Millisecond).String(), r.Checks, r.Group, r.Messages)
			}
			return t.flush()
		},
	}
	f.add(cmd, false)
	return cmd
}
