package bridge

import (
	"strconv"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// TopicInfo is what the registry knows of a topic: its configuration as
// recorded in the stream's config and metadata.
type TopicInfo = core.TopicConfig

// topicStreamConfig is the JetStream stream that stores topic c.
//
// Its subjects are chosen so that no publish can ever be stored on
// anything but a stored form, whether or not this node has installed the
// topic's account mappings yet (a node that is starting, restarting or
// joining a cluster, or a topic that was just created elsewhere):
//   - <topic>.* (a keyed publish) is turned into <topic>.<p>.<key> by the
//     stream's own subject transform, which is part of the replicated
//     stream config and so in force from the first instant on every node;
//   - the tagged and keyless stored forms, which only the account mappings
//     produce, are listed per partition (<topic>.<p>.*.* and <topic>.<p>._),
//     so an unmapped <topic>.<key>.<tag> or <topic> matches no subject of
//     the stream and its publish fails (no responders) instead of being
//     stored under a wrong partition.
//
// Group consumers that want the whole topic are unfiltered, which JetStream
// serves on its fast path whatever the stream's subjects. Everything else
// jetmq keeps for the topic lives in its internal stream, whose outbox this
// stream sources (sourced messages are stored whatever their subject).
func topicStreamConfig(c core.TopicConfig) jetstream.StreamConfig {
	sc := topicLimits(c)
	sc.Name = c.Name
	sc.Description = "jetmq topic"
	sc.Subjects = topicSubjects(c.Name, c.Partitions)
	sc.SubjectTransform = &jetstream.SubjectTransformConfig{Source: c.Name + ".*", Destination: keyedDestination(c.Name, c.Partitions)}
	sc.Duplicates = 2 * time.Minute
	sc.AllowDirect = true
	sc.Sources = []*jetstream.StreamSource{{
		Name: wire.InternalStream(c.Name),
		SubjectTransforms: []jetstream.SubjectTransformConfig{{
			Source: wire.OutboxFilter(c.Name), Destination: c.Name + ".>",
		}},
	}}
	sc.Metadata = map[string]string{
		wire.MetaPartitions: strconv.Itoa(c.Partitions),
		wire.MetaMaxDelay:   c.MaxDelay.String(),
		wire.MetaVersion:    layoutVersion,
	}
	return sc
}

// topicSubjects are the subjects a topic stream listens on: keyed input
// (transformed by the stream) and, per partition, the keyless and tagged
// stored forms that the account mappings produce.
func topicSubjects(topic string, partitions int) []string {
	out := make([]string, 0, 1+2*partitions)
	out = append(out, topic+".*")
	for p := 0; p < partitions; p++ {
		ps := topic + "." + strconv.Itoa(p) + "."
		out = append(out, ps+wire.KeylessKey, ps+"*.*")
	}
	return out
}

// keyedDestination is where <topic>.<key> goes: the NATS partition()
// function, FNV-1a-32 of the key token mod partitions (core.Partition).
func keyedDestination(topic string, partitions int) string {
	return topic + ".{{partition(" + strconv.Itoa(partitions) + ",1)}}.{{wildcard(1)}}"
}

// internalStreamConfig is the topic's internal stream: delayed messages as
// NATS message schedules, half messages of open transactions, and the
// outbox that the topic stream sources. It keeps messages as long as the
// topic does, so that the outbox is never trimmed before it was sourced.
func internalStreamConfig(c core.TopicConfig) jetstream.StreamConfig {
	sc := topicLimits(c)
	sc.Name = wire.InternalStream(c.Name)
	sc.Description = "jetmq internal subjects of topic " + c.Name
	sc.Subjects = []string{wire.InternalPrefix + c.Name + ".>"}
	sc.Duplicates = 2 * time.Minute
	sc.AllowDirect = true
	sc.AllowMsgSchedules = true
	sc.AllowAtomicPublish = true
	sc.MaxBytes = -1
	return sc
}

// topicLimits are the settings a topic's two streams share.
func topicLimits(c core.TopicConfig) jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.Storage == core.StorageMemory {
		storage = jetstream.MemoryStorage
	}
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            c.MaxAge,
		MaxBytes:          maxBytes,
		MaxMsgs:           -1,
		MaxMsgsPerSubject: -1,
		Storage:           storage,
		Replicas:          c.Replicas,
	}
}

