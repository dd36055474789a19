package rocketmq

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/nats-io/nats.go"
)

// EndpointSubject carries every node's RocketMQ endpoint beacon:
// {"node":"n1","host":"127.0.0.1","port":8081}.
const EndpointSubject = "$MQ.SYS.RMQ.ENDPOINT"

type beacon struct {
	Node string `json:"node"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// routes tracks the endpoints of the live nodes: what QueryRoute lists.
type routes struct {
	nc   *nats.Conn // jetmq's own: users may not publish on $MQ.SYS
	ttl  time.Duration
	self beacon
	sub  *nats.Subscription
	mu   sync.Mutex
	seen map[string]seenBeacon
	done chan struct{}
	wg   sync.WaitGroup
}

type seenBeacon struct {
	b  beacon
	at time.Time
}

func newRoutes(nc *nats.Conn, opts Options, addr string) *routes {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	p, _ := strconv.Atoi(port)
	return &routes{nc: nc, ttl: opts.NodeTTL, self: beacon{Node: opts.Node, Host: host, Port: p}, seen: map[string]seenBeacon{}, done: make(chan struct{})}
}

func (r *routes) start() error {
	sub, err := r.nc.Subscribe(EndpointSubject, func(m *nats.Msg) {
		var b beacon
		if json.Unmarshal(m.Data, &b) == nil && b.Node != "" && b.Host != "" && b.Port > 0 && b.Port < 65536 {
			r.mu.Lock()
			r.seen[b.Node] = seenBeacon{b: b, at: time.Now()}
			r.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	r.sub = sub
	data, _ := json.Marshal(r.self)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.ttl / 6)
		defer t.Stop()
		for {
			_ = r.nc.Publish(EndpointSubject, data)
			select {
			case <-r.done:
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

func (r *routes) stop() {
	close(r.done)
	r.wg.Wait()
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}

// live lists the endpoints heard within the node TTL, this node's always,
// sorted by node name.
func (r *routes) live() []beacon {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []beacon{r.self}
	for node, s := range r.seen {
		if node != r.self.Node && time.Since(s.at) < r.ttl {
			out = append(out, s.b)
		}
	}
	slices.SortFunc(out, func(a, b beacon) int {
		if a.Node < b.Node {
			return -1
		}
		if a.Node > b.Node {
			return 1
		}
		return 0
	})
	return out
}

func (b beacon) endpoints() *v2.Endpoints {
	scheme := v2.AddressScheme_DOMAIN_NAME
	if ip := net.ParseIP(b.Host); ip != nil {
		scheme = v2.AddressScheme_IPv4
		if ip.To4() == nil {
			scheme = v2.AddressScheme_IPv6
		}
	}
	return &v2.Endpoints{Scheme: scheme, Addresses: []*v2.Address{{Host: b.Host, Port: int32(b.Port)}}}
}

var allTypes = []v2.MessageType{v2.MessageType_NORMAL, v2.MessageType_FIFO, v2.MessageType_DELAY, v2.MessageType_TRANSACTION}

// QueryRoute lists one queue per partition on every live node: a queue is
// a partition, and the client spreads its calls over the nodes.
func (e *Endpoint) QueryRoute(ctx context.Context, req *v2.QueryRouteRequest) (*v2.QueryRouteResponse, error) {
	e.clients.touch(ctx)
	topic := req.GetTopic().GetName()
	n, st := e.topics.partitions(ctx, topic)
	if st != nil {
		return &v2.QueryRouteResponse{Status: st}, nil
	}
	live := e.routes.live()
	brokers := make([]*v2.Broker, len(live))
	for i, b := range live {
		brokers[i] = &v2.Broker{Name: b.Node, Id: 0, Endpoints: b.endpoints()}
	}
	// Partition-major order (p0 on every node, then p1 …): the Go client
	// sends to consecutive queues, so consecutive sends go to different
	// nodes and a dead node costs one send at a time, not a run of them.
	var queues []*v2.MessageQueue
	for p := 0; p < n; p++ {
		for _, broker := range brokers {
			queues = append(queues, &v2.MessageQueue{Topic: req.GetTopic(), Id: int32(p), Permission: v2.Permission_READ_WRITE, Broker: broker, AcceptMessageTypes: allTypes})
		}
	}
	return &v2.QueryRouteResponse{Status: ok(), MessageQueues: queues}, nil
}

// QueryAssignment gives a push consumer one queue per live node: it long
// polls each, and every node serves the whole group (receive ignores the
// queue, as RocketMQ's proxy does).
func (e *Endpoint) QueryAssignment(ctx context.Context, req *v2.QueryAssignmentRequest) (*v2.QueryAssignmentResponse, error) {
	e.clients.touch(ctx)
	topic, group := req.GetTopic().GetName(), req.GetGroup().GetName()
	if _, st := e.groups.config(ctx, topic, group, nil); st != nil {
		return &v2.QueryAssignmentResponse{Status: st}, nil
	}
	var out []*v2.Assignment
	for _, b := range e.routes.live() {
		out = append(out, &v2.Assignment{MessageQueue: &v2.MessageQueue{Topic: req.GetTopic(), Id: 0, Permission: v2.Permission_READ_WRITE,
			Broker: &v2.Broker{Name: b.Node, Endpoints: b.endpoints()}, AcceptMessageTypes: allTypes}})
	}
	if len(out) == 0 {
		return &v2.QueryAssignmentResponse{Status: status(v2.Code_INTERNAL_SERVER_ERROR, fmt.Sprintf("no live node serves topic %q", topic))}, nil
	}
	return &v2.QueryAssignmentResponse{Status: ok(), Assignments: out}, nil
}
