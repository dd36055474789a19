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
)

// topicCollector exports topic figures, read from JetStream at scrape time
// and cached for topicMetricsTTL.
type topicCollector struct {
	t *Topics

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

func (c *topicCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{topicMessagesDesc, partitionMsgsDesc, delayedDesc, partitionsDesc} {
		ch <- d
	}
}

func (c *topicCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > topicMetricsTTL {
		c.metrics = c.read()
		c.at = time.Now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *topicCollector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	var out []prometheus.Metric
	for _, ti := range c.t.List() {
		st, err := c.t.status(ctx, ti.Name)
		if err != nil {
			continue
		}
		out = append(out,
			prometheus.MustNewConstMetric(topicMessagesDesc, prometheus.GaugeValue, float64(st.Messages), ti.Name),
			prometheus.MustNewConstMetric(delayedDesc, prometheus.GaugeValue, float64(st.Delayed), ti.Name),
			prometheus.MustNewConstMetric(partitionsDesc, prometheus.GaugeValue, float64(ti.Partitions), ti.Name))
		for _, pc := range st.PartitionMsgs {
			out = append(out, prometheus.MustNewConstMetric(partitionMsgsDesc, prometheus.GaugeValue, float64(pc.Messages), ti.Name, strconv.Itoa(pc.Partition)))
		}
	}
	return out
}
