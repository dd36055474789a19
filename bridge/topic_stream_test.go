package bridge

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTopicSubjects(t *testing.T) {
	cases := []struct {
		name       string
		topic      string
		partitions int
		want       []string
	}{
		{"one partition", "orders", 1, []string{"orders.*", "orders.0._", "orders.0.*.*"}},
		{"three partitions", "T", 3, []string{"T.*", "T.0._", "T.0.*.*", "T.1._", "T.1.*.*", "T.2._", "T.2.*.*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := topicSubjects(tc.topic, tc.partitions); !slices.Equal(got, tc.want) {
				t.Fatalf("topicSubjects(%q, %d): want %q, got %q", tc.topic, tc.partitions, tc.want, got)
			}
		})
	}
}

func TestTopicMappingsAndKeyedDestination(t *testing.T) {
	if got, want := keyedDestination("T", 8), "T.{{partition(8,1)}}.{{wildcard(1)}}"; got != want {
		t.Errorf("keyedDestination: want %q, got %q", want, got)
	}
	want := map[string]string{
		"T":       "T.{{random(4)}}._",
		"T.*.*":   "T.{{partition(4,1)}}.{{wildcard(1)}}.{{wildcard(2)}}",
		"T.*.*.>": "$MQ.REJECT.T.{{wildcard(1)}}.{{wildcard(2)}}.>",
	}
	if got := topicMappings("T", 4); !maps.Equal(got, want) {
		t.Fatalf("topicMappings(T, 4): want %v, got %v", want, got)
	}
}

func TestTopicStreamConfig(t *testing.T) {
	c := core.TopicConfig{Name: "T", Partitions: 2, Replicas: 3, MaxAge: time.Hour, MaxBytes: 0, Storage: core.StorageMemory, MaxDelay: 90 * time.Minute}
	sc := topicStreamConfig(c)
	if sc.Name != "T" || sc.Description != "jetmq topic" {
		t.Errorf("name/description: want T/%q, got %q/%q", "jetmq topic", sc.Name, sc.Description)
	}
	if want := []string{"T.*", "T.0._", "T.0.*.*", "T.1._", "T.1.*.*"}; !slices.Equal(sc.Subjects, want) {
		t.Errorf("subjects: want %q, got %q", want, sc.Subjects)
	}
	wantTransform := jetstream.SubjectTransformConfig{Source: "T.*", Destination: "T.{{partition(2,1)}}.{{wildcard(1)}}"}
	if sc.SubjectTransform == nil || *sc.SubjectTransform != wantTransform {
		t.Errorf("subject transform: want %+v, got %+v", wantTransform, sc.SubjectTransform)
	}
	wantSources := []*jetstream.StreamSource{{Name: "%INT%T", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "$MQ.INT.T.O.*.*.>", Destination: "T.>"}}}}
	if !reflect.DeepEqual(sc.Sources, wantSources) {
		t.Errorf("sources: want %+v, got %+v", *wantSources[0], sc.Sources)
	}
	wantMeta := map[string]string{wire.MetaPartitions: "2", wire.MetaMaxDelay: "1h30m0s", wire.MetaVersion: "4"}
	if !maps.Equal(sc.Metadata, wantMeta) {
		t.Errorf("metadata: want %v, got %v", wantMeta, sc.Metadata)
	}
	checkTopicLimits(t, sc, jetstream.MemoryStorage, -1, 3, time.Hour)
	if sc.Duplicates != 2*time.Minute || !sc.AllowDirect {
		t.Errorf("duplicates/allow_direct: want 2m/true, got %v/%v", sc.Duplicates, sc.AllowDirect)
	}
}

