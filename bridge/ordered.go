package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// orderedBucket is the KV bucket holding every ordered group's partition
// leases under <topic>.<group> (stream KV_jetmq_ordered).
const orderedBucket = "jetmq_ordered"

// orderedGroups is the ordered part of the GroupService (an ordered group
// is a kind of group; the GroupService creates, starts and stops it): it
// answers their JOINs and runs one coordinator per ordered clustering
// group as a cluster singleton (ordered.<topic>.<group>). Every node
// watches the group registry so that whichever node wins a singleton
// knows the group.
type orderedGroups struct {
	groups  *GroupService
	h       Host
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	metrics *orderedMetrics

	// The state bucket and the member-token secret are opened by the first
	// ordered group that needs them (see state): a tenant without ordered
	// groups keeps neither, and a bucket is a stream of its own.
	stateMu sync.Mutex
	kv      jetstream.KeyValue
	secret  []byte // signs member tokens (see ordered_token.go)

	mu      sync.Mutex
	running map[string]context.CancelFunc // group id -> singleton runner
	coords  map[string]*coordinator       // coordinators active on this node
	stalled map[string]stalledGroup       // group id -> partitions its coordinator here found stalled
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// newOrderedGroups returns the ordered part of groups.
func newOrderedGroups(groups *GroupService) *orderedGroups {
	return &orderedGroups{groups: groups, running: map[string]context.CancelFunc{}, coords: map[string]*coordinator{}, stalled: map[string]stalledGroup{}}
}

// Name names the ordered part in logs and /healthz details.
func (s *orderedGroups) Name() string { return "ordered-groups" }

// start starts the ordered part once the group registry is open, before
// the GroupService takes JOINs.
func (s *orderedGroups) start(ctx context.Context, h Host) error {
	s.h, s.nc, s.js, s.log = h, h.Conn(), h.JetStream(), h.Logger().With("service", "ordered-groups")
	s.metrics = newOrderedMetrics()
	if err := h.Registerer().Register(s.metrics); err != nil {
		s.log.Warn("ordered-group metrics not registered", "err", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var watcher jetstream.KeyWatcher
	err := retryStartup(ctx, s.log, "group registry watch", func(context.Context) error {
		var werr error
		watcher, werr = s.groups.kv.WatchAll(runCtx)
		return werr
	})
	if err != nil {
		cancel()
		return fmt.Errorf("watch group registry: %w", err)
	}
	s.wg.Add(1)
	go s.follow(runCtx, watcher)
	return nil
}

// stop stops the coordinators running on this node.
func (s *orderedGroups) stop(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	return waitCtx(ctx, &s.wg)
}

// state returns the ordered state bucket, opening (or creating) it and
// loading the member-token secret the first time; a failure is retried
// by the next call.
func (s *orderedGroups) state(ctx context.Context) (jetstream.KeyValue, error) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := openBucket(ctx, s.h, orderedBucket, "jetmq ordered-group partition leases")
	if err != nil {
		return nil, fmt.Errorf("ordered state bucket: %w", err)
	}
	secret, err := loadTokenSecret(ctx, kv)
	if err != nil {
		return nil, fmt.Errorf("member token secret: %w", err)
	}
	s.kv, s.secret = kv, secret
	return kv, nil
}

// forgetState removes a deleted group's partition leases, so that a
// re-created group starts fresh. It opens the bucket only if it exists:
// deleting any group must not create it.
func (s *orderedGroups) forgetState(ctx context.Context, key string) {
	s.stateMu.Lock()
	kv := s.kv
	s.stateMu.Unlock()
	if kv == nil {
		var err error
		if kv, err = s.js.KeyValue(ctx, orderedBucket); err != nil {
			return
		}
	}
	_ = kv.Delete(ctx, key)
}

// follow starts a singleton runner for every ordered clustering group in
// the registry and stops it when the group is deleted.
func (s *orderedGroups) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer s.wg.Done()
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue // initial values done
			}
			s.onRegistry(ctx, e)
		}
	}
}

func (s *orderedGroups) onRegistry(ctx context.Context, e jetstream.KeyValueEntry) {
	key := e.Key()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		if stop := s.running[key]; stop != nil {
			stop()
			delete(s.running, key)
		}
		s.forgetState(ctx, key)
		return
	}
	var g core.GroupConfig
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		return
	}
	g.SetDefaults()
	if !g.Ordered || g.Mode != core.ModeClustering {
		return
	}
	// Every node that follows the group needs the token secret (it checks
	// LEAVEs); the coordinator retries the state itself if this fails.
	if _, err := s.state(ctx); err != nil {
		s.log.Warn("ordered state not open yet", "group", key, "err", err)
	}
	if stop := s.running[key]; stop != nil {
		stop() // config changed: restart with it
	}
	gctx, cancel := context.WithCancel(ctx)
	s.running[key] = cancel
	s.h.RunSingleton(gctx, "ordered."+g.Topic+"."+g.Name, func(c context.Context) { s.runCoordinator(c, g) })
}

