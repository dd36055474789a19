package bridge

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// txnMetrics are the coordinator's Prometheus metrics. Counters count what
// this node did; the gauges are set by the node that drives a topic's
// checks (and removed when it stops driving it).
type txnMetrics struct {
	pending    *prometheus.GaugeVec
	parked     *prometheus.GaugeVec
	checks     *prometheus.CounterVec
	committed  *prometheus.CounterVec
	rolledBack *prometheus.CounterVec
}

func newTxnMetrics(reg prometheus.Registerer) (*txnMetrics, error) {
	m := &txnMetrics{
		pending:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jetmq_txn_pending", Help: "Open transactions of a topic (parked ones included)."}, []string{"topic"}),
		parked:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jetmq_txn_parked", Help: "Parked transactions of a topic, waiting for an operator."}, []string{"topic"}),
		checks:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_txn_checks_total", Help: "Check-back requests sent, by result: commit, rollback, unknown, malformed, timeout, no_responders, error."}, []string{"topic", "result"}),
		committed:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_txn_committed_total", Help: "Transactions committed."}, []string{"topic"}),
		rolledBack: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_txn_rolled_back_total", Help: "Transactions rolled back."}, []string{"topic"}),
	}
	m.pending = register(reg, m.pending)
	m.parked = register(reg, m.parked)
	m.checks = register(reg, m.checks)
	m.committed = register(reg, m.committed)
	m.rolledBack = register(reg, m.rolledBack)
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (a service started twice on one registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