func TestInternalStreamConfig(t *testing.T) {
	c := core.TopicConfig{Name: "T", Partitions: 2, Replicas: 1, MaxAge: 48 * time.Hour, MaxBytes: 1 << 20, Storage: core.StorageFile}
	sc := internalStreamConfig(c)
	if sc.Name != "%INT%T" || sc.Description != "jetmq internal subjects of topic T" {
		t.Errorf("name/description: want %%INT%%T/%q, got %q/%q", "jetmq internal subjects of topic T", sc.Name, sc.Description)
	}
	if want := []string{"$MQ.INT.T.>"}; !slices.Equal(sc.Subjects, want) {
		t.Errorf("subjects: want %q, got %q", want, sc.Subjects)
	}
	// The topic's max_bytes bounds the topic stream only: the internal
	// stream must never trim an outbox message before it was sourced.
	checkTopicLimits(t, sc, jetstream.FileStorage, -1, 1, 48*time.Hour)
	if !sc.AllowDirect || !sc.AllowMsgSchedules || !sc.AllowAtomicPublish || sc.Duplicates != 2*time.Minute {
		t.Errorf("want direct gets, schedules, atomic publish and a 2m window, got %v/%v/%v/%v", sc.AllowDirect, sc.AllowMsgSchedules, sc.AllowAtomicPublish, sc.Duplicates)
	}
	if sc.SubjectTransform != nil || sc.Sources != nil {
		t.Errorf("want no transform or sources, got %+v / %+v", sc.SubjectTransform, sc.Sources)
	}
	if got := topicStreamConfig(c).MaxBytes; got != 1<<20 {
		t.Errorf("topic stream max_bytes: want %d, got %d", 1<<20, got)
	}
}

func checkTopicLimits(t *testing.T, sc jetstream.StreamConfig, storage jetstream.StorageType, maxBytes int64, replicas int, maxAge time.Duration) {
	t.Helper()
	if sc.Retention != jetstream.LimitsPolicy || sc.Discard != jetstream.DiscardOld || sc.MaxMsgs != -1 || sc.MaxMsgsPerSubject != -1 {
		t.Errorf("%s: want limits retention, discard old, no message limits; got %v/%v/%d/%d", sc.Name, sc.Retention, sc.Discard, sc.MaxMsgs, sc.MaxMsgsPerSubject)
	}
	if sc.Storage != storage || sc.MaxBytes != maxBytes || sc.Replicas != replicas || sc.MaxAge != maxAge {
		t.Errorf("%s: want storage %v, max_bytes %d, replicas %d, max_age %v; got %v, %d, %d, %v",
			sc.Name, storage, maxBytes, replicas, maxAge, sc.Storage, sc.MaxBytes, sc.Replicas, sc.MaxAge)
	}
}

func TestTopicFromStreamRoundTrip(t *testing.T) {
	cases := []core.TopicConfig{
		{Name: "A", Partitions: 8, Replicas: 1, MaxAge: core.DefaultTopicMaxAge, Storage: core.StorageFile, MaxDelay: core.DefaultMaxDelay},
		{Name: "B", Partitions: 3, Replicas: 3, MaxAge: time.Hour, MaxBytes: 4096, Storage: core.StorageMemory, MaxDelay: time.Minute},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, ok := topicFromStream(topicStreamConfig(c))
			if !ok || got != c {
				t.Fatalf("topicFromStream(topicStreamConfig(%+v)): want it back, got %+v (ok %v)", c, got, ok)
			}
		})
	}
}

func TestTopicFromStreamRefuses(t *testing.T) {
	valid := topicStreamConfig(core.TopicConfig{Name: "T", Partitions: 2, Replicas: 1, MaxDelay: time.Hour})
	with := func(k, v string) jetstream.StreamConfig {
		sc := valid
		sc.Metadata = maps.Clone(valid.Metadata)
		if v == "" {
			delete(sc.Metadata, k)
		} else {
			sc.Metadata[k] = v
		}
		return sc
	}
	cases := []struct {
		name            string
		sc              jetstream.StreamConfig
		topic, legacy   bool
		legacyVersion   string
		migrate         bool
		badMetadataCode int
	}{
		{name: "current layout", sc: valid, topic: true, legacyVersion: "4"},
		{name: "migratable layout 3", sc: with(wire.MetaVersion, "3"), topic: true, legacyVersion: "3", migrate: true},
		{name: "older layout 2", sc: with(wire.MetaVersion, "2"), legacy: true, legacyVersion: "2"},
		{name: "no version", sc: with(wire.MetaVersion, ""), legacy: true},
		{name: "not a topic", sc: jetstream.StreamConfig{Name: "plain"}},
		{name: "tampered partitions", sc: with(wire.MetaPartitions, "100000"), legacyVersion: "4", badMetadataCode: wire.CodeConflict},
		{name: "partitions not a number", sc: with(wire.MetaPartitions, "abc"), legacyVersion: "4", badMetadataCode: wire.CodeConflict},
		{name: "tampered max delay", sc: with(wire.MetaMaxDelay, "-1s"), legacyVersion: "4", badMetadataCode: wire.CodeConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := topicFromStream(tc.sc); ok != tc.topic {
				t.Errorf("topicFromStream ok: want %v, got %v", tc.topic, ok)
			}
			if v, legacy := legacyTopic(tc.sc); legacy != tc.legacy || v != tc.legacyVersion {
				t.Errorf("legacyTopic: want (%q, %v), got (%q, %v)", tc.legacyVersion, tc.legacy, v, legacy)
			}
			if got := needsMigration(tc.sc); got != tc.migrate {
				t.Errorf("needsMigration: want %v, got %v", tc.migrate, got)
			}
			wantCode(t, badMetadata(tc.sc), tc.badMetadataCode)
		})
	}
}

