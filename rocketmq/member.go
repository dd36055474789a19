package rocketmq

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jetmq/jetmq/wire"
)

// member is a RocketMQ consumer's membership in a jetmq group: it joined
// under memberID(client id) and heartbeats while the client lives, so
// `jetmq group info` lists it next to the NATS members.
type member struct {
	mu   sync.Mutex
	join wire.JoinReply
	last time.Time
}

// join makes client c a member of topic's group (once per topic).
func (cs *clients) join(ctx context.Context, c *client, topic, group string) {
	cs.mu.Lock()
	if c.members[topic] != nil {
		cs.mu.Unlock()
		return
	}
	m := &member{}
	c.members[topic] = m
	cs.mu.Unlock()
	body, _ := json.Marshal(wire.JoinRequest{Member: memberID(c.id), Protocols: []string{wire.ProtocolPull}})
	var jr wire.JoinReply
	if err := request(ctx, cs.e.nc, wire.GroupJoinPrefix+topic+"."+group, body, &jr); err != nil {
		// Ordered groups answer only members speaking "ordered": their
		// RocketMQ consumers are served through the node's ordered member.
		cs.e.log.Debug("rocketmq client not listed as a group member", "client", c.id, "topic", topic, "group", group, "err", err)
		cs.mu.Lock()
		delete(c.members, topic)
		cs.mu.Unlock()
		return
	}
	m.mu.Lock()
	m.join = jr
	m.mu.Unlock()
	m.heartbeat(cs.e)
}

func (m *member) heartbeat(e *Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.join.HeartbeatSubject == "" || time.Since(m.last) < time.Duration(m.join.HeartbeatMs)*time.Millisecond*9/10 {
		return
	}
	m.last = time.Now()
	_ = e.nc.Publish(m.join.HeartbeatSubject, nil)
}

func (m *member) leave(e *Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.join.LeaveSubject != "" {
		_ = e.nc.Publish(m.join.LeaveSubject, nil)
	}
}
