package rocketmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nuid"
)

// FIFO groups are jetmq ordered groups. Each node serving one joins it as
// an ordered member (semantics.Subscribe with Ordered()), so partitions
// are owned, fenced and retried in place exactly as for NATS members; the
// member's handler hands each message to a RocketMQ receive and waits for
// the client's ack. One message per partition is out at a time: strict
// per-partition order, across nodes too.

type settleKind int

const (
	settleAck settleKind = iota
	settleRetry
	settleDeadLetter
)

// orderedIdle stops a node's ordered member after no receive for this long.
const orderedIdle = 30 * time.Second

// SettleSubjectPrefix + <node>: a node asks the node holding an ordered
// delivery to settle it ({"topic","group","id","kind"}).
const SettleSubjectPrefix = "$MQ.SYS.RMQ.SETTLE."

var errRetry = errors.New("RocketMQ client asked to consume the message again")

type orderedItem struct {
	d       *semantics.Delivery
	id      string
	push    bool
	client  string
	visible time.Time     // simple consumers: when the message comes again
	taken   chan struct{} // closed once a receive set push, client, visible
	done    chan settleKind
}

type orderedGroup struct {
	e        *Endpoint
	topic    string
	cfg      core.GroupConfig
	sub      *semantics.Subscription
	ready    chan *orderedItem
	mu       sync.Mutex
	out      map[string]*orderedItem
	lastRecv time.Time
}

type orderedGroups struct {
	e      *Endpoint
	mu     sync.Mutex
	m      map[string]*orderedGroup
	idling bool // idleLoop runs
}

func newOrderedGroups(e *Endpoint) *orderedGroups {
	return &orderedGroups{e: e, m: map[string]*orderedGroup{}}
}

// group returns (starting if needed) this node's member of a FIFO group.
func (o *orderedGroups) group(ctx context.Context, topic string, cfg core.GroupConfig) (*orderedGroup, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.idling {
		o.idling = true
		o.e.spawn(o.idleLoop)
	}
	key := wire.GroupID(topic, cfg.Name)
	if g := o.m[key]; g != nil {
		g.touch()
		return g, nil
	}
	g := &orderedGroup{e: o.e, topic: topic, cfg: cfg, ready: make(chan *orderedItem), out: map[string]*orderedItem{}, lastRecv: time.Now()}
	sub, err := semantics.Subscribe(ctx, o.e.nc, topic, cfg.Name, g.handle, semantics.Ordered(), semantics.WithoutCreate(),
		semantics.WithMember(o.e.orderedMember()), semantics.WithSubscribeLogger(o.e.log))
	if err != nil {
		return nil, err
	}
	g.sub = sub
	o.m[key] = g
	return g, nil
}

func (g *orderedGroup) touch() {
	g.mu.Lock()
	g.lastRecv = time.Now()
	g.mu.Unlock()
}

