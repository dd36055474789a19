package bridge

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsTimeout bounds the JetStream reads behind one /metrics scrape, so
// that a scrape stays quick while a stream elects a new leader.
const metricsTimeout = 2 * time.Second

var (
	groupLabels  = []string{"topic", "group"}
	memberLabels = []string{"topic", "group", "member"}

	descGroupPending     = prometheus.NewDesc("jetmq_group_pending", "Messages of the topic the group has not been delivered yet (summed over broadcasting members).", groupLabels, nil)
	descGroupAckPending  = prometheus.NewDesc("jetmq_group_ack_pending", "Messages delivered to the group and not yet acknowledged.", groupLabels, nil)
	descGroupRedelivered = prometheus.NewDesc("jetmq_group_redelivered", "Unacknowledged messages delivered more than once.", groupLabels, nil)
	descGroupMembers     = prometheus.NewDesc("jetmq_group_members", "Live members of the group.", groupLabels, nil)
	descGroupDLQ         = prometheus.NewDesc("jetmq_group_dlq_messages", "Messages of the group in the dead-letter queue.", groupLabels, nil)
	descMemberPending    = prometheus.NewDesc("jetmq_group_member_pending", "Messages a broadcasting member has not been delivered yet.", memberLabels, nil)
	descMemberAckPending = prometheus.NewDesc("jetmq_group_member_ack_pending", "Messages delivered to a broadcasting member and not yet acknowledged.", memberLabels, nil)
)

// groupCollector reads the lag of every group at scrape time, so /metrics
// on any node shows the cluster-wide truth kept by JetStream.
type groupCollector struct{ s *GroupService }

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGroupPending, descGroupAckPending, descGroupRedelivered, descGroupMembers, descGroupDLQ, descMemberPending, descMemberAckPending} {
		ch <- d
	}
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	groups, err := c.s.listGroups(ctx, "")
	if err != nil {
		c.s.log.Warn("group metrics: reading the registry failed", "err", err)
		return
	}
	for _, g := range groups {
		st, err := c.s.status(ctx, g)
		if err != nil {
			c.s.log.Warn("group metrics: reading a group failed", "topic", g.Topic, "group", g.Name, "err", err)
			continue
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		gauge(descGroupPending, float64(st.Pending), g.Topic, g.Name)
		gauge(descGroupAckPending, float64(st.AckPending), g.Topic, g.Name)
		gauge(descGroupRedelivered, float64(st.Redelivered), g.Topic, g.Name)
		gauge(descGroupDLQ, float64(st.DLQ), g.Topic, g.Name)
		for _, m := range st.Members {
			if m.Consumer != "" {
				gauge(descMemberPending, float64(m.Pending), g.Topic, g.Name, m.Member)
				gauge(descMemberAckPending, float64(m.AckPending), g.Topic, g.Name, m.Member)
			}
		}
		gauge(descGroupMembers, float64(st.MembersLive), g.Topic, g.Name)
	}
}
