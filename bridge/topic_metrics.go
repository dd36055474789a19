package bridge

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// topicMetricsTTL bounds how often a scrape reads the streams: per-partition
// counts need a subject-filtered stream info per topic.
const topicMetricsTTL = 5 * time.Second

var (
	topicMessagesDesc = prometheus.NewDesc("jetmq_topic_messages", "Messages stored in a topic's partitions.", []string{"topic"}, nil)
	partitionMsgsDesc = prometheus.NewDesc("jetmq_topic_partition_messages", "Messages stored in one partition of a topic.", []string{"topic", "partition"}, nil)
	delayedDesc       = prometheus.NewDesc("jetmq_topic_delayed_pending", "Delayed messages of a topic waiting for their time.", []string{"topic"}, nil)
	partitionsDesc    = prometheus.NewDesc("jetmq_topic_partitions", "Partition count of a topic.", []string{"topic"}, nil)
	misfiledDesc      = prometheus.NewDesc("jetmq_topic_misfiled_messages", "Messages of a topic on a subject that is not a stored form (jetmq topic repair moves them).", []string{"topic"}, nil)
	sourceStalledDesc = prometheus.NewDesc("jetmq_topic_source_stalled", "1 while the topic's outbox is not sourced into it (seen by the node that watches sources).", []string{"topic"}, nil)
	sourceRepairsDesc = prometheus.NewDesc("jetmq_topic_source_repairs_total", "Repairs of the topic's outbox source by this node.", []string{"topic"}, nil)
)

// topicCollector exports topic figures, read from JetStream at scrape time
// and cached for topicMetricsTTL.
type topicCollector struct {
	t *Topics

	mu      sync.Mutex
	at      time.Time
	metrics map[string][]prometheus.Metric // by topic
}

func (c *topicCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{topicMessagesDesc, partitionMsgsDesc, delayedDesc, partitionsDesc, misfiledDesc, sourceStalledDesc, sourceRepairsDesc} {
		ch <- d
	}
}

func (c *topicCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > topicMetricsTTL {
		c.metrics = c.read(c.metrics)
		c.at = time.Now()
	}
	for _, ms := range c.metrics {
		for _, m := range ms {
			ch <- m
		}
	}
}

// read reads every topic's figures within metricsTimeout; a topic that
// cannot be read in time (its stream is electing a leader) keeps the
// figures of the previous scrape.
func (c *topicCollector) read(prev map[string][]prometheus.Metric) map[string][]prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	out := map[string][]prometheus.Metric{}
	for _, ti := range c.t.List() {
		st, err := c.t.status(ctx, ti.Name)
		if err != nil {
			if old, ok := prev[ti.Name]; ok {
				out[ti.Name] = old
			}
			continue
		}
		out[ti.Name] = append(out[ti.Name],
			prometheus.MustNewConstMetric(topicMessagesDesc, prometheus.GaugeValue, float64(st.Messages), ti.Name),
			prometheus.MustNewConstMetric(delayedDesc, prometheus.GaugeValue, float64(st.Delayed), ti.Name),
			prometheus.MustNewConstMetric(partitionsDesc, prometheus.GaugeValue, float64(ti.Partitions), ti.Name),
			prometheus.MustNewConstMetric(misfiledDesc, prometheus.GaugeValue, float64(st.Misfiled), ti.Name))
		if st.Source != nil {
			stalled := 0.0
			if st.Source.Stalled {
				stalled = 1
			}
			out[ti.Name] = append(out[ti.Name],
				prometheus.MustNewConstMetric(sourceStalledDesc, prometheus.GaugeValue, stalled, ti.Name),
				prometheus.MustNewConstMetric(sourceRepairsDesc, prometheus.CounterValue, float64(st.Source.Repairs), ti.Name))
		}
		for _, pc := range st.PartitionMsgs {
			out[ti.Name] = append(out[ti.Name], prometheus.MustNewConstMetric(partitionMsgsDesc, prometheus.GaugeValue, float64(pc.Messages), ti.Name, strconv.Itoa(pc.Partition)))
		}
	}
	return out
}
