package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// txnMetrics are the coordinator's Prometheus counters: what this node
// did. The gauges are txnGauges.
type txnMetrics struct {
	checks     *prometheus.CounterVec
	committed  *prometheus.CounterVec
	rolledBack *prometheus.CounterVec
}

func newTxnMetrics(reg prometheus.Registerer) (*txnMetrics, error) {
	m := &txnMetrics{
		checks:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_txn_checks_total", Help: "Check-back requests sent, by result: commit, rollback, unknown, malformed, timeout, no_responders, error."}, []string{"topic", "result"}),
		committed:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_txn_committed_total", Help: "Transactions committed."}, []string{"topic"}),
		rolledBack: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetmq_txn_rolled_back_total", Help: "Transactions rolled back."}, []string{"topic"}),
	}
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

// txnGaugeTTL bounds how often a scrape recounts transactions.
const txnGaugeTTL = 2 * time.Second

var (
	txnPendingDesc = prometheus.NewDesc("jetmq_txn_pending", "Open transactions of a topic (parked ones included), exported by the node that drives its checks.", []string{"topic"}, nil)
	txnParkedDesc  = prometheus.NewDesc("jetmq_txn_parked", "Parked transactions of a topic, waiting for an operator, exported by the node that drives its checks.", []string{"topic"}, nil)
)

// txnGauges exports the open and parked transactions of the topics whose
// checks this node drives. They are counted at scrape time (at most every
// txnGaugeTTL), not by a timer, so an idle node does no work for them.
type txnGauges struct {
	store *txnStore

	mu     sync.Mutex
	driven map[string]bool
	at     time.Time
	cached map[string][]prometheus.Metric // by topic
}

// drive and stop record that this node starts or stops driving topic.
func (g *txnGauges) drive(topic string) { g.set(topic, true) }
func (g *txnGauges) stop(topic string)  { g.set(topic, false) }

func (g *txnGauges) set(topic string, driving bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.driven == nil {
		g.driven = map[string]bool{}
	}
	if driving {
		g.driven[topic] = true
	} else {
		delete(g.driven, topic)
	}
	g.at = time.Time{} // the next scrape recounts
}

func (g *txnGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- txnPendingDesc
	ch <- txnParkedDesc
}

func (g *txnGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.at) > txnGaugeTTL {
		g.cached, g.at = g.count(), time.Now()
	}
	for _, ms := range g.cached {
		for _, m := range ms {
			ch <- m
		}
	}
}

// count counts each driven topic's transactions within metricsTimeout; a
// topic that cannot be read in time keeps its figures of the last count.
func (g *txnGauges) count() map[string][]prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	out := map[string][]prometheus.Metric{}
	for topic := range g.driven {
		pending, err1 := g.store.countTxns(ctx, topic, wire.TxnKindHalf)
		parked, err2 := g.store.countTxns(ctx, topic, wire.TxnKindParked)
		if err1 != nil || err2 != nil {
			if last, ok := g.cached[topic]; ok {
				out[topic] = last
			}
			continue
		}
		out[topic] = []prometheus.Metric{
			prometheus.MustNewConstMetric(txnPendingDesc, prometheus.GaugeValue, float64(pending), topic),
			prometheus.MustNewConstMetric(txnParkedDesc, prometheus.GaugeValue, float64(parked), topic),
		}
	}
	return out
}