// coordinated reports whether gid is an ordered clustering group, whose
// heartbeats, releases and leaves its coordinator answers.
func (s *orderedGroups) coordinated(gid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[gid] != nil
}

// active records the coordinator running on this node for a group.
func (s *orderedGroups) active(key string, c *coordinator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == nil {
		delete(s.coords, key)
		return
	}
	s.coords[key] = c
}

// join admits a member speaking the ordered protocol: it makes sure the
// group's consumers exist and tells the member where everything is. Ownership starts with
// the member's first heartbeat, answered by the group's coordinator.
func (s *orderedGroups) join(ctx context.Context, g core.GroupConfig, req wire.JoinRequest) (any, error) {
	if req.Member == "" {
		req.Member = nuid.Next()
	}
	ti, ok, err := s.groups.topicInfo(ctx, g.Topic)
	if err != nil {
		return nil, errUnavailable("read topic %q: %v", g.Topic, err)
	}
	if !ok {
		return nil, errTopicNotFound(g.Topic)
	}
	consumer := ""
	if g.Mode == core.ModeBroadcasting {
		if consumer, err = s.joinBroadcasting(ctx, g, req.Member); err != nil {
			return nil, errUnavailable("consumer for member %q: %v", req.Member, err)
		}
	} else if err := s.groups.ensureOrderedConsumers(ctx, g); err != nil {
		return nil, errUnavailable("partition consumers of %q: %v", g.Name, err)
	}
	s.groups.members.seen(wire.GroupID(g.Topic, g.Name), req.Member, time.Now())
	r := newOrderedJoinReply(g, req.Member, consumer, ti.Partitions)
	if g.Mode == core.ModeClustering {
		if _, err := s.state(ctx); err != nil {
			return nil, errUnavailable("ordered state of %q: %v", g.Name, err)
		}
		r.MemberToken = s.mintToken(g.Topic, g.Name, req.Member)
	}
	return r, nil
}

// joinBroadcasting gives a broadcasting member of an ordered group its
// durable. A member coming back finds the messages it held unacked
// pending; the consumer is reset to its ack floor so they come again in
// order, ahead of everything after them.
func (s *orderedGroups) joinBroadcasting(ctx context.Context, g core.GroupConfig, member string) (string, error) {
	name, err := s.groups.ensureConsumer(ctx, g, member)
	if err != nil {
		return "", err
	}
	c, err := s.js.Consumer(ctx, g.Topic, name)
	if err != nil {
		return "", err
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return "", err
	}
	if ci.NumAckPending > 0 {
		if _, err := s.js.ResetConsumer(ctx, g.Topic, name); err != nil {
			return "", fmt.Errorf("reset to the ack floor: %w", err)
		}
	}
	return name, nil
}

func newOrderedJoinReply(g core.GroupConfig, member, consumer string, partitions int) wire.OrderedJoinReply {
	r := wire.OrderedJoinReply{JoinReply: wire.NewJoinReply(g, member, consumer), Partitions: partitions,
		SessionTimeoutMs: g.SessionTimeout.Milliseconds(), SuspendMs: g.Suspend.Milliseconds(),
		AssignSubject:  wire.GroupAssignPrefix + g.Topic + "." + g.Name + "." + member,
		ReleaseSubject: wire.GroupReleasePrefix + g.Topic + "." + g.Name + "." + member}
	r.Protocol = wire.ProtocolOrdered
	if g.Mode == core.ModeClustering {
		r.Stream, r.Consumer = g.Topic, ""
		r.FilterSubjects = nil
		r.AckWaitMs = wire.OrderedAckWait(g).Milliseconds()
		r.MaxDeliver = -1
		for p := 0; p < partitions; p++ {
			r.Consumers = append(r.Consumers, wire.OrderedConsumer(g.Name, p))
		}
	}
	return r
}

// partitionStatus asks the group's coordinator for its leases.
func (s *orderedGroups) partitionStatus(ctx context.Context, g core.GroupConfig) ([]wire.OrderedPartitionStatus, error) {
	msg, err := s.nc.RequestWithContext(ctx, wire.GroupOrderedStatusPrefix+g.Topic+"."+g.Name+".x", nil)
	if err != nil {
		return nil, err
	}
	var out []wire.OrderedPartitionStatus
	return out, json.Unmarshal(msg.Data, &out)
}