// handle runs in the ordered member's partition worker: it waits for a
// receive to take the message, then for the client's verdict.
func (g *orderedGroup) handle(ctx context.Context, d *semantics.Delivery) error {
	it := &orderedItem{d: d, id: nuid.Next(), taken: make(chan struct{}), done: make(chan settleKind, 1)}
	select {
	case g.ready <- it:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-it.taken
	var timeout <-chan time.Time
	if !it.push {
		t := time.NewTimer(time.Until(it.visible))
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer g.forget(it.id)
	for {
		select {
		case k := <-it.done:
			return g.settled(ctx, it, k)
		case <-timeout:
			return fmt.Errorf("not acknowledged within its invisible duration")
		case <-tick.C:
			if it.push && !g.e.clients.alive(it.client) {
				return fmt.Errorf("RocketMQ client %s went away holding the message", it.client)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *orderedGroup) settled(ctx context.Context, it *orderedItem, k settleKind) error {
	switch k {
	case settleAck:
		return nil
	case settleDeadLetter:
		dl, err := wire.NewDeadLetter(g.cfg.Name, "", it.d.Subject, it.d.Seq, it.d.Attempt, "forwarded to the DLQ by the RocketMQ client", it.d.Headers, it.d.Data, time.Now())
		if err == nil {
			_, err = g.e.js.PublishMsg(ctxTimeout(ctx, requestTimeout), dl.Msg())
		}
		if err != nil {
			return fmt.Errorf("dead letter not stored: %w", err)
		}
		return nil // copied: acknowledge it, the partition moves on
	}
	return errRetry
}

func (g *orderedGroup) forget(id string) {
	g.mu.Lock()
	delete(g.out, id)
	g.mu.Unlock()
}

// receive takes up to r.batch ready messages, waiting up to r.wait for the
// first.
func (o *orderedGroups) receive(ctx context.Context, r *receive) ([]*v2.Message, *v2.Status) {
	g, err := o.group(ctx, r.topic, r.cfg)
	if err != nil {
		return nil, statusOf(err, v2.Code_CONSUMER_GROUP_NOT_FOUND, fmt.Sprintf("ordered group %q of topic %q", r.group, r.topic))
	}
	var items []*orderedItem
	wait := time.NewTimer(max(r.wait, time.Millisecond))
	defer wait.Stop()
	select {
	case it := <-g.ready:
		items = append(items, it)
	case <-wait.C:
	case <-ctx.Done():
	}
	for len(items) > 0 && len(items) < r.batch {
		select {
		case it := <-g.ready:
			items = append(items, it)
			continue
		default:
		}
		break
	}
	out := make([]*v2.Message, 0, len(items))
	for _, it := range items {
		if m := g.hand(r, it); m != nil {
			out = append(out, m)
		}
	}
	g.touch()
	return out, nil
}

func (g *orderedGroup) hand(r *receive, it *orderedItem) *v2.Message {
	it.push = r.push
	if r.c != nil {
		it.client = r.c.id
	}
	h := Handle{Topic: g.topic, Group: g.cfg.Name, Consumer: fmt.Sprintf("%s~p%d", g.cfg.Name, it.d.Partition), Reply: it.id,
		Subject: it.d.Subject, Seq: it.d.Seq, Attempt: it.d.Attempt, Node: g.e.opts.Node, Push: r.push}
	if r.push {
		h.Deadline = time.Now().Add(pushHandleLife).UnixMilli()
	} else {
		it.visible = time.Now().Add(r.invisible)
		h.Deadline = it.visible.UnixMilli()
	}
	g.mu.Lock()
	g.out[it.id] = it
	g.mu.Unlock()
	close(it.taken)
	m, err := FromNATS(Incoming{Subject: it.d.Subject, Header: it.d.Headers, Data: it.d.Data, Seq: it.d.Seq, Stored: it.d.Published,
		Attempt: it.d.Attempt, FIFO: true, Handle: g.e.signer.Sign(h), Invisible: r.invisible})
	if err != nil {
		it.done <- settleAck // not a stored subject: nothing a client could do with it
		return nil
	}
	return m
}

// settle applies a verdict on this node; false if the delivery is gone.
func (o *orderedGroups) settle(h Handle, k settleKind) bool {
	o.mu.Lock()
	g := o.m[wire.GroupID(h.Topic, h.Group)]
	o.mu.Unlock()
	if g == nil {
		return false
	}
	g.mu.Lock()
	it := g.out[h.Reply]
	delete(g.out, h.Reply)
	g.mu.Unlock()
	if it == nil {
		return false
	}
	it.done <- k
	return true
}

type settleRequest struct {
	Topic string     `json:"topic"`
	Group string     `json:"group"`
	ID    string     `json:"id"`
	Kind  settleKind `json:"kind"`
}

// settleAnywhere settles on the node that holds the delivery.
func (o *orderedGroups) settleAnywhere(ctx context.Context, h Handle, k settleKind) *v2.Status {
	if h.Node == o.e.opts.Node {
		if !o.settle(h, k) {
			return status(v2.Code_INVALID_RECEIPT_HANDLE, "the ordered delivery is no longer held (settled before, or its invisible duration passed)")
		}
		return nil
	}
	body, _ := json.Marshal(settleRequest{Topic: h.Topic, Group: h.Group, ID: h.Reply, Kind: k})
	// Over jetmq's own connection: $MQ.SYS is denied to users.
	reply, err := o.e.space.nc.RequestWithContext(ctxTimeout(ctx, ackTimeout), SettleSubjectPrefix+h.Node, body)
	if err != nil {
		return status(v2.Code_INVALID_RECEIPT_HANDLE, fmt.Sprintf("node %s holding the ordered delivery does not answer (%v); it comes again in order", h.Node, err))
	}
	if string(reply.Data) != "ok" {
		return status(v2.Code_INVALID_RECEIPT_HANDLE, "the ordered delivery is no longer held on node "+h.Node)
	}
	return nil
}

// parseSettle decodes another node's settle request (space.onSettle).
func parseSettle(data []byte) (settleRequest, bool) {
	var r settleRequest
	if json.Unmarshal(data, &r) != nil || r.Kind < settleAck || r.Kind > settleDeadLetter {
		return r, false
	}
	return r, true
}

// idleLoop stops the members of groups no client has received from for a
// while, so their partitions go to nodes whose clients are there.
func (o *orderedGroups) idleLoop() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-o.e.ctx.Done():
			return
		case <-t.C:
		}
		o.mu.Lock()
		var idle []*orderedGroup
		for k, g := range o.m {
			g.mu.Lock()
			if time.Since(g.lastRecv) > orderedIdle && len(g.out) == 0 {
				idle = append(idle, g)
				delete(o.m, k)
			}
			g.mu.Unlock()
		}
		o.mu.Unlock()
		for _, g := range idle {
			g.stop(context.Background())
		}
	}
}

func (g *orderedGroup) stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = g.sub.Stop(ctx)
}

func (o *orderedGroups) stopAll(ctx context.Context) {
	o.mu.Lock()
	gs := make([]*orderedGroup, 0, len(o.m))
	for _, g := range o.m {
		gs = append(gs, g)
	}
	o.m = map[string]*orderedGroup{}
	o.mu.Unlock()
	for _, g := range gs {
		g.stop(ctx)
	}
}