// layoutVersion names the internal layout of a topic's two streams
// (subjects, outbox, source transform) that this jetmq writes into the
// topic's metadata. Version 3: the outbox is $MQ.INT.T.O.<txid>.<part>.…
// (docs/PROTOCOL.md). Version 4: the topic stream lists its stored forms
// per partition and maps keyed publishes itself (topicStreamConfig).
const layoutVersion = "4"

// migratableVersion is the one older layout jetmq brings up to date in
// place: version 3 differs only in the topic stream's subjects and input
// transform, which a stream update changes without touching a message.
const migratableVersion = "3"

// topicFromStream reads a topic back from its stream config; ok is false
// for streams that are not jetmq topics of this layout (legacyTopic tells
// an older layout apart).
//
// Values read back are checked like values written: a stream whose
// metadata was changed through the JetStream API to something CREATE would
// refuse (badMetadata says what) is not taken for a topic.
func topicFromStream(sc jetstream.StreamConfig) (TopicInfo, bool) {
	_, ok := sc.Metadata[wire.MetaPartitions]
	if v := sc.Metadata[wire.MetaVersion]; !ok || v != layoutVersion && v != migratableVersion {
		return TopicInfo{}, false
	}
	n, maxDelay, err := wire.ParseTopicMetadata(sc.Metadata)
	if err != nil {
		return TopicInfo{}, false
	}
	t := TopicInfo{Name: sc.Name, Partitions: n, Replicas: sc.Replicas, MaxAge: sc.MaxAge, MaxDelay: maxDelay, Storage: core.StorageFile}
	if sc.MaxBytes > 0 {
		t.MaxBytes = sc.MaxBytes
	}
	if sc.Storage == jetstream.MemoryStorage {
		t.Storage = core.StorageMemory
	}
	t.SetDefaults()
	return t, true
}

// legacyTopic reports a stream that an older jetmq created as a topic with
// another internal layout, and that layout's version. jetmq does not
// serve it: its source would copy this version's committed and delayed
// messages onto the wrong subjects, and re-sourcing it in place would copy
// everything again. Recreate it (or keep running the jetmq that made it).
func legacyTopic(sc jetstream.StreamConfig) (string, bool) {
	_, isTopic := sc.Metadata[wire.MetaPartitions]
	v := sc.Metadata[wire.MetaVersion]
	return v, isTopic && v != layoutVersion && v != migratableVersion
}

// needsMigration reports a topic stream of the migratable older layout.
func needsMigration(sc jetstream.StreamConfig) bool {
	return sc.Metadata[wire.MetaVersion] == migratableVersion
}

func legacyTopicError(name, version string) error {
	return errConflict("topic %q was made by an older jetmq (internal layout %q; this one uses %q) and is not served: recreate it (jetmq topic rm %s, then add it again) or run the jetmq that made it", name, version, layoutVersion, name)
}

// topicMappings are the account mappings that route a publish on a topic's
// input subjects to its stored subjects (docs/PROTOCOL.md, "Topics"). A
// keyed publish needs none: the stream maps it (keyedDestination). Without
// these, a tagged or keyless publish matches no stream subject and fails;
// it is never stored elsewhere.
func topicMappings(topic string, partitions int) map[string]string {
	n := strconv.Itoa(partitions)
	return map[string]string{
		topic:          topic + ".{{random(" + n + ")}}." + wire.KeylessKey,
		topic + ".*.*": topic + ".{{partition(" + n + ",1)}}.{{wildcard(1)}}.{{wildcard(2)}}",
		// Four tokens or more (a stored form written directly, or junk) is
		// answered with an error, not stored or silently dropped. One
		// mapping, not one per length: every message in the account is
		// matched against every mapping (docs/NOTES.md).
		topic + ".*.*.>": wire.RejectPrefix + topic + ".{{wildcard(1)}}.{{wildcard(2)}}.>",
	}
}
