package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// NodeHeartbeatSubject carries every jetmq node's liveness beacon.
const NodeHeartbeatSubject = "$MQ.SYS.NODE.HB"

type heartbeat struct {
	Node string `json:"node"`
}

// nodes tracks which jetmq nodes are alive, from heartbeats each node sends
// over core NATS every ttl/6, and runs singleton services on the owner that
// ownerOf picks among them. Core heartbeats notice a dead node within ttl,
// much faster than a JetStream RAFT election (4-9 s), so a singleton moves
// within ttl plus a short grace.
type nodes struct {
	self      string
	ttl       time.Duration
	clustered bool
	log       *slog.Logger

	mu      sync.Mutex
	nc      *nats.Conn // where heartbeats go; nil: none yet (a lone node)
	sub     *nats.Subscription
	seen    map[string]time.Time
	settled time.Time // before this, a clustered node is still learning its peers
	running map[string]bool
	// changed is closed (and replaced) when the live set or the learning
	// state changes: singleton runners wait on it instead of polling, so
	// that an idle tenant's singletons cost no CPU.
	changed  chan struct{}
	lastView string
	ctx      context.Context // ends when the server shuts down
	wg       sync.WaitGroup
}

func newNodes(self string, ttl time.Duration, clustered bool, log *slog.Logger) *nodes {
	return &nodes{self: self, ttl: ttl, clustered: clustered, log: log,
		seen: map[string]time.Time{}, running: map[string]bool{}, changed: make(chan struct{})}
}

func (n *nodes) interval() time.Duration { return n.ttl / 6 }

// start begins beating; heartbeats go out once setConn gives a connection.
func (n *nodes) start(ctx context.Context) {
	n.mu.Lock()
	n.ctx = ctx
	if n.clustered {
		n.settled = time.Now().Add(n.ttl)
	}
	n.mu.Unlock()
	beat, _ := json.Marshal(heartbeat{Node: n.self})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.setConn(nil)
		t := time.NewTicker(n.interval())
		defer t.Stop()
		for {
			n.mu.Lock()
			nc := n.nc
			n.mu.Unlock()
			if nc != nil {
				_ = nc.Publish(NodeHeartbeatSubject, beat)
			}
			n.observe()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// setConn moves the heartbeats to nc (the home tenant's account, the same
// on every node of a cluster that shares its config); nil stops them.
func (n *nodes) setConn(nc *nats.Conn) error {
	var sub *nats.Subscription
	if nc != nil {
		var err error
		sub, err = nc.Subscribe(NodeHeartbeatSubject, func(m *nats.Msg) {
			var hb heartbeat
			if json.Unmarshal(m.Data, &hb) == nil && hb.Node != "" {
				n.mu.Lock()
				n.seen[hb.Node] = time.Now()
				n.mu.Unlock()
			}
		})
		if err != nil {
			return err
		}
	}
	n.mu.Lock()
	old := n.sub
	n.nc, n.sub = nc, sub
	n.mu.Unlock()
	if old != nil {
		_ = old.Unsubscribe()
	}
	return nil
}

// observe wakes the singleton runners if the live set or the learning
// state changed since the last look (once per heartbeat interval).
func (n *nodes) observe() {
	live := n.live()
	n.mu.Lock()
	defer n.mu.Unlock()
	view := fmt.Sprint(live, time.Now().Before(n.settled))
	if view != n.lastView {
		n.lastView = view
		close(n.changed)
		n.changed = make(chan struct{})
	}
}

func (n *nodes) changes() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// live lists the nodes heard within ttl, this node included, sorted.
func (n *nodes) live() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	out := []string{n.self}
	for node, at := range n.seen {
		if node != n.self && now.Sub(at) <= n.ttl {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}

// owns reports whether this node should run singleton name now.
func (n *nodes) owns(name string) bool {
	n.mu.Lock()
	learning := time.Now().Before(n.settled)
	n.mu.Unlock()
	return !learning && ownerOf(name, n.live()) == n.self
}

func (n *nodes) active(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running[name]
}

// runSingleton starts fn while this node owns name. A node that becomes the
// owner waits one grace period (two heartbeat intervals) so that a previous
// owner that still sees itself as owner has stopped; a node that stops
// owning cancels fn at once and waits for it to return.
func (n *nodes) runSingleton(ctx context.Context, name string, fn func(ctx context.Context)) {
	n.mu.Lock()
	ctx, cancel := context.WithCancel(ctx)
	stopWithServer := context.AfterFunc(n.ctx, cancel)
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer cancel()
		defer stopWithServer()
		grace := 2 * n.interval()
		var (
			ownSince time.Time
			run      *singletonRun
		)
		stop := func() {
			if run != nil {
				run.stop()
				run = nil
				n.setRunning(name, false)
				n.log.Info("singleton stopped", "singleton", name, "node", n.self)
			}
		}
		defer stop()
		for {
			changed := n.changes() // before looking, so no change is missed
			var timer *time.Timer
			var wake <-chan time.Time
			if n.owns(name) {
				if ownSince.IsZero() {
					ownSince = time.Now()
				}
				wait := grace - time.Since(ownSince)
				if run == nil && (wait <= 0 || !n.clustered) {
					n.setRunning(name, true)
					n.log.Info("singleton started", "singleton", name, "node", n.self)
					run = startSingletonRun(ctx, fn)
				} else if run == nil {
					timer = time.NewTimer(wait) // the grace period ends
					wake = timer.C
				}
			} else {
				ownSince = time.Time{}
				stop()
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-wake:
			}
			if timer != nil {
				timer.Stop()
			}
		}
	}()
}

func (n *nodes) setRunning(name string, on bool) {
	n.mu.Lock()
	n.running[name] = on
	n.mu.Unlock()
}

func (n *nodes) wait() { n.wg.Wait() }

// singletonRun is one activation of a singleton on this node.
type singletonRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startSingletonRun(ctx context.Context, fn func(ctx context.Context)) *singletonRun {
	fctx, cancel := context.WithCancel(ctx)
	r := &singletonRun{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); fn(fctx) }()
	return r
}

func (r *singletonRun) stop() {
	r.cancel()
	<-r.done
}
