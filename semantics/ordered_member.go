package semantics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// orderedMember is the client side of the ordered protocol behind
// Subscribe(…, Ordered()): it joins, heartbeats (each heartbeat is a
// request the coordinator answers with the member's assignment, which
// renews its leases), starts a partitionRunner for every partition it is
// granted, stops one gracefully and releases it when revoked, and drops
// one at once when its lease runs out. Broadcasting ordered members
// consume their own durable and keep each partition in order (see
// orderedBroadcast).
type orderedMember struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	topic   string
	group   string
	handler Handler
	cfg     subscribeConfig
	log     *slog.Logger
	join    wire.OrderedJoinReply
	session time.Duration
	suspend time.Duration
	// margin is taken off every lease so the member stops before the
	// coordinator (counting from when it received the heartbeat) frees the
	// partition.
	margin time.Duration

	mu         sync.Mutex
	runners    map[int]*partitionRunner
	released   map[int]uint64 // partition -> highest epoch given up
	leaseUntil map[int]time.Time
	lastRenew  time.Time // send time of the last answered heartbeat
	stopping   bool      // Stop began: tell the coordinator, start nothing
	suspended  map[int]bool

	broadcast *orderedBroadcast
	hctx      context.Context
	hcancel   context.CancelFunc
	assignSub *nats.Subscription
	quit      chan struct{}
	poke      chan struct{} // a push: heartbeat now
	loops     sync.WaitGroup
	// pendingReleases counts RELEASE requests in flight (under mu); stop
	// waits on releasesIdle until it is zero. A WaitGroup would not do:
	// assignments arriving while stop waits can start new releases.
	pendingReleases int
	releasesIdle    *sync.Cond
}

// subscribeOrdered joins an ordered group and starts consuming.
func subscribeOrdered(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, topic, group string, h Handler, cfg subscribeConfig) (*orderedMember, error) {
	m := &orderedMember{nc: nc, js: js, topic: topic, group: group, handler: h, cfg: cfg, log: cfg.logger,
		runners: map[int]*partitionRunner{}, released: map[int]uint64{}, leaseUntil: map[int]time.Time{},
		suspended: map[int]bool{}, quit: make(chan struct{}), poke: make(chan struct{}, 1)}
	m.releasesIdle = sync.NewCond(&m.mu)
	m.hctx, m.hcancel = context.WithCancel(context.Background())
	if err := m.requestJoin(ctx); err != nil {
		m.hcancel()
		return nil, err
	}
	if m.join.Mode == core.ModeBroadcasting {
		b, err := startOrderedBroadcast(ctx, m)
		if err != nil {
			m.hcancel()
			return nil, err
		}
		m.broadcast = b
		m.loops.Add(1)
		go m.plainHeartbeats()
		return m, nil
	}
	sub, err := nc.Subscribe(m.join.AssignSubject, m.onAssign)
	if err != nil {
		m.hcancel()
		return nil, err
	}
	m.assignSub = sub
	m.loops.Add(2)
	go m.heartbeatLoop()
	go m.watchdog()
	return m, nil
}

// requestJoin joins, trying again within the join timeout while the
// broker answers 503 (JetStream electing a leader, a cluster starting).
func (m *orderedMember) requestJoin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.joinTimeout)
	defer cancel()
	var jr wire.OrderedJoinReply
	for {
		err := sendJoin(ctx, m.nc, m.topic, m.group, m.cfg, m.cfg.member, wire.ProtocolOrdered, &jr)
		if err == nil {
			break
		}
		if ae := (*wire.APIError)(nil); !errors.As(err, &ae) || ae.Code != 503 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
	if jr.Protocol != wire.ProtocolOrdered {
		return fmt.Errorf("jetmq: join %s/%s: broker answered protocol %q, want %q", m.topic, m.group, jr.Protocol, wire.ProtocolOrdered)
	}
	m.join = jr
	m.session = time.Duration(jr.SessionTimeoutMs) * time.Millisecond
	m.suspend = time.Duration(jr.SuspendMs) * time.Millisecond
	m.margin = m.session / 10
	return nil
}

