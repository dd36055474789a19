package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// coordEvent is one input of a coordinator's loop.
type coordEvent struct {
	kind    string // hb | release | leave | status | sample | fenced
	member  string
	msg     *nats.Msg
	release wire.ReleaseRequest
	token   string // the member token the request carries
	hb      wire.OrderedHeartbeat
	infos   map[int]*jetstream.ConsumerInfo // sample: partition -> its consumer's figures
	fence   fenceResult
}

// coordinator runs the ownership of one ordered clustering group on the
// node that holds its singleton: it answers heartbeats with assignments,
// takes releases and leaves, expires silent members, fences partitions
// before granting them and persists every change with compare-and-set.
type coordinator struct {
	svc  *orderedGroups
	g    core.GroupConfig
	key  string
	log  *slog.Logger
	own  *core.Ownership
	rev  uint64
	subs []*nats.Subscription

	events    chan coordEvent
	suspended map[string][]int  // member -> partitions it reports suspended
	sent      map[string]string // member -> leases last pushed to it
	nextSeq   map[int]uint64    // partition -> where its releasing owner stopped
	answers   []coordEvent      // heartbeats of new members, answered after the rebalance
	// stall is the safety net against owners that do not consume;
	// stalled maps a partition found stalled to its epoch then, until it
	// is granted again; sampling: a sample is being taken.
	stall    *core.StallDetector
	stalled  map[int]uint64
	sampling bool
	tokens   map[string]string // live member -> the token its session uses
	fencing  map[int]bool      // partitions whose fence is under way
	fenced   []core.Step       // grants whose fence is done, applied by the next rebalance
	dirty    bool              // the state changed outside a plan: persist it
	// refenceAt: a fence failed; plan again from then on (JetStream may
	// be electing the consumer's leader) instead of waiting for an event.
	refenceAt time.Time
	// revokes and rebalances already reported to the metrics
	seenRevokes, seenRebalances uint64
}

