package bridge

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

func groupOf(mod func(g *core.GroupConfig)) core.GroupConfig {
	g := core.GroupConfig{Name: "g", Topic: "T", SessionTimeout: 4 * time.Second, MemberTTL: time.Minute, MaxReconsume: 3}
	if mod != nil {
		mod(&g)
	}
	g.SetDefaults()
	return g
}

func TestGroupConsumerConfig(t *testing.T) {
	cases := []struct {
		name     string
		g        core.GroupConfig
		member   string
		durable  string
		deliver  jetstream.DeliverPolicy
		filter   string
		filters  []string
		meta     map[string]string
		inactive time.Duration
	}{
		{name: "clustering, whole topic", g: groupOf(nil), durable: "g", deliver: jetstream.DeliverAllPolicy,
			meta: map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeClustering}},
		{name: "one tag", g: groupOf(func(g *core.GroupConfig) { g.Tags = []string{"red"} }), durable: "g", deliver: jetstream.DeliverAllPolicy,
			filter: "T.*.*.red", meta: map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeClustering}},
		{name: "two tags", g: groupOf(func(g *core.GroupConfig) { g.Tags = []string{"red", "blue"} }), durable: "g", deliver: jetstream.DeliverAllPolicy,
			filters: []string{"T.*.*.red", "T.*.*.blue"}, meta: map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeClustering}},
		{name: "last per key needs a filter", g: groupOf(func(g *core.GroupConfig) { g.Start = core.StartLastPerKey }), durable: "g",
			deliver: jetstream.DeliverLastPerSubjectPolicy, filter: "T.>", meta: map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeClustering}},
		{name: "broadcasting member", g: groupOf(func(g *core.GroupConfig) { g.Mode = core.ModeBroadcasting }), member: "m1", durable: "g__m1",
			deliver: jetstream.DeliverAllPolicy, inactive: time.Minute,
			meta: map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeBroadcasting, wire.MetaMember: "m1"}},
		{name: "ordered marks its metadata", g: groupOf(func(g *core.GroupConfig) { g.Ordered = true }), durable: "g", deliver: jetstream.DeliverAllPolicy,
			meta: map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeClustering, wire.MetaOrdered: "true"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := groupConsumerConfig(tc.g, tc.member)
			if c.Durable != tc.durable || c.DeliverPolicy != tc.deliver || c.InactiveThreshold != tc.inactive {
				t.Errorf("durable/deliver/inactive: want %s/%v/%v, got %s/%v/%v", tc.durable, tc.deliver, tc.inactive, c.Durable, c.DeliverPolicy, c.InactiveThreshold)
			}
			if c.FilterSubject != tc.filter || !slices.Equal(c.FilterSubjects, tc.filters) {
				t.Errorf("filters: want %q / %q, got %q / %q", tc.filter, tc.filters, c.FilterSubject, c.FilterSubjects)
			}
			if !maps.Equal(c.Metadata, tc.meta) {
				t.Errorf("metadata: want %v, got %v", tc.meta, c.Metadata)
			}
			if c.AckPolicy != jetstream.AckExplicitPolicy || c.AckWait != 4*time.Second || c.MaxDeliver != 4 || c.MaxAckPending != wire.GroupMaxAckPending {
				t.Errorf("want explicit acks, ack wait = session timeout 4s, max deliver = max_reconsume+1 = 4, max ack pending %d; got %v %v %d %d",
					wire.GroupMaxAckPending, c.AckPolicy, c.AckWait, c.MaxDeliver, c.MaxAckPending)
			}
		})
	}
}

func TestOrderedConsumerConfig(t *testing.T) {
	cases := []struct {
		name    string
		g       core.GroupConfig
		filter  string
		filters []string
		deliver jetstream.DeliverPolicy
	}{
		{"whole partition", groupOf(func(g *core.GroupConfig) { g.Ordered = true }), "T.5.>", nil, jetstream.DeliverAllPolicy},
		{"tags of the partition", groupOf(func(g *core.GroupConfig) { g.Ordered, g.Tags = true, []string{"a", "b"} }), "", []string{"T.5.*.a", "T.5.*.b"}, jetstream.DeliverAllPolicy},
		{"last per key", groupOf(func(g *core.GroupConfig) { g.Ordered, g.Start = true, core.StartLastPerKey }), "T.5.>", nil, jetstream.DeliverLastPerSubjectPolicy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := orderedConsumerConfig(tc.g, 5)
			if c.Durable != "g~p5" || c.DeliverPolicy != tc.deliver {
				t.Errorf("durable/deliver: want g~p5/%v, got %s/%v", tc.deliver, c.Durable, c.DeliverPolicy)
			}
			if c.FilterSubject != tc.filter || !slices.Equal(c.FilterSubjects, tc.filters) {
				t.Errorf("filters: want %q / %q, got %q / %q", tc.filter, tc.filters, c.FilterSubject, c.FilterSubjects)
			}
			// No max deliver: giving a message up silently would break the order.
			if c.MaxDeliver != -1 || c.AckWait != 40*time.Second || c.MaxAckPending != wire.OrderedMaxAckPending || c.AckPolicy != jetstream.AckExplicitPolicy {
				t.Errorf("want max deliver -1, ack wait 10 x 4s, max ack pending %d, explicit acks; got %d %v %d %v",
					wire.OrderedMaxAckPending, c.MaxDeliver, c.AckWait, c.MaxAckPending, c.AckPolicy)
			}
			wantMeta := map[string]string{wire.MetaGroup: "g", wire.MetaMode: core.ModeClustering, wire.MetaOrdered: "true", wire.MetaPartition: "5"}
			if !maps.Equal(c.Metadata, wantMeta) {
				t.Errorf("metadata: want %v, got %v", wantMeta, c.Metadata)
			}
		})
	}
	if got := orderedConsumerConfig(groupOf(func(g *core.GroupConfig) { g.SessionTimeout = time.Second }), 0).AckWait; got != 30*time.Second {
		t.Errorf("ack wait of a short session: want the 30s floor, got %v", got)
	}
}

