package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// groupBucket is the KV bucket that records every group's config under
// the key <topic>.<group>; the consumers themselves live on the topic's
// stream. Its stream is KV_jetmq_groups.
const groupBucket = "jetmq_groups"

// groupRequestSlots bounds concurrently served JOIN and admin requests.
const groupRequestSlots = 32

// GroupService is the group coordinator: it keeps the group registry,
// creates the JetStream consumers groups consist of, admits members
// ($MQ.GROUP.JOIN), tracks their heartbeats, serves the group and DLQ admin
// API, exports lag metrics and runs the dead-letter mover.
type GroupService struct {
	cfg    []core.GroupConfig
	topics *Topics

	h   Host
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	kv  jetstream.KeyValue
	// memberKV is memberBucket once open: the first member to join creates
	// it (memberRegistry), so a tenant whose groups have no members yet
	// keeps no stream for it.
	memberMu sync.Mutex
	memberKV jetstream.KeyValue
	members  *memberTable
	requests requestPool   // JOIN and admin requests
	lookups  chan struct{} // memberLookups

	ordered *orderedGroups // ordered groups are a kind of group

	mu     sync.Mutex
	subs   []*nats.Subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// bgMu guards stopped: background work started by a handler must not
	// Add to wg once Stop waits on it.
	bgMu    sync.Mutex
	stopped bool
}

// NewGroupService returns the group coordinator; groups are the groups of
// the config file, created or updated at start; topics is the node's
// topic registry (nil: topics are read from JetStream).
func NewGroupService(groups []core.GroupConfig, topics *Topics) *GroupService {
	s := &GroupService{cfg: groups, topics: topics, members: newMemberTable(), lookups: make(chan struct{}, memberLookups)}
	s.requests = newRequestPool(groupRequestSlots, &s.wg)
	s.ordered = newOrderedGroups(s)
	return s
}

// Name implements Service.
func (s *GroupService) Name() string { return "groups" }

// HealthDetails implements HealthDetailer: the ordered partitions found
// stalled on this node.
func (s *GroupService) HealthDetails() []HealthDetail { return s.ordered.healthDetails() }

