package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

func newGroupCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Manage consumer groups (clustering or broadcasting) and see their lag",
	}
	cmd.AddCommand(newGroupAddCmd(g), newGroupLsCmd(g), newGroupInfoCmd(g), newGroupRmCmd(g), newGroupResetCmd(g), newGroupLagCmd(g))
	return cmd
}

// groupFlags are the settings group add takes; only the ones given are
// sent, so the broker applies its defaults to the rest.
type groupFlags struct {
	mode           string
	ordered        bool
	tags           []string
	maxReconsume   int
	retryBackoff   []time.Duration
	start          string
	memberTTL      time.Duration
	sessionTimeout time.Duration
}

func (f *groupFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.mode, "mode", core.ModeClustering, "clustering (each message to one member) or broadcasting (to every member)")
	fs.BoolVar(&f.ordered, "ordered", false, "per-partition FIFO with one owner per partition")
	fs.StringSliceVar(&f.tags, "tags", nil, "only these tags (filtered on the server; empty = all)")
	fs.IntVar(&f.maxReconsume, "max-reconsume", core.DefaultMaxReconsume, "attempts before a message goes to the dead-letter queue")
	fs.DurationSliceVar(&f.retryBackoff, "retry-backoff", nil, "increasing waits between attempts, e.g. 10s,30s,1m (default RocketMQ's ladder)")
	fs.StringVar(&f.start, "start", core.StartNew, "where a new group (broadcasting: member) starts: new, all or last_per_key")
	fs.DurationVar(&f.memberTTL, "member-ttl", core.DefaultMemberTTL, "broadcasting: a member silent this long is removed with its position")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", core.DefaultSessionTimeout, "how long a dead member keeps its unacked messages")
}

func (f *groupFlags) body(cmd *cobra.Command) map[string]any {
	b := map[string]any{}
	set := func(flag, key string, v any) {
		if fl := cmd.Flags().Lookup(flag); fl != nil && fl.Changed {
			b[key] = v
		}
	}
	set("mode", "mode", f.mode)
	set("ordered", "ordered", f.ordered)
	set("tags", "tags", f.tags)
	set("max-reconsume", "max_reconsume", f.maxReconsume)
	backoff := make([]string, len(f.retryBackoff))
	for i, d := range f.retryBackoff {
		backoff[i] = d.String()
	}
	set("retry-backoff", "retry_backoff", backoff)
	set("start", "start", f.start)
	set("member-ttl", "member_ttl", f.memberTTL.String())
	set("session-timeout", "session_timeout", f.sessionTimeout.String())
	return b
}

func newGroupAddCmd(g *globalFlags) *cobra.Command {
	f := &groupFlags{}
	cmd := &cobra.Command{
		Use:   "add TOPIC GROUP",
		Short: "Create a consumer group (idempotent for the same settings)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st wire.GroupStatus
			if err := g.request(wire.GroupAPIPrefix+"CREATE."+args[0]+"."+args[1], f.body(cmd), &st); err != nil {
				return err
			}
			return printGroupStatus(cmd, g, &st)
		},
	}
	f.add(cmd)
	return cmd
}

func newGroupLsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "ls [TOPIC]",
		Short: "List groups with their lag",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subj := wire.GroupAPIPrefix + "LIST"
			if len(args) == 1 {
				subj += "." + args[0]
			}
			var l wire.GroupList
			if err := g.request(subj, nil, &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "GROUP", "MODE", "ORDERED", "TAGS", "MEMBERS", "PENDING", "ACK PENDING", "REDELIVERED", "DLQ")
			for _, st := range l.Groups {
				t.row(st.Config.Topic, st.Config.Name, st.Config.Mode, st.Config.Ordered, tagList(st.Config.Tags), liveMembers(st), st.Pending, st.AckPending, st.Redelivered, st.DLQ)
			}
			return t.flush()
		},
	}
}

func newGroupInfoCmd(g *globalFlags) *cobra.Command {
	var page wire.GroupInfoRequest
	cmd := &cobra.Command{
		Use:   "info TOPIC GROUP",
		Short: "Show a group's config, members and lag (per member for broadcasting)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st wire.GroupStatus
			if err := g.request(wire.GroupAPIPrefix+"INFO."+args[0]+"."+args[1], page, &st); err != nil {
				return err
			}
			return printGroupStatus(cmd, g, &st)
		},
	}
	cmd.Flags().IntVar(&page.Offset, "offset", 0, "first member to show (members are sorted by id)")
	cmd.Flags().IntVar(&page.Limit, "limit", 0, fmt.Sprintf("members to show (default %d, fewer if the reply would not fit max_payload)", wire.DefaultMemberPage))
	return cmd
}

func newGroupRmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm TOPIC GROUP",
		Short: "Delete a group and its consumers (its dead letters stay until `jetmq dlq purge`)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r wire.DeleteReply
			if err := g.request(wire.GroupAPIPrefix+"DELETE."+args[0]+"."+args[1], nil, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted group %s of topic %s (consumers: %s)\n", args[1], args[0], strings.Join(r.Consumers, ", "))
			return nil
		},
	}
}

func newGroupResetCmd(g *globalFlags) *cobra.Command {
	var seq uint64
	var at, member string
	cmd := &cobra.Command{
		Use:   "reset TOPIC GROUP (--seq N | --time RFC3339|DURATION-AGO)",
		Short: "Rewind (or fast-forward) a group, or one broadcasting member, to a sequence or a time",
		Example: `  jetmq group reset orders email --seq 1
  jetmq group reset orders email --time 2025-06-01T12:00:00Z
  jetmq group reset prices cache --member cache-2 --time 1h`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := wire.ResetRequest{Seq: seq, Member: member}
			if at != "" {
				t, err := parseResetTime(at, time.Now())
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				req.Time = t
			}
			if (req.Seq == 0) == req.Time.IsZero() {
				return &exitError{code: 2, err: fmt.Errorf("give exactly one of --seq and --time")}
			}
			var r wire.ResetReply
			if err := g.request(wire.GroupAPIPrefix+"RESET."+args[0]+"."+args[1], req, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s now start at sequence %d\n", strings.Join(r.Consumers, ", "), r.Seq)
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seq, "seq", 0, "stream sequence to deliver next")
	cmd.Flags().StringVar(&at, "time", "", "first message stored at or after this time (RFC 3339, or a duration meaning that long ago)")
	cmd.Flags().StringVar(&member, "member", "", "reset only this broadcasting member")
	return cmd
}

// parseResetTime reads RFC 3339 or a duration ago.
func parseResetTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--time %q is neither RFC 3339 (2025-06-01T12:00:00Z) nor a positive duration (1h)", s)
}

func printGroupStatus(cmd *cobra.Command, g *globalFlags, st *wire.GroupStatus) error {
	w := cmd.OutOrStdout()
	if g.json {
		return printJSON(w, st)
	}
	c := st.Config
	fmt.Fprintf(w, "Group %s of topic %s\n", c.Name, c.Topic)
	fmt.Fprintf(w, "  mode: %s  ordered: %v  tags: %s  start: %s\n", c.Mode, c.Ordered, tagList(c.Tags), c.Start)
	fmt.Fprintf(w, "  max_reconsume: %d  retry_backoff: %v\n", c.MaxReconsume, c.RetryBackoff)
	if st.Consumer != "" {
		fmt.Fprintf(w, "  consumer: %s on stream %s (waiting pulls: %d)\n", st.Consumer, c.Topic, st.WaitingPulls)
	}
	fmt.Fprintf(w, "  pending: %d  ack pending: %d  redelivered: %d  dead letters: %d (stream %s)\n", st.Pending, st.AckPending, st.Redelivered, st.DLQ, wire.DLQStream(c.Topic))
	if err := printOrderedPartitions(w, st.Partitions); err != nil {
		return err
	}
	if len(st.Members) == 0 {
		if st.MembersTotal == 0 {
			fmt.Fprintln(w, "  members: none")
		} else {
			fmt.Fprintf(w, "  members: none from offset %d (%d in all)\n", st.MembersOffset, st.MembersTotal)
		}
		return nil
	}
	fmt.Fprintf(w, "  members: %d live of %d", st.MembersLive, st.MembersTotal)
	if len(st.Members) < st.MembersTotal {
		fmt.Fprintf(w, " (showing %d from offset %d: see --offset)", len(st.Members), st.MembersOffset)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	t := newTable(w, "MEMBER", "LIVE", "LAST SEEN", "PENDING", "ACK PENDING", "REDELIVERED", "ACK FLOOR")
	for _, m := range st.Members {
		seen := "-"
		if !m.LastSeen.IsZero() {
			seen = time.Since(m.LastSeen).Round(time.Millisecond).String() + " ago"
		}
		if m.Consumer == "" {
			t.row(m.Member, m.Live, seen, "-", "-", "-", "-")
			continue
		}
		t.row(m.Member, m.Live, seen, m.Pending, m.AckPending, m.Redelivered, m.AckFloor)
	}
	return t.flush()
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return "(all)"
	}
	return strings.Join(tags, ",")
}

func liveMembers(st wire.GroupStatus) int { return st.MembersLive }