func TestConsumerUpToDate(t *testing.T) {
	want := groupConsumerConfig(groupOf(func(g *core.GroupConfig) { g.Tags = []string{"a", "b"} }), "")
	cases := []struct {
		name   string
		change func(c *jetstream.ConsumerConfig)
		want   bool
	}{
		{"same", func(*jetstream.ConsumerConfig) {}, true},
		{"description is not compared", func(c *jetstream.ConsumerConfig) { c.Description = "x" }, true},
		{"filters", func(c *jetstream.ConsumerConfig) { c.FilterSubjects = []string{"T.*.*.a"} }, false},
		{"filter", func(c *jetstream.ConsumerConfig) { c.FilterSubject = "T.>" }, false},
		{"max deliver", func(c *jetstream.ConsumerConfig) { c.MaxDeliver++ }, false},
		{"inactive threshold", func(c *jetstream.ConsumerConfig) { c.InactiveThreshold = time.Hour }, false},
		{"ack wait", func(c *jetstream.ConsumerConfig) { c.AckWait = time.Hour }, false},
		{"max ack pending", func(c *jetstream.ConsumerConfig) { c.MaxAckPending = 1 }, false},
		{"mode", func(c *jetstream.ConsumerConfig) {
			c.Metadata = map[string]string{wire.MetaMode: core.ModeBroadcasting}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := want
			cur.Metadata = maps.Clone(want.Metadata)
			cur.FilterSubjects = slices.Clone(want.FilterSubjects)
			tc.change(&cur)
			if got := consumerUpToDate(cur, want); got != tc.want {
				t.Fatalf("consumerUpToDate: want %v, got %v", tc.want, got)
			}
		})
	}
}

func TestNewOrderedJoinReply(t *testing.T) {
	t.Run("clustering", func(t *testing.T) {
		g := groupOf(func(g *core.GroupConfig) { g.Ordered, g.Tags = true, []string{"red"} })
		r := newOrderedJoinReply(g, "m1", "ignored", 3)
		if r.Protocol != wire.ProtocolOrdered || r.Partitions != 3 || r.Stream != "T" || r.Consumer != "" || r.FilterSubjects != nil {
			t.Errorf("want protocol ordered, 3 partitions, stream T, no consumer or filters; got %q %d %q %q %q", r.Protocol, r.Partitions, r.Stream, r.Consumer, r.FilterSubjects)
		}
		if want := []string{"g~p0", "g~p1", "g~p2"}; !slices.Equal(r.Consumers, want) {
			t.Errorf("consumers: want %q, got %q", want, r.Consumers)
		}
		if r.AckWaitMs != 40000 || r.MaxDeliver != -1 || r.SessionTimeoutMs != 4000 || r.SuspendMs != 1000 {
			t.Errorf("want ack wait 40000ms, max deliver -1, session 4000ms, suspend 1000ms; got %d %d %d %d", r.AckWaitMs, r.MaxDeliver, r.SessionTimeoutMs, r.SuspendMs)
		}
		if r.AssignSubject != "$MQ.GROUP.ASSIGN.T.g.m1" || r.ReleaseSubject != "$MQ.GROUP.RELEASE.T.g.m1" {
			t.Errorf("assign/release: want $MQ.GROUP.ASSIGN.T.g.m1 / $MQ.GROUP.RELEASE.T.g.m1, got %q / %q", r.AssignSubject, r.ReleaseSubject)
		}
	})
	t.Run("broadcasting keeps its own durable", func(t *testing.T) {
		g := groupOf(func(g *core.GroupConfig) { g.Ordered, g.Mode, g.Tags = true, core.ModeBroadcasting, []string{"red"} })
		r := newOrderedJoinReply(g, "m1", "g__m1", 2)
		if r.Protocol != wire.ProtocolOrdered || r.Consumer != "g__m1" || r.Consumers != nil || !slices.Equal(r.FilterSubjects, []string{"T.*.*.red"}) {
			t.Errorf("want protocol ordered, consumer g__m1, no partition consumers, filter T.*.*.red; got %q %q %q %q", r.Protocol, r.Consumer, r.Consumers, r.FilterSubjects)
		}
		if r.MaxDeliver != 4 || r.AckWaitMs != 4000 {
			t.Errorf("want the group's max deliver 4 and ack wait 4000ms, got %d %d", r.MaxDeliver, r.AckWaitMs)
		}
	})
}
