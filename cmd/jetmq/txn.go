package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

func newTxnCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "Inspect and resolve transactions (half messages waiting for commit or rollback)",
	}
	cmd.AddCommand(newTxnLsCmd(g), newTxnInfoCmd(g), newTxnEndCmd(g, core.TxnStateCommit), newTxnEndCmd(g, core.TxnStateRollback))
	return cmd
}

func newTxnLsCmd(g *globalFlags) *cobra.Command {
	var parked bool
	var limit int
	cmd := &cobra.Command{
		Use:   "ls [TOPIC]",
		Short: "List the open transactions of a topic, or of every topic (--parked: only those check-back gave up on)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, err := g.connect()
			if err != nil {
				return fmt.Errorf("connect %s: %w", g.server, err)
			}
			defer nc.Close()
			topics := args
			if len(topics) == 0 {
				if topics, err = topicNames(nc); err != nil {
					return err
				}
			}
			req := wire.TxnListRequest{Parked: parked, Limit: limit}
			var replies []wire.TxnListReply
			for _, topic := range topics {
				var r wire.TxnListReply
				if err := requestOn(nc, wire.TxnAPIPrefix+"LIST."+topic, req, &r); err != nil {
					return err
				}
				replies = append(replies, r)
			}
			if g.json && len(args) == 1 {
				return printJSON(cmd.OutOrStdout(), replies[0])
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), replies)
			}
			return printTxnLists(cmd, replies)
		},
	}
	cmd.Flags().BoolVar(&parked, "parked", false, "only parked transactions (checked max_checks times without an answer)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "list at most this many per topic")
	return cmd
}

// topicNames lists every topic's name.
func topicNames(nc *nats.Conn) ([]string, error) {
	var list wire.TopicList
	if err := requestOn(nc, wire.APIPrefix+"TOPIC.LIST", nil, &list); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Topics))
	for _, ts := range list.Topics {
		names = append(names, ts.Config.Name)
	}
	return names, nil
}

// printTxnLists writes one table of the transactions of every listing.
func printTxnLists(cmd *cobra.Command, replies []wire.TxnListReply) error {
	w := cmd.OutOrStdout()
	t := newTable(w, "TOPIC", "TXID", "STATE", "GROUP", "MESSAGES", "CHECKS", "AGE")
	for _, r := range replies {
		for _, s := range r.Transactions {
			t.row(r.Topic, s.TxnID, s.State, s.Group, s.Messages, s.Checks, age(s.PreparedAt))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, r := range replies {
		if r.Truncated {
			fmt.Fprintf(w, "(%s: %d of %d shown)\n", r.Topic, len(r.Transactions), r.Total)
		}
	}
	return nil
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}

func newTxnInfoCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info TOPIC TXID",
		Short: "Show a transaction: its state and messages",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r wire.TxnInfoReply
			if err := g.request(wire.TxnAPIPrefix+"INFO."+args[0]+"."+args[1], nil, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Transaction %s of topic %s: %s", r.TxnID, r.Topic, r.State)
			if r.Group != "" {
				fmt.Fprintf(w, ", producer group %s", r.Group)
			}
			fmt.Fprintf(w, ", %d checks", r.Checks)
			if r.PreparedAt != nil {
				fmt.Fprintf(w, ", prepared %s ago", age(*r.PreparedAt))
			}
			if r.EndedAt != nil {
				fmt.Fprintf(w, ", ended by %s at %s", r.EndedBy, r.EndedAt.Format(time.RFC3339))
			}
			fmt.Fprintln(w)
			if len(r.Messages) == 0 {
				return nil
			}
			fmt.Fprintln(w)
			t := newTable(w, "PART", "KEY", "TAG", "BYTES", "HEADERS")
			for _, m := range r.Messages {
				t.row(m.Part, orDash(m.Key), orDash(m.Tag), m.Size, headerList(m.Headers))
			}
			return t.flush()
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func headerList(h nats.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k+"="+strings.Join(h[k], ","))
	}
	sort.Strings(keys)
	return orDash(strings.Join(keys, " "))
}

func newTxnEndCmd(g *globalFlags, state string) *cobra.Command {
	verb := strings.ToLower(state)
	return &cobra.Command{
		Use:   verb + " TOPIC TXID",
		Short: "Resolve a transaction as an operator: " + verb + " it (for example a parked one)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			subj := wire.TxnCommitSubject(args[0], args[1])
			if state == core.TxnStateRollback {
				subj = wire.TxnRollbackSubject(args[0], args[1])
			}
			nc, err := g.connect()
			if err != nil {
				return fmt.Errorf("connect %s: %w", g.server, err)
			}
			defer nc.Close()
			m := nats.NewMsg(subj)
			m.Header.Set(wire.HeaderTxnBy, wire.TxnByOperator)
			resp, err := requestMsgOn(nc, m)
			if err != nil {
				return err
			}
			var r wire.EndReply
			if err := wire.DecodeReply(resp.Data, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			note := ""
			if r.Duplicate {
				note = " (it already was)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Transaction %s of topic %s: %s, %d messages%s\n", r.TxnID, r.Topic, r.State, r.Messages, note)
			return nil
		},
	}
}