// heartbeatInterval: three heartbeats per session_timeout.
func (m *orderedMember) heartbeatInterval() time.Duration {
	return max(m.session/3, 100*time.Millisecond)
}

// heartbeatLoop sends a heartbeat request at once and then every third
// of the session timeout; every answer renews the leases it lists. After
// an unanswered one it tries again five times as often, so that a
// coordinator taking over (its node died) is found at once.
func (m *orderedMember) heartbeatLoop() {
	defer m.loops.Done()
	for {
		wait := m.heartbeatInterval()
		if !m.heartbeat() {
			wait /= 5
		}
		select {
		case <-m.quit:
			return
		case <-m.poke:
		case <-time.After(wait):
		}
	}
}

// heartbeat sends one heartbeat and applies the answer; it reports
// whether the coordinator answered.
func (m *orderedMember) heartbeat() bool {
	m.mu.Lock()
	body, _ := json.Marshal(wire.OrderedHeartbeat{Token: m.join.MemberToken, Suspended: sortedTrue(m.suspended), Leaving: m.stopping})
	m.mu.Unlock()
	sent := time.Now()
	msg, err := m.nc.Request(m.join.HeartbeatSubject, body, m.heartbeatInterval())
	if err != nil {
		return false // no coordinator answer: the leases are not renewed
	}
	var a wire.Assignment
	if err := wire.DecodeReply(msg.Data, &a); err != nil {
		return false
	}
	m.apply(a, sent)
	return true
}

// onAssign takes a push on the assign subject as a nudge only: whatever
// it says, the member heartbeats at once and acts on the answer. Anyone
// can publish there; only the coordinator answers the member's requests.
func (m *orderedMember) onAssign(*nats.Msg) {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// apply makes the member's runners match assignment a, the answer to the
// heartbeat sent at renewedAt; an answer to an older heartbeat than one
// already applied is ignored.
func (m *orderedMember) apply(a wire.Assignment, renewedAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !renewedAt.After(m.lastRenew) {
		return
	}
	m.lastRenew = renewedAt
	listed := map[int]bool{}
	for _, l := range a.Leases {
		listed[l.Partition] = true
		m.applyLease(l, renewedAt)
	}
	for p, r := range m.runners {
		if !listed[p] {
			// Not ours any more (the coordinator expired us): stop now.
			m.dropLocked(p, r)
		}
	}
}

func (m *orderedMember) applyLease(l wire.MemberLease, renewedAt time.Time) {
	p := l.Partition
	r := m.runners[p]
	if l.Epoch <= m.released[p] || m.stopping {
		if r == nil || r.epoch < l.Epoch {
			m.releaseLocked(p, l.Epoch, 0, false) // already given up: say so again
		}
		if m.stopping && r != nil && r.epoch == l.Epoch {
			return // being released by Stop
		}
		return
	}
	if r != nil && r.epoch != l.Epoch {
		m.dropLocked(p, r)
		r = nil
	}
	if l.State == wire.LeaseStateRevoking {
		if r != nil {
			m.revokeLocked(p, r)
		} else {
			m.releaseLocked(p, l.Epoch, 0, false)
		}
		return
	}
	if r == nil {
		r = newPartitionRunner(m, p, l.Epoch)
		m.runners[p] = r
		m.setLeaseLocked(p, r, renewedAt.Add(m.session-m.margin))
		r.start()
		return
	}
	m.setLeaseLocked(p, r, renewedAt.Add(m.session-m.margin))
}

// setLeaseLocked records until when the runner of p may hand out
// messages; the runner reads it without the member's lock.
func (m *orderedMember) setLeaseLocked(p int, r *partitionRunner, until time.Time) {
	m.leaseUntil[p] = until
	if !r.revoked {
		r.validUntil.Store(until.UnixNano())
	}
}

// watchdog drops partitions whose lease ran out (no coordinator answer
// for session_timeout): they stop pulling, and are released if the
// coordinator still lists them later.
func (m *orderedMember) watchdog() {
	defer m.loops.Done()
	t := time.NewTicker(max(m.session/20, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case now := <-t.C:
			m.mu.Lock()
			for p, r := range m.runners {
				if !r.revoked && !now.Before(m.leaseUntil[p]) {
					m.log.Debug("jetmq: ordered lease ran out", "topic", m.topic, "group", m.group, "partition", p, "epoch", r.epoch)
					m.released[p] = max(m.released[p], r.epoch)
					m.dropLocked(p, r)
				}
			}
			m.mu.Unlock()
		}
	}
}

// dropLocked abandons a runner at once: it stops pulling and its handler
// context is cancelled; unacked messages come back through the fence.
func (m *orderedMember) dropLocked(p int, r *partitionRunner) {
	r.validUntil.Store(0)
	delete(m.runners, p)
	delete(m.suspended, p)
	go r.abandon()
}

func (m *orderedMember) setSuspended(p int, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.suspended[p] = true
	} else {
		delete(m.suspended, p)
	}
}

