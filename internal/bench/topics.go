package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// benchPartitions is the partition count of the topics the topic scenarios
// create.
const benchPartitions = 8

// benchKeys is how many distinct sharding keys keyed-publish cycles through.
const benchKeys = 10000

// createTopic creates a jetmq topic through the admin API, so the scenario
// works against any jetmq server.
func createTopic(ctx context.Context, nc *nats.Conn, name string, partitions int) error {
	return apiCall(ctx, nc, wire.APIPrefix+"TOPIC.CREATE."+name, fmt.Sprintf(`{"partitions":%d,"max_delay":"24h"}`, partitions))
}

// deleteTopic removes a topic a scenario created, on its own context so a
// cancelled run still cleans up.
func deleteTopic(nc *nats.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_ = apiCall(ctx, nc, wire.APIPrefix+"TOPIC.DELETE."+name, "")
}

func apiCall(ctx context.Context, nc *nats.Conn, subject, body string) error {
	resp, err := nc.RequestWithContext(ctx, subject, []byte(body))
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	return wire.DecodeReply(resp.Data, nil)
}

// keySubjects returns the input subjects of benchKeys distinct keys.
func keySubjects(topic string) []string {
	subs := make([]string, benchKeys)
	for i := range subs {
		subs[i] = topic + ".user-" + strconv.Itoa(i)
	}
	return subs
}

// runKeyedPublish is raw-publish-async through a topic: every message has
// one of benchKeys keys and goes through the broker's partition mapping.
func runKeyedPublish(ctx context.Context, env *Env) (Result, error) {
	s, err := openTopic(ctx, env, benchPartitions)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	js, topic := s.js, s.name
	subs := keySubjects(topic)
	start := time.Now()
	acked, err := publishAsync(ctx, env, js, func(i int) string { return subs[i%len(subs)] }, env.Msgs, nil, nil)
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	if err := checkStored(ctx, js, topic, acked); err != nil {
		return Result{}, err
	}
	ref, err := runUnmappedPublish(ctx, env, js)
	if err != nil {
		return Result{}, fmt.Errorf("reference: %w", err)
	}
	r := NewResult(acked, elapsed, nil)
	r.Notes = fmt.Sprintf("%d partitions, %d distinct keys, up to %d in flight", benchPartitions, benchKeys, AsyncWindow)
	r.Reference = newReference("unmapped-publish", "the same async publishes straight to the stored subjects of a plain stream of the same subject shape, no mapping", false, ref)
	return r, nil
}

// runUnmappedPublish is keyed-publish's reference: the same async
// publishes, with the same window, straight to the stored subjects
// <stream>.<p>.<key> (p = core.Partition(key)) of a plain stream
// configured as a topic stream is but with no subject transform and no
// source. Its subjects have the topic stream's shape (<stream>.* and,
// per partition, two more; <stream>.<p>.* in place of the keyless
// <topic>.<p>._, so that the stored forms match without a transform).
func runUnmappedPublish(ctx context.Context, env *Env, js jetstream.JetStream) (Result, error) {
	name := env.Name("ref")
	subjects := []string{name + ".*"}
	for p := range benchPartitions {
		ps := name + "." + strconv.Itoa(p) + "."
		subjects = append(subjects, ps+"*", ps+"*.*")
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: subjects, Storage: jetstream.FileStorage, Replicas: 1,
		MaxMsgs: -1, MaxBytes: -1, MaxMsgsPerSubject: -1, Duplicates: 2 * time.Minute, AllowDirect: true,
	}); err != nil {
		return Result{}, fmt.Errorf("create stream %s: %w", name, err)
	}
	defer func() { _ = deleteStream(js, name) }()
	subs := make([]string, benchKeys)
	for i := range subs {
		key := "user-" + strconv.Itoa(i)
		subs[i] = name + "." + strconv.Itoa(core.Partition(key, benchPartitions)) + "." + key
	}
	start := time.Now()
	acked, err := publishAsync(ctx, env, js, func(i int) string { return subs[i%len(subs)] }, env.Msgs, nil, nil)
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	if err := checkStored(ctx, js, name, acked); err != nil {
		return Result{}, err
	}
	return NewResult(acked, elapsed, nil), nil
}

// runDelayedPublish measures delayed publishes ($MQ.DELAY requests), many in
// flight, each delayed by an hour so that none fires during the run; p50 and
// p99 are request-to-reply.
func runDelayedPublish(ctx context.Context, env *Env) (Result, error) {
	s, err := openTopic(ctx, env, benchPartitions)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	nc, topic := s.nc, s.name
	n := max(env.Msgs/SyncScale, 1)
	payload := env.Payload()
	const workers = 256
	lat, elapsed, err := runRequests(env, n, workers, func(i int) error {
		m := nats.NewMsg(wire.DelayPrefix + topic + ".user-" + strconv.Itoa(i%benchKeys))
		m.Header.Set(wire.HeaderDelay, "1h")
		m.Data = payload
		resp, err := nc.RequestMsgWithContext(ctx, m)
		if err == nil {
			err = wire.DecodeReply(resp.Data, nil)
		}
		if err != nil {
			return fmt.Errorf("delayed publish %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	r := NewResult(lat.Len(), elapsed, lat)
	r.Notes = fmt.Sprintf("%d $MQ.DELAY requests (msgs/%d), %d in flight, delay 1h", lat.Len(), SyncScale, workers)
	return r, nil
}
