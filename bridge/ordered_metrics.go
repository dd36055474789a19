package bridge

import (
	"strconv"

	"github.com/jetmq/jetmq/core"
	"github.com/prometheus/client_golang/prometheus"
)

// orderedMetrics are exported by the node that runs a group's
// coordinator.
type orderedMetrics struct {
	owned      *prometheus.GaugeVec
	suspended  *prometheus.GaugeVec
	stalled    *prometheus.GaugeVec
	stallMoves *prometheus.CounterVec
	grants     *prometheus.CounterVec
	revokes    *prometheus.CounterVec
	rebalances *prometheus.CounterVec
}

func newOrderedMetrics() *orderedMetrics {
	return &orderedMetrics{
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jetmq_ordered_owned_partitions",
			Help: "Partitions of an ordered group each member owns (kept by the group's coordinator)."}, memberLabels),
		suspended: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jetmq_ordered_suspended_partitions",
			Help: "Partitions of an ordered group whose head message waits to be retried after a handler error."}, groupLabels),
		stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jetmq_ordered_stalled_partitions",
			Help: "Partitions of an ordered group whose owner held them without consuming them (unfinished messages, no waiting pull, no progress), until they are granted again."}, groupLabels),
		stallMoves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_ordered_stall_moves_total",
			Help: "Partitions an ordered group's coordinator took from an owner that did not consume them."}, groupLabels),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_ordered_grants_total",
			Help: "Partitions fenced and granted to a member, per partition."}, append(groupLabels[:2:2], "partition")),
		revokes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_ordered_revokes_total",
			Help: "Partitions an ordered group's coordinator asked their owner to release."}, groupLabels),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_ordered_rebalances_total",
			Help: "Rebalances of an ordered group that moved at least one partition."}, groupLabels),
	}
}

func (m *orderedMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

func (m *orderedMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *orderedMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.owned, m.suspended, m.stalled, m.stallMoves, m.grants, m.revokes, m.rebalances}
}

func (m *orderedMetrics) rebalanced(g core.GroupConfig, p int) {
	if m == nil {
		return
	}
	m.grants.WithLabelValues(g.Topic, g.Name, strconv.Itoa(p)).Inc()
}

// observe refreshes the gauges and counters from a coordinator's state
// after a change; revokes and rebalances are the deltas since the last
// observation.
func (m *orderedMetrics) observe(g core.GroupConfig, counts map[string]int, suspended, stalled int, revokes, rebalances uint64) {
	if m == nil {
		return
	}
	m.owned.DeletePartialMatch(prometheus.Labels{"topic": g.Topic, "group": g.Name})
	for member, n := range counts {
		m.owned.WithLabelValues(g.Topic, g.Name, member).Set(float64(n))
	}
	m.suspended.WithLabelValues(g.Topic, g.Name).Set(float64(suspended))
	m.stalled.WithLabelValues(g.Topic, g.Name).Set(float64(stalled))
	m.revokes.WithLabelValues(g.Topic, g.Name).Add(float64(revokes))
	m.rebalances.WithLabelValues(g.Topic, g.Name).Add(float64(rebalances))
}

// forget removes a group's gauges when its coordinator stops here.
func (m *orderedMetrics) forget(g core.GroupConfig) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"topic": g.Topic, "group": g.Name}
	m.owned.DeletePartialMatch(labels)
	m.suspended.DeletePartialMatch(labels)
	m.stalled.DeletePartialMatch(labels)
}

// stallMoved counts a partition taken from an owner that did not consume it.
func (m *orderedMetrics) stallMoved(g core.GroupConfig) {
	if m == nil {
		return
	}
	m.stallMoves.WithLabelValues(g.Topic, g.Name).Inc()
}