func (s *orderedGroups) runCoordinator(ctx context.Context, g core.GroupConfig) {
	for ctx.Err() == nil {
		c := &coordinator{svc: s, g: g, key: wire.GroupID(g.Topic, g.Name), log: s.log.With("topic", g.Topic, "group", g.Name),
			events: make(chan coordEvent, 1024), suspended: map[string][]int{}, sent: map[string]string{}, nextSeq: map[int]uint64{},
			stall: core.NewStallDetector(core.StallAfter(g)), stalled: map[int]uint64{}, fencing: map[int]bool{}, tokens: map[string]string{}}
		err := c.run(ctx)
		c.unsubscribe()
		if err != nil && ctx.Err() == nil {
			c.log.Warn("ordered coordinator restarting", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// refenceRetry is the pause before a failed fence is tried again.
const refenceRetry = 200 * time.Millisecond

func (c *coordinator) run(ctx context.Context) error {
	if _, err := c.svc.state(ctx); err != nil {
		return err
	}
	if err := c.load(ctx); err != nil {
		return err
	}
	if err := c.subscribe(); err != nil {
		return err
	}
	c.svc.active(c.key, c)
	defer c.svc.active(c.key, nil)
	defer c.svc.metrics.forget(c.g)
	defer c.svc.setStalled(c.key, c.g, nil)
	c.log.Info("ordered coordinator started", "members", c.own.Members())
	tick := time.NewTicker(min(max(c.g.SessionTimeout/20, 20*time.Millisecond), 50*time.Millisecond))
	defer tick.Stop()
	resize := time.NewTicker(5 * time.Second)
	defer resize.Stop()
	sample := time.NewTicker(stallSampleEvery)
	defer sample.Stop()
	for {
		var changed bool
		select {
		case <-ctx.Done():
			return nil
		case ev := <-c.events:
			changed = c.handle(ev)
			// Take every queued event before acting on the change.
			for more := true; more; {
				select {
				case ev := <-c.events:
					changed = c.handle(ev) || changed
				default:
					more = false
				}
			}
		case now := <-tick.C:
			changed = c.own.Tick(now) || (!c.refenceAt.IsZero() && !now.Before(c.refenceAt))
		case <-sample.C:
			c.startSample(ctx)
		case <-resize.C:
			if err := c.checkResize(ctx); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			if err := c.rebalance(ctx); err != nil {
				return err
			}
			c.observe()
		}
	}
}

// coordJSTimeout bounds the coordinator's state read and write. During a Raft election such a call gets no
// answer until a leader is elected; trying again soon, rather than
// waiting the client's 5 s default, resumes the group within about this
// much of the election's end.
const coordJSTimeout = 1500 * time.Millisecond

// fenceTimeout bounds one fence attempt; a partition whose consumer is
// electing a leader is fenced at the first attempt after the election,
// and the coordinator's loop (heartbeats) waits at most this long.
const fenceTimeout = 750 * time.Millisecond

// load reads the durable state (or starts an empty one). It only reads:
// the partition consumers exist since the group's creation (JOIN makes
// sure, a fence recreates a missing one, checkResize adds new ones), and
// a coordinator taking over after a node died must not wait on every
// consumer's election before it answers heartbeats.
func (c *coordinator) load(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, coordJSTimeout)
	defer cancel()
	ti, ok, err := c.svc.groups.topicInfo(lctx, c.g.Topic)
	if err != nil {
		return err
	}
	if !ok {
		return errTopicNotFound(c.g.Topic)
	}
	var st *core.OrderedState
	e, err := c.svc.kv.Get(lctx, c.key)
	switch {
	case err == nil:
		st = &core.OrderedState{}
		if err := json.Unmarshal(e.Value(), st); err != nil {
			return fmt.Errorf("ordered state %s: %w", c.key, err)
		}
		c.rev = e.Revision()
	case errors.Is(err, jetstream.ErrKeyNotFound):
		c.rev = 0
	default:
		return err
	}
	c.own = core.NewOwnership(st, ti.Partitions, c.g.SessionTimeout, time.Now())
	return nil
}

// checkResize extends the ownership to partitions added to the topic.
func (c *coordinator) checkResize(ctx context.Context) error {
	ti, ok, err := c.svc.groups.topicInfo(ctx, c.g.Topic)
	if err != nil || !ok || ti.Partitions <= len(c.own.State().Partitions) {
		return nil
	}
	if err := c.svc.groups.ensureOrderedConsumers(ctx, c.g); err != nil {
		return nil // retried at the next check
	}
	st := c.own.State()
	fresh := core.NewOwnership(&st, ti.Partitions, c.g.SessionTimeout, time.Now())
	for _, m := range c.own.Members() {
		fresh.Heartbeat(m, time.Now())
	}
	c.own = fresh
	return nil
}

func (c *coordinator) subscribe() error {
	base := c.g.Topic + "." + c.g.Name + ".*"
	for prefix, kind := range map[string]string{wire.GroupHeartbeatPrefix: "hb", wire.GroupReleasePrefix: "release",
		wire.GroupLeavePrefix: "leave", wire.GroupOrderedStatusPrefix: "status"} {
		kind := kind
		prefix := prefix
		sub, err := c.svc.nc.Subscribe(prefix+base, func(m *nats.Msg) {
			ev := coordEvent{kind: kind, msg: m, member: m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]}
			if err := ev.decode(); err != nil {
				respondAPIError(m, errBadRequest("%s request: %v", kind, err))
				return
			}
			c.events <- ev
		})
		if err != nil {
			return err
		}
		_ = sub.SetPendingLimits(-1, -1)
		c.subs = append(c.subs, sub)
	}
	return nil
}

func (c *coordinator) unsubscribe() {
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
	c.subs = nil
}

// handle applies one event; it reports whether a rebalance is due.
func (c *coordinator) handle(ev coordEvent) bool {
	now := time.Now()
	if aerr := c.authorize(ev); aerr != nil {
		respondAPIError(ev.msg, aerr)
		return false
	}
	switch ev.kind {
	case "hb":
		isNew := c.own.Heartbeat(ev.member, now)
		leaving := ev.hb.Leaving && c.own.SetLeaving(ev.member)
		changed := len(c.suspended[ev.member]) != len(ev.hb.Suspended)
		c.suspended[ev.member] = ev.hb.Suspended
		if changed {
			c.observe()
		}
		if isNew || leaving {
			// Answer after the rebalance, with the member's new share.
			c.answers = append(c.answers, ev)
		} else {
			c.reply(ev.msg, ev.member)
		}
		return isNew || leaving
	case "status":
		respondJSON(ev.msg, c.status())
		return false
	case "sample":
		return c.onSample(ev.infos, now)
	case "fenced":
		return c.onFenced(ev.fence)
	case "release":
		r := ev.release
		l := c.own.Lease(min(max(r.Partition, 0), len(c.own.State().Partitions)-1))
		ok := c.own.Release(ev.member, r.Partition, r.Epoch)
		if ok {
			c.nextSeq[r.Partition] = r.NextSeq
			c.log.Debug("partition released", "partition", r.Partition, "member", ev.member, "epoch", r.Epoch, "refence", r.Refence)
		}
		respondJSON(ev.msg, wire.ReleaseReply{Released: ok || l.Owner != ev.member || l.Epoch != r.Epoch})
		return ok
	case "leave":
		delete(c.suspended, ev.member)
		delete(c.tokens, ev.member)
		if ev.msg.Reply != "" {
			_ = ev.msg.Respond([]byte(`{"ok":true}`))
		}
		return c.own.Leave(ev.member)
	}
	return false
}

// rebalance plans, revokes at once, starts fencing the free partitions
// to be granted (they are granted when their fence is done, see
// onFenced), persists, and tells every member whose assignment changed.
func (c *coordinator) rebalance(ctx context.Context) error {
	c.applyFenced()
	steps := c.own.Plan(time.Now())
	if len(steps) > 0 {
		c.log.Debug("rebalance", "steps", fmt.Sprint(steps))
	}
	c.refenceAt = time.Time{}
	for _, st := range steps {
		if st.Kind == core.StepGrant {
			c.startFence(ctx, st)
		}
	}
	if len(steps) > 0 || c.dirty {
		if err := c.persist(ctx); err != nil {
			return err
		}
		c.dirty = false
	}
	c.clearMovedStalls()
	c.pushChanged()
	for _, ev := range c.answers {
		c.reply(ev.msg, ev.member)
	}
	c.answers = c.answers[:0]
	return nil
}

// persist writes the state with compare-and-set: a coordinator that lost
// the race to another one stops and restarts from the stored state.
func (c *coordinator) persist(ctx context.Context) error {
	b, _ := json.Marshal(c.own.State())
	pctx, cancel := context.WithTimeout(ctx, coordJSTimeout)
	defer cancel()
	var rev uint64
	var err error
	if c.rev == 0 {
		rev, err = c.svc.kv.Create(pctx, c.key, b)
	} else {
		rev, err = c.svc.kv.Update(pctx, c.key, b, c.rev)
	}
	if err != nil {
		return fmt.Errorf("persist ordered state: %w", err)
	}
	c.rev = rev
	return nil
}

// observe reports the state to the metrics.
func (c *coordinator) observe() {
	suspended := len(c.suspendedPartitions())
	c.svc.metrics.observe(c.g, c.own.Counts(), suspended, len(c.stalled), c.own.Revokes-c.seenRevokes, c.own.Rebalances-c.seenRebalances)
	c.seenRevokes, c.seenRebalances = c.own.Revokes, c.own.Rebalances
}

// assignment is what member is told now.
func (c *coordinator) assignment(member string) wire.Assignment {
	a := wire.Assignment{Member: member, Rev: c.rev, Leases: []wire.MemberLease{}}
	for _, l := range c.own.MemberLeases(member) {
		state := wire.LeaseStateOwned
		if l.Revoking {
			state = wire.LeaseStateRevoking
		}
		a.Leases = append(a.Leases, wire.MemberLease{Partition: l.Partition, Epoch: l.Epoch, State: state})
	}
	a.Standby = c.own.Standby(member)
	return a
}

func (c *coordinator) reply(m *nats.Msg, member string) {
	if m.Reply == "" || !c.own.Live(member) {
		return
	}
	respondJSON(m, c.assignment(member))
}

// pushChanged publishes the assignment of every member whose assignment
// differs from the one last pushed to it.
func (c *coordinator) pushChanged() {
	for _, m := range c.own.Members() {
		a := c.assignment(m)
		key := fmt.Sprint(a.Leases)
		if c.sent[m] == key {
			continue
		}
		c.sent[m] = key
		b, _ := json.Marshal(a)
		_ = c.svc.nc.Publish(wire.GroupAssignPrefix+c.g.Topic+"."+c.g.Name+"."+m, b)
	}
	for m := range c.sent {
		if !c.own.Live(m) {
			delete(c.sent, m)
		}
	}
	for m := range c.tokens {
		if !c.own.Live(m) {
			delete(c.tokens, m)
		}
	}
}

// status describes every partition's lease (lag is added by the caller).
func (c *coordinator) status() []wire.OrderedPartitionStatus {
	susp := c.suspendedPartitions()
	var out []wire.OrderedPartitionStatus
	for _, l := range c.own.State().Partitions {
		_, stalled := c.stalled[l.Partition]
		out = append(out, wire.OrderedPartitionStatus{Partition: l.Partition, Owner: l.Owner, Epoch: l.Epoch,
			Revoking: l.Revoking, Suspended: susp[l.Partition], Stalled: stalled})
	}
	return out
}
