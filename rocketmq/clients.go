package rocketmq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc/metadata"
)

// clientGone is how long a client without a telemetry stream stays known
// after its last call (the official clients heartbeat every 10 s).
const clientGone = 30 * time.Second

// client is one RocketMQ client process (its client id) as this node
// knows it.
type client struct {
	id      string
	kind    v2.ClientType
	group   string
	topics  map[string]bool // published to (producers) or subscribed (consumers)
	streams []*telemetryStream
	seen    time.Time
	members map[string]*member // topic -> group membership
	gone    bool
}

type telemetryStream struct {
	mu   sync.Mutex
	send func(*v2.TelemetryCommand) error
}

func (t *telemetryStream) Send(c *v2.TelemetryCommand) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.send(c)
}

// clients is this node's table of RocketMQ clients.
type clients struct {
	e  *Endpoint
	mu sync.Mutex
	m  map[string]*client
}

func newClients(e *Endpoint) *clients { return &clients{e: e, m: map[string]*client{}} }

// clientID reads the client id every official client sends in its
// metadata.
func clientID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-mq-client-id"); len(v) > 0 && len(v[0]) <= 256 {
		return v[0]
	}
	return ""
}

// touch records a call of the client id in ctx and returns it (nil when
// the call carries no client id).
func (cs *clients) touch(ctx context.Context) *client {
	id := clientID(ctx)
	if id == "" {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.m[id]
	if c == nil {
		c = &client{id: id, topics: map[string]bool{}, members: map[string]*member{}}
		cs.m[id] = c
	}
	c.seen = time.Now()
	return c
}

// alive reports whether the client id is known and not gone.
func (cs *clients) alive(id string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.m[id]
	return c != nil && !c.gone && (len(c.streams) > 0 || time.Since(c.seen) < clientGone)
}

func (cs *clients) kindOf(id string) v2.ClientType {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.m[id]; c != nil {
		return c.kind
	}
	return v2.ClientType_CLIENT_TYPE_UNSPECIFIED
}

// attach records a new telemetry stream of c. A producer's topics are
// watched for checks again: this node may have stopped watching them
// while c had no stream here (a stream broke with a node elsewhere and
// the client reopened it here), and a client sends its settings on a new
// stream only sometimes.
func (cs *clients) attach(c *client, t *telemetryStream) {
	cs.mu.Lock()
	c.streams = append(c.streams, t)
	c.gone = false
	topics := c.producerTopics()
	cs.mu.Unlock()
	for _, topic := range topics {
		cs.e.checks.watch(topic)
	}
}

// producerTopics lists the topics c produces to (none unless c is a
// producer); cs.mu is held.
func (c *client) producerTopics() []string {
	if c.kind != v2.ClientType_PRODUCER {
		return nil
	}
	out := make([]string, 0, len(c.topics))
	for topic := range c.topics {
		out = append(out, topic)
	}
	return out
}

func (cs *clients) detach(c *client, t *telemetryStream) {
	cs.mu.Lock()
	for i, s := range c.streams {
		if s == t {
			c.streams = append(c.streams[:i], c.streams[i+1:]...)
			break
		}
	}
	cs.mu.Unlock()
}

// addTopic records that the client publishes to or consumes topic; a
// producer's topics are where its orphaned transactions are checked.
// Every call watches the topic (watch is idempotent): the watch may have
// been pruned while the client had no telemetry stream here.
func (cs *clients) addTopic(c *client, topic string) {
	cs.mu.Lock()
	c.topics[topic] = true
	kind := c.kind
	cs.mu.Unlock()
	if kind == v2.ClientType_PRODUCER {
		cs.e.checks.watch(topic)
	}
}

// producerOf picks a client with an open telemetry stream that produces
// to topic, rotating over them.
func (cs *clients) producerOf(topic string, turn int) (*client, *telemetryStream) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var cands []*client
	for _, c := range cs.m {
		if !c.gone && c.kind == v2.ClientType_PRODUCER && c.topics[topic] && len(c.streams) > 0 {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	c := cands[turn%len(cands)]
	return c, c.streams[len(c.streams)-1]
}

// remove forgets a client that said goodbye or went silent: it leaves
// its groups and its in-flight push messages stop being kept alive.
func (cs *clients) remove(id string) {
	cs.mu.Lock()
	c := cs.m[id]
	delete(cs.m, id)
	var ms []*member
	if c != nil {
		c.gone = true
		for _, m := range c.members {
			ms = append(ms, m)
		}
	}
	cs.mu.Unlock()
	for _, m := range ms {
		m.leave(cs.e)
	}
	cs.e.inflight.dropClient(id)
}

// expireLoop removes silent clients and sends the group heartbeats of the
// live ones.
func (cs *clients) expireLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-cs.e.ctx.Done():
			return
		case <-t.C:
		}
		var expired []string
		var beats []*member
		cs.mu.Lock()
		for id, c := range cs.m {
			if len(c.streams) == 0 && time.Since(c.seen) > clientGone {
				expired = append(expired, id)
				continue
			}
			for _, m := range c.members {
				beats = append(beats, m)
			}
		}
		cs.mu.Unlock()
		for _, id := range expired {
			cs.remove(id)
		}
		for _, m := range beats {
			m.heartbeat(cs.e)
		}
		cs.e.checks.prune()
	}
}

func (cs *clients) closeAll() {
	cs.mu.Lock()
	ids := make([]string, 0, len(cs.m))
	for id := range cs.m {
		ids = append(ids, id)
	}
	cs.mu.Unlock()
	for _, id := range ids {
		cs.remove(id)
	}
}

// memberID makes a jetmq member id ([A-Za-z0-9_-]{1,64}) of a RocketMQ
// client id such as "host@1234@0@1a2b3c": other characters become '-',
// and a long id keeps its start plus a hash of the whole.
func memberID(clientID string) string {
	var b strings.Builder
	b.WriteString("rmq-")
	for _, r := range clientID {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) <= 64 {
		return s
	}
	sum := sha256.Sum256([]byte(clientID))
	return s[:47] + "-" + hex.EncodeToString(sum[:8])
}
