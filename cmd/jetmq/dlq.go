package main

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func newDLQCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and purge a group's dead-letter queue",
		Long: `Every topic has a dead-letter stream %DLQ%<topic>; a group's dead letters
are on $MQ.DLQ.<topic>.<group>, readable by any NATS client.`,
	}
	cmd.AddCommand(newDLQLsCmd(g), newDLQShowCmd(g), newDLQReplayCmd(g), newDLQPurgeCmd(g), newDLQExportCmd(g))
	return cmd
}

func dlqSubject(op, topic, group string) string {
	return wire.DLQAPIPrefix + op + "." + topic + "." + group
}

func newDLQLsCmd(g *globalFlags) *cobra.Command {
	var from uint64
	var limit int
	cmd := &cobra.Command{
		Use:   "ls TOPIC GROUP",
		Short: "List a group's dead letters (oldest first)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var l wire.DLQList
			if err := g.request(dlqSubject("LIST", args[0], args[1]), wire.DLQListRequest{From: from, Limit: limit}, &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			t := newTable(cmd.OutOrStdout(), "DLQ SEQ", "KEY", "TAG", "PARTITION", "SEQ", "ATTEMPTS", "MEMBER", "DEAD AT", "ERROR")
			for _, d := range l.Messages {
				t.row(d.DLQSeq, d.Key, dash(d.Tag), d.Partition, d.Seq, d.Attempts, dash(d.Member), d.DeadAt.Format(time.RFC3339), d.Error)
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d dead letters", len(l.Messages), l.Total)
			if l.Next != 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "; more with --from %d", l.Next)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().Uint64Var(&from, "from", 0, "first DLQ sequence to list")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	return cmd
}

func newDLQShowCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show TOPIC GROUP DLQ-SEQ",
		Short: "Show one dead letter with its headers and body",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var seq uint64
			if _, err := fmt.Sscan(args[2], &seq); err != nil || seq == 0 {
				return &exitError{code: 2, err: fmt.Errorf("DLQ-SEQ %q is not a positive number", args[2])}
			}
			var d wire.DeadLetter
			if err := g.request(dlqSubject("SHOW", args[0], args[1]), wire.DLQShowRequest{Seq: seq}, &d); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), d)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Dead letter %d of group %s (topic %s)\n", d.DLQSeq, d.Group, d.Topic)
			fmt.Fprintf(w, "  subject: %s (seq %d, partition %d, key %s, tag %s)\n", d.Subject, d.Seq, d.Partition, d.Key, dash(d.Tag))
			if d.Member != "" {
				fmt.Fprintf(w, "  member: %s\n", d.Member)
			}
			fmt.Fprintf(w, "  attempts: %d  dead at: %s\n  error: %s\n", d.Attempts, d.DeadAt.Format(time.RFC3339Nano), d.Error)
			printHeaders(cmd, d.Headers)
			fmt.Fprintf(w, "  body (%d bytes):\n%s\n", len(d.Data), d.Data)
			return nil
		},
	}
}

func printHeaders(cmd *cobra.Command, h nats.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(cmd.OutOrStdout(), "  header %s: %s\n", k, v)
		}
	}
}

// replayBatch is how many dead letters one REPLAY request moves; the CLI
// repeats it and draws progress in between.
const replayBatch = 500

func newDLQReplayCmd(g *globalFlags) *cobra.Command {
	var seq uint64
	cmd := &cobra.Command{
		Use:   "replay TOPIC GROUP",
		Short: "Republish dead letters to the topic with their original key and tag (never twice)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, err := g.connect()
			if err != nil {
				return fmt.Errorf("connect %s: %w", g.server, err)
			}
			defer nc.Close()
			subj := dlqSubject("REPLAY", args[0], args[1])
			if seq != 0 {
				var r wire.DLQReplayReply
				if err := requestOn(nc, subj, wire.DLQReplayRequest{Seq: seq}, &r); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "replayed %d; %d dead letters remain\n", r.Replayed, r.Remaining)
				return nil
			}
			total := 0
			var bar *progressbar.ProgressBar
			for {
				var r wire.DLQReplayReply
				if err := requestOn(nc, subj, wire.DLQReplayRequest{Limit: replayBatch}, &r); err != nil {
					return err
				}
				total += r.Replayed
				if bar == nil && r.Remaining > 0 && !g.json {
					bar = progressbar.NewOptions(total+int(r.Remaining), progressbar.OptionSetWriter(os.Stderr),
						progressbar.OptionSetDescription("replay"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
				}
				if bar != nil {
					_ = bar.Set(total)
				}
				if r.Remaining == 0 || r.Replayed == 0 {
					if bar != nil {
						_ = bar.Finish()
					}
					if g.json {
						return printJSON(cmd.OutOrStdout(), wire.DLQReplayReply{Replayed: total, Remaining: r.Remaining})
					}
					fmt.Fprintf(cmd.OutOrStdout(), "replayed %d; %d dead letters remain\n", total, r.Remaining)
					return nil
				}
			}
		},
	}
	cmd.Flags().Uint64Var(&seq, "seq", 0, "replay only this DLQ sequence")
	return cmd
}

func newDLQPurgeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "purge TOPIC GROUP",
		Short: "Delete all of a group's dead letters",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r wire.DLQPurgeReply
			if err := g.request(dlqSubject("PURGE", args[0], args[1]), nil, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "purged %d dead letters\n", r.Purged)
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