func TestLegacyTopicError(t *testing.T) {
	err := legacyTopicError("T", "2")
	wantCode(t, err, wire.CodeConflict)
	for _, want := range []string{`topic "T"`, `layout "2"`, `uses "4"`, "jetmq topic rm T"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("legacyTopicError: want it to say %q, got %q", want, err)
		}
	}
}

func TestConfigDiff(t *testing.T) {
	a := core.TopicConfig{Name: "T", Partitions: 2, Replicas: 1, MaxAge: time.Hour, Storage: core.StorageFile, MaxDelay: time.Minute}
	cases := []struct {
		name string
		b    func(c *core.TopicConfig)
		want string
	}{
		{"same", func(*core.TopicConfig) {}, ""},
		{"name is not compared", func(c *core.TopicConfig) { c.Name = "U" }, ""},
		{"partitions", func(c *core.TopicConfig) { c.Partitions = 4 }, "partitions 2 -> 4"},
		{"several, in a fixed order", func(c *core.TopicConfig) {
			c.MaxDelay, c.Replicas, c.MaxBytes, c.Storage = time.Hour, 3, 10, core.StorageMemory
		}, "replicas 1 -> 3, max_bytes 0 -> 10, storage file -> memory, max_delay 1m0s -> 1h0m0s"},
		{"max age", func(c *core.TopicConfig) { c.MaxAge = 2 * time.Hour }, "max_age 1h0m0s -> 2h0m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := a
			tc.b(&b)
			if got := configDiff(a, b); got != tc.want {
				t.Fatalf("configDiff: want %q, got %q", tc.want, got)
			}
		})
	}
}

func TestSortedKeys(t *testing.T) {
	got := sortedKeys(map[string]uint64{"b": 1, "c": 2, "a": 3})
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("sortedKeys: want %q, got %q", want, got)
	}
	if got := sortedKeys(map[string]int(nil)); len(got) != 0 {
		t.Fatalf("sortedKeys(nil): want none, got %q", got)
	}
}

func TestIsStoredFormAndMisfiledInput(t *testing.T) {
	cases := []struct {
		subj      string
		partition int
		stored    bool
		key, tag  string
		misfiled  bool
	}{
		{subj: "T.0.k", partition: 0, stored: true},
		{subj: "T.2._", partition: 2, stored: true},
		{subj: "T.1.k.tag", partition: 1, stored: true},
		// No partition 3 or 01: taken as input <topic>.<key>.<tag>.
		{subj: "T.3.k", key: "3", tag: "k", misfiled: true},
		{subj: "T.01.k", key: "01", tag: "k", misfiled: true},
		{subj: "T.3.k.tag"},                     // a stored form of no partition: unplaced
		{subj: "U.0.k"},                         // another topic
		{subj: "T.k", key: "k", misfiled: true}, // keyed input stored as is
		{subj: "T.k.tag", key: "k", tag: "tag", misfiled: true},
		{subj: "T.a.b.c.d"},
	}
	for _, tc := range cases {
		t.Run(tc.subj, func(t *testing.T) {
			p, ok := isStoredForm("T", tc.subj, 3)
			if ok != tc.stored || p != tc.partition {
				t.Errorf("isStoredForm: want (%d, %v), got (%d, %v)", tc.partition, tc.stored, p, ok)
			}
			if tc.stored {
				return
			}
			key, tag, ok := misfiledInput("T", tc.subj)
			if ok != tc.misfiled || key != tc.key || tag != tc.tag {
				t.Errorf("misfiledInput: want (%q, %q, %v), got (%q, %q, %v)", tc.key, tc.tag, tc.misfiled, key, tag, ok)
			}
		})
	}
}