// deadLetter dead-letters msg; false: the copy failed and msg is retried
// in place.
func (m *orderedMember) deadLetter(msg jetstream.Msg, md *jetstream.MsgMetadata, attempts int, reason string) bool {
	return deadLetter(m.js, m.log, m.join.JoinReply, m.group, msg, md, attempts, reason)
}

// stop releases every partition after its in-flight message, leaves the
// group and returns; if ctx ends first, handlers' contexts are cancelled.
func (m *orderedMember) stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		if m.broadcast != nil {
			m.broadcast.stop()
		} else {
			m.mu.Lock()
			m.stopping = true
			m.mu.Unlock()
			// Leaving first, so that what it releases goes elsewhere.
			m.heartbeat()
			m.mu.Lock()
			for p, r := range m.runners {
				m.revokeLocked(p, r)
			}
			for m.pendingReleases > 0 {
				m.releasesIdle.Wait()
			}
			m.mu.Unlock()
		}
		close(done)
	}()
	err := waitDrained(ctx, done, m.hcancel)
	close(m.quit)
	m.loops.Wait()
	m.hcancel()
	if m.assignSub != nil {
		_ = m.assignSub.Unsubscribe()
	}
	return errors.Join(err, m.leave())
}

// leave tells the coordinator the member is gone (with its token; a
// broadcasting member has none and no coordinator).
func (m *orderedMember) leave() error {
	if m.join.MemberToken == "" {
		return leaveGroup(m.nc, m.join.LeaveSubject)
	}
	body, _ := json.Marshal(wire.OrderedLeave{Token: m.join.MemberToken})
	_, err := m.nc.Request(m.join.LeaveSubject, body, m.heartbeatInterval())
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
		return err
	}
	return nil
}

// plainHeartbeats keeps a broadcasting member known to the broker.
func (m *orderedMember) plainHeartbeats() {
	defer m.loops.Done()
	t := time.NewTicker(time.Duration(max(m.join.HeartbeatMs, 100)) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
			_ = m.nc.Publish(m.join.HeartbeatSubject, nil)
		}
	}
}

func sortedTrue(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// subscribeOrderedGroup is Subscribe for Ordered() members.
func subscribeOrderedGroup(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, topic, group string, h Handler, cfg subscribeConfig) (*Subscription, error) {
	m, err := subscribeOrdered(ctx, nc, js, topic, group, h, cfg)
	if err != nil {
		return nil, err
	}
	return &Subscription{ordered: m, nc: nc, js: js, topic: topic, group: group, handler: h, cfg: cfg, log: cfg.logger,
		join: m.join.JoinReply, policy: m.join.Policy()}, nil
}
