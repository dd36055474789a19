package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

func newMsgCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "msg",
		Short: "Look up a topic's messages by sequence, key or time, and trace one through the groups",
	}
	cmd.AddCommand(newMsgGetCmd(g), newMsgLsCmd(g), newMsgTraceCmd(g), newMsgResendCmd(g))
	return cmd
}

func msgSubject(op, topic string) string { return wire.MsgAPIPrefix + op + "." + topic }

// parseSeq reads a positive stream sequence argument (exit status 2).
func parseSeq(what, s string) (uint64, error) {
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 {
		return 0, &exitError{code: 2, err: fmt.Errorf("%s %q is not a positive number", what, s)}
	}
	return seq, nil
}

func newMsgGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get TOPIC SEQ",
		Short: "Show the message at a sequence of the topic stream, with its headers and body",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseSeq("SEQ", args[1])
			if err != nil {
				return err
			}
			var m wire.TopicMsg
			if err := g.request(msgSubject("GET", args[0]), wire.MsgGetRequest{Seq: seq}, &m); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), m)
			}
			w := cmd.OutOrStdout()
			printMsgHead(w, m)
			fmt.Fprintf(w, "\n%s\n", m.Data)
			return nil
		},
	}
}

func printMsgHead(w io.Writer, m wire.TopicMsg) {
	fmt.Fprintf(w, "seq %d  subject %s  partition %d  key %s  tag %s\ntime %s  size %d\n",
		m.Seq, m.Subject, m.Partition, m.Key, dash(m.Tag), m.Time.Format(time.RFC3339Nano), m.Size)
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range m.Headers[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
}

func newMsgLsCmd(g *globalFlags) *cobra.Command {
	var key, since, until string
	var seq, next uint64
	var limit int
	cmd := &cobra.Command{
		Use:   "ls TOPIC (--key K | --seq N | --since T [--until T]) [--next N]",
		Short: "List one page of a topic's messages by key, from a sequence, or in a time range",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := wire.MsgListRequest{Key: key, StartSeq: seq, Next: next}
			if cmd.Flags().Changed("limit") {
				req.Limit = &limit
			}
			for _, t := range []struct {
				flag, v string
				dst     **time.Time
			}{{"--since", since, &req.StartTime}, {"--until", until, &req.EndTime}} {
				if t.v == "" {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, t.v)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", t.flag, t.v)}
				}
				*t.dst = &at
			}
			var l wire.MsgList
			if err := g.request(msgSubject("LIST", args[0]), req, &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			return printMsgList(cmd.OutOrStdout(), l)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&key, "key", "", "messages of this key (every partition)")
	fs.Uint64Var(&seq, "seq", 0, "messages from this stream sequence on")
	fs.StringVar(&since, "since", "", "messages stored at or after this RFC 3339 time")
	fs.StringVar(&until, "until", "", "with --since: up to this time")
	fs.IntVar(&limit, "limit", wire.DefaultMsgPage, fmt.Sprintf("at most this many (1 to %d)", wire.MaxMsgPage))
	fs.Uint64Var(&next, "next", 0, "continue a listing from the cursor the previous page printed")
	return cmd
}

func printMsgList(w io.Writer, l wire.MsgList) error {
	t := newTable(w, "SEQ", "PARTITION", "KEY", "TAG", "TIME", "SIZE", "SUBJECT")
	for _, m := range l.Messages {
		t.row(m.Seq, m.Partition, m.Key, dash(m.Tag), m.Time.Format(time.RFC3339Nano), m.Size, m.Subject)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d messages", len(l.Messages))
	if l.Next != 0 {
		fmt.Fprintf(w, "; more with --next %d", l.Next)
	}
	fmt.Fprintln(w)
	return nil
}

func newMsgTraceCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "trace TOPIC SEQ",
		Short: "Show a message and, for each group, whether it was delivered, acknowledged or dead-lettered",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseSeq("SEQ", args[1])
			if err != nil {
				return err
			}
			var tr wire.MsgTrace
			if err := g.request(msgSubject("TRACE", args[0]), wire.MsgGetRequest{Seq: seq}, &tr); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), tr)
			}
			return printTrace(cmd.OutOrStdout(), tr)
		},
	}
}

func printTrace(w io.Writer, tr wire.MsgTrace) error {
	printMsgHead(w, tr.Message)
	fmt.Fprintln(w)
	t := newTable(w, "GROUP", "MODE", "CONSUMER", "STATE", "REDELIVERED", "ACK FLOOR", "DELIVERED", "ACK PENDING", "DEAD LETTER")
	for _, gt := range tr.Groups {
		dead := "no"
		switch {
		case gt.DeadLettered:
			dead = fmt.Sprintf("yes (DLQ seq %d)", gt.DLQSeq)
		case !gt.DLQComplete:
			dead = fmt.Sprintf("not in the first %d", gt.DLQScanned)
		}
		if len(gt.Consumers) == 0 {
			t.row(gt.Group, gt.Mode, "-", "no consumer", "-", "-", "-", "-", dead)
		}
		for _, c := range gt.Consumers {
			red := "?"
			if c.Redelivered != nil {
				red = strconv.FormatBool(*c.Redelivered)
			}
			t.row(gt.Group, gt.Mode, c.Consumer, c.State, red, c.AckFloor, c.DeliveredSeq, c.AckPending, dead)
		}
	}
	return t.flush()
}