// Start implements Service: registry, configured groups, subscriptions,
// metrics and the dead-letter mover.
func (s *GroupService) Start(ctx context.Context, h Host) error {
	s.h, s.nc, s.js, s.log = h, h.Conn(), h.JetStream(), h.Logger().With("service", "groups")
	err := retryStartup(ctx, s.log, "group registry", func(ctx context.Context) error {
		kv, err := s.openRegistry(ctx)
		if err != nil {
			return err
		}
		s.kv = kv
		return nil
	})
	if err != nil {
		return fmt.Errorf("group registry: %w", err)
	}
	for i, g := range s.cfg {
		err := retryStartup(ctx, s.log, "group "+g.Name, func(ctx context.Context) error {
			_, _, err := s.apply(ctx, g, true)
			return err
		})
		if err != nil {
			return fmt.Errorf("groups[%d] %q of topic %q: %w", i, g.Name, g.Topic, err)
		}
	}
	s.members.onAdmit = func(gid, member string) {
		s.background(func(ctx context.Context) { s.storeMember(ctx, gid, member) })
	}
	if err := s.ordered.start(ctx, h); err != nil {
		return err
	}
	if err := s.subscribe(); err != nil {
		return err
	}
	if err := h.Registerer().Register(&groupCollector{s: s}); err != nil {
		s.log.Warn("group metrics not registered", "err", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	h.RunSingleton(runCtx, "dlq-mover", s.runMover)
	s.wg.Add(1)
	go s.pruneMembers(runCtx)
	return nil
}

func (s *GroupService) subscribe() error {
	queued := map[string]nats.MsgHandler{
		wire.GroupJoinPrefix + "*.*": s.requests.serve(s.onJoin),
		wire.GroupAPIPrefix + ">":    s.requests.serve(s.onGroupAPI),
		wire.DLQAPIPrefix + ">":      s.requests.serve(s.onDLQAPI),
	}
	for subj, cb := range queued {
		sub, err := s.nc.QueueSubscribe(subj, wire.ServiceQueue, cb)
		if err != nil {
			return err
		}
		s.subs = append(s.subs, sub)
	}
	// Every node keeps the member table, so any node answers INFO.
	for subj, cb := range map[string]nats.MsgHandler{
		wire.GroupHeartbeatPrefix + "*.*.*": s.onHeartbeat,
		wire.GroupLeavePrefix + "*.*.*":     s.onLeave,
		streamDeletedAdvisories:             s.onStreamDeleted,
	} {
		sub, err := s.nc.Subscribe(subj, cb)
		if err != nil {
			return err
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}

// Stop implements Service.
func (s *GroupService) Stop(ctx context.Context) error {
	for _, sub := range s.subs {
		_ = drainSub(ctx, sub) // no handler runs (and adds to wg) once this returns
	}
	_ = s.ordered.stop(ctx)
	s.bgMu.Lock()
	s.stopped = true
	s.bgMu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	return waitCtx(ctx, &s.wg)
}

// openRegistry opens or creates the group bucket.
func (s *GroupService) openRegistry(ctx context.Context) (jetstream.KeyValue, error) {
	return openBucket(ctx, s.h, groupBucket, "jetmq consumer groups")
}

// createReplicated creates jetmq state with 3 replicas in a cluster and 1
// on a single node. It never falls back to fewer replicas in a cluster: a
// cluster that is still forming cannot place three yet, and state created
// then with one replica would be lost with its node; start-up retries
// instead (retryStartup).
func createReplicated[T any](h Host, create func(replicas int) (T, error)) (T, error) {
	if h.Clustered() {
		return create(3)
	}
	return create(1)
}

// loadGroup reads a group's config from the registry.
func (s *GroupService) loadGroup(ctx context.Context, topic, group string) (core.GroupConfig, bool, error) {
	e, err := s.kv.Get(ctx, wire.GroupID(topic, group))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return core.GroupConfig{}, false, nil
	}
	if err != nil {
		return core.GroupConfig{}, false, err
	}
	g, err := decodeRegistryEntry(topic, group, e.Value())
	if err != nil {
		return g, false, fmt.Errorf("%w: registry entry %s: %v", errMalformedEntry, e.Key(), err)
	}
	return g, true, nil
}

// errMalformedEntry marks a registry entry that is not a valid group of
// its key: written by hand, or by something else than jetmq.
var errMalformedEntry = errors.New("malformed group registry entry")

// decodeRegistryEntry reads a registry value and checks it as a written
// config is checked: valid, and naming the group and topic of its key.
func decodeRegistryEntry(topic, group string, b []byte) (core.GroupConfig, error) {
	var g core.GroupConfig
	if err := json.Unmarshal(b, &g); err != nil {
		return g, err
	}
	g.SetDefaults()
	if g.Name != group || g.Topic != topic {
		return g, fmt.Errorf("names group %q of topic %q", g.Name, g.Topic)
	}
	return g, g.Validate("entry")
}

// listGroups reads every group of topic ("" for all topics).
func (s *GroupService) listGroups(ctx context.Context, topic string) ([]core.GroupConfig, error) {
	keys, err := s.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []core.GroupConfig
	for _, k := range keys {
		t, g, ok := wire.SplitGroupID(k)
		if !ok || (topic != "" && t != topic) {
			continue
		}
		cfg, found, err := s.loadGroup(ctx, t, g)
		if errors.Is(err, errMalformedEntry) {
			s.log.Warn("skipping a malformed group registry entry", "key", k, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, cfg)
		}
	}
	return out, nil
}

// topicInfo finds a topic: in the node's registry, else in JetStream (a
// topic created a moment ago on another node may not have reached it).
func (s *GroupService) topicInfo(ctx context.Context, name string) (TopicInfo, bool, error) {
	if s.topics != nil {
		if ti, ok := s.topics.Lookup(name); ok {
			return ti, true, nil
		}
	}
	st, err := s.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return TopicInfo{}, false, nil
	}
	if err != nil {
		return TopicInfo{}, false, err
	}
	ti, ok := topicFromStream(st.CachedInfo().Config)
	return ti, ok, nil
}

func (s *GroupService) pruneMembers(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.members.prune(time.Now().Add(-memberForgetAfter))
		}
	}
}

// registryErr is the API error for a failed registry read: 500 for an
// entry that is malformed (waiting will not cure it), else 503.
func registryErr(err error) error {
	if errors.Is(err, errMalformedEntry) {
		return errInternal("%v; delete the entry (GROUP.DELETE) or fix it", err)
	}
	return errUnavailable("read group registry: %v", err)
}
