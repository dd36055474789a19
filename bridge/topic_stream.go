package bridge

import (
	"strconv"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go/jetstream"
)

// TopicInfo is what the registry knows of a topic: its configuration as
// recorded in the stream's config and metadata.
type TopicInfo = semantics.TopicConfig

// topicStreamConfig is the JetStream stream that stores topic c.
func topicStreamConfig(c semantics.TopicConfig) jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.Storage == semantics.StorageMemory {
		storage = jetstream.MemoryStorage
	}
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:               c.Name,
		Description:        "jetmq topic",
		Subjects:           topicStreamSubjects(c.Name),
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		MaxAge:             c.MaxAge,
		MaxBytes:           maxBytes,
		MaxMsgs:            -1,
		MaxMsgsPerSubject:  -1,
		Storage:            storage,
		Replicas:           c.Replicas,
		Duplicates:         2 * time.Minute,
		AllowDirect:        true,
		AllowMsgSchedules:  true,
		AllowAtomicPublish: true,
		Metadata: map[string]string{
			semantics.MetaPartitions: strconv.Itoa(c.Partitions),
			semantics.MetaMaxDelay:   c.MaxDelay.String(),
			semantics.MetaVersion:    "1",
		},
	}
}

// topicStreamSubjects are the subjects a topic's stream captures: the
// stored forms (which only the account mappings produce) and jetmq's
// internal subjects of the topic.
func topicStreamSubjects(topic string) []string {
	return []string{topic + ".*.*", topic + ".*.*.*", semantics.InternalPrefix + topic + ".>"}
}

// topicFromStream reads a topic back from its stream config; ok is false
// for streams that are not jetmq topics.
func topicFromStream(sc jetstream.StreamConfig) (TopicInfo, bool) {
	ps, ok := sc.Metadata[semantics.MetaPartitions]
	if !ok {
		return TopicInfo{}, false
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 {
		return TopicInfo{}, false
	}
	t := TopicInfo{Name: sc.Name, Partitions: n, Replicas: sc.Replicas, MaxAge: sc.MaxAge, Storage: semantics.StorageFile}
	if sc.MaxBytes > 0 {
		t.MaxBytes = sc.MaxBytes
	}
	if sc.Storage == jetstream.MemoryStorage {
		t.Storage = semantics.StorageMemory
	}
	if d, err := time.ParseDuration(sc.Metadata[semantics.MetaMaxDelay]); err == nil {
		t.MaxDelay = d
	}
	t.SetDefaults()
	return t, true
}

// topicMappings are the account mappings that route a publish on a topic's
// input subjects to its stored subjects (docs/PROTOCOL.md, "Topics").
func topicMappings(topic string, partitions int) map[string]string {
	n := strconv.Itoa(partitions)
	return map[string]string{
		topic:            topic + ".{{random(" + n + ")}}." + semantics.KeylessKey,
		topic + ".*":     topic + ".{{partition(" + n + ",1)}}.{{wildcard(1)}}",
		topic + ".*.*":   topic + ".{{partition(" + n + ",1)}}.{{wildcard(1)}}.{{wildcard(2)}}",
		topic + ".*.*.*": semantics.RejectPrefix + topic + ".{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}",
	}
}
