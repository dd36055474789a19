package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

func newTopicCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Manage topics (partitioned JetStream streams)",
	}
	cmd.AddCommand(newTopicAddCmd(g), newTopicUpdateCmd(g), newTopicLsCmd(g), newTopicInfoCmd(g), newTopicRmCmd(g), newTopicRepairCmd(g))
	return cmd
}

// topicFlags are the settings add and update take.
type topicFlags struct {
	partitions int
	replicas   int
	maxAge     time.Duration
	maxBytes   int64
	storage    string
	maxDelay   time.Duration
	force      bool
}

func (f *topicFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.IntVar(&f.partitions, "partitions", core.DefaultPartitions, "number of partitions (1-1024; 1 = one global order)")
	fs.IntVar(&f.replicas, "replicas", 1, "JetStream replicas (3 in a cluster)")
	fs.DurationVar(&f.maxAge, "max-age", core.DefaultTopicMaxAge, "how long messages are kept")
	fs.Int64Var(&f.maxBytes, "max-bytes", 0, "size limit of the topic in bytes (0 = no limit; on update, 0 removes the limit)")
	fs.StringVar(&f.storage, "storage", core.StorageFile, "file or memory")
	fs.DurationVar(&f.maxDelay, "max-delay", core.DefaultMaxDelay, "longest accepted delivery delay")
}

// body is the API request: only the flags given on the command line, so
// that CREATE applies the broker's defaults and UPDATE keeps the rest.
func (f *topicFlags) body(cmd *cobra.Command, name string) map[string]any {
	b := map[string]any{"name": name}
	for flag, v := range map[string]any{
		"partitions": f.partitions, "replicas": f.replicas, "max-age": f.maxAge.String(),
		"max-bytes": f.maxBytes, "storage": f.storage, "max-delay": f.maxDelay.String(), "force": f.force,
	} {
		if fl := cmd.Flags().Lookup(flag); fl != nil && fl.Changed {
			b[strings.ReplaceAll(flag, "-", "_")] = v
		}
	}
	return b
}

func newTopicAddCmd(g *globalFlags) *cobra.Command {
	f := &topicFlags{}
	cmd := &cobra.Command{
		Use:   "add TOPIC",
		Short: "Create a topic (idempotent for the same settings)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st wire.TopicStatus
			if err := g.request(wire.APIPrefix+"TOPIC.CREATE."+args[0], f.body(cmd, args[0]), &st); err != nil {
				return err
			}
			return printTopicStatus(cmd, g, &st)
		},
	}
	f.add(cmd)
	return cmd
}

func newTopicUpdateCmd(g *globalFlags) *cobra.Command {
	f := &topicFlags{}
	cmd := &cobra.Command{
		Use:   "update TOPIC",
		Short: "Change a topic's settings (raising partitions is refused while ordered groups have pending messages, unless --force)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st wire.TopicStatus
			if err := g.request(wire.APIPrefix+"TOPIC.UPDATE."+args[0], f.body(cmd, args[0]), &st); err != nil {
				return err
			}
			return printTopicStatus(cmd, g, &st)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&f.force, "force", false, "raise partitions even though ordered groups have pending messages (breaks their per-key order)")
	return cmd
}

func newTopicLsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List topics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list wire.TopicList
			if err := g.request(wire.APIPrefix+"TOPIC.LIST", nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), list)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITIONS", "REPLICAS", "STORAGE", "MAX AGE", "MESSAGES", "BYTES")
			for _, ts := range list.Topics {
				c := ts.Config
				t.row(c.Name, c.Partitions, c.Replicas, c.Storage, c.MaxAge, ts.Messages, ts.Bytes)
			}
			return t.flush()
		},
	}
}

func newTopicInfoCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info TOPIC",
		Short: "Show a topic's settings and per-partition message counts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st wire.TopicStatus
			if err := g.request(wire.APIPrefix+"TOPIC.INFO."+args[0], nil, &st); err != nil {
				return err
			}
			return printTopicStatus(cmd, g, &st)
		},
	}
}

func newTopicRmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm TOPIC",
		Short: "Delete a topic with all its messages and consumer groups",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.request(wire.APIPrefix+"TOPIC.DELETE."+args[0], nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", args[0])
			return nil
		},
	}
}

func printTopicStatus(cmd *cobra.Command, g *globalFlags, st *wire.TopicStatus) error {
	if g.json {
		return printJSON(cmd.OutOrStdout(), st)
	}
	w := cmd.OutOrStdout()
	c := st.Config
	maxBytes := "unlimited"
	if c.MaxBytes > 0 {
		maxBytes = fmt.Sprintf("%d bytes", c.MaxBytes)
	}
	fmt.Fprintf(w, "Topic %s: %d partitions, %d replicas, %s storage, max age %s, max bytes %s, max delay %s\n", c.Name, c.Partitions, c.Replicas, c.Storage, c.MaxAge, maxBytes, c.MaxDelay)
	fmt.Fprintf(w, "Messages %d (%d bytes in the stream), sequences %d..%d, %d delayed waiting, %d consumers\n", st.Messages, st.Bytes, st.FirstSeq, st.LastSeq, st.Delayed, st.Consumers)
	if st.Misfiled > 0 {
		fmt.Fprintf(w, "Misfiled %d (on subjects that are not stored forms; jetmq topic repair %s moves them)\n", st.Misfiled, c.Name)
	}
	if src := st.Source; src != nil && src.Stalled {
		fmt.Fprintf(w, "Outbox source stalled since %s: %s (lag %d, %d repairs)\n", src.Since.Format(time.RFC3339), src.Problem, src.Lag, src.Repairs)
	}
	fmt.Fprintln(w)
	t := newTable(w, "PARTITION", "MESSAGES", "FILTER")
	for _, pc := range st.PartitionMsgs {
		t.row(pc.Partition, pc.Messages, wire.PartitionFilter(c.Name, pc.Partition))
	}
	return t.flush()
}
