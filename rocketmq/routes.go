package rocketmq

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
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

// brokers names one broker per live node, in live's order. When every
// live host is an IP address, a broker's endpoints list every live node,
// its own address twice: a client never holds a broker it can reach only
// through a dead node, and yet each broker keeps a target of its own that
// leans to its node. The official Go client v5.1.4 dials an endpoints set
// with grpc.WithBlock and a 5 s timeout (conn.go:123, conn_options.go:64)
// while holding its client-wide connection table lock
// (client_manager.go:205-215), and drops the connection on every
// Unavailable (client_manager.go:222-233): a broker whose addresses are
// all dead stalls every RPC of that client for 5 s, again and again,
// until its route refresh (every 30 s, client.go:596) drops the broker.
// With more addresses its resolver (name_resolver.go) hands gRPC all of
// them shuffled, and pick_first, which keeps the first of a repeated
// address (grpc balancer/pickfirst deDupAddresses), connects to the
// first that answers: the own node first half the time or more. The
// other brokers' addresses cover a node that returns on a new address
// too, while clients still hold the old one. Domain names get no
// fallback: the client dials one of their addresses at random
// (utils.SelectAnAddress), so more would only spread the stall.
func brokers(live []beacon) []*v2.Broker {
	allIP := true
	for _, b := range live {
		allIP = allIP && isIP(b.Host)
	}
	out := make([]*v2.Broker, len(live))
	for i, b := range live {
		eps := []beacon{b}
		if allIP && len(live) > 1 {
			eps = append(eps, live...)
		}
		out[i] = &v2.Broker{Name: b.Node, Id: 0, Endpoints: endpoints(eps)}
	}
	return out
}

func isIP(host string) bool { return net.ParseIP(host) != nil }

// endpoints lists the beacons' addresses sorted as the Go client sorts
// them in place (utils.EndpointsToString: by IP text, then port), so
// that its 30 s route refresh compares equal to what it holds. The
// scheme is IPv4 or IPv6 when every host is an IP address, else domain
// name.
func endpoints(bs []beacon) *v2.Endpoints {
	scheme := v2.AddressScheme_IPv4
	var addrs []*v2.Address
	for _, b := range bs {
		switch ip := net.ParseIP(b.Host); {
		case ip == nil:
			scheme = v2.AddressScheme_DOMAIN_NAME
		case ip.To4() == nil && scheme == v2.AddressScheme_IPv4:
			scheme = v2.AddressScheme_IPv6
		}
		addrs = append(addrs, &v2.Address{Host: b.Host, Port: int32(b.Port)})
	}
	slices.SortFunc(addrs, func(a, b *v2.Address) int {
		if c := strings.Compare(net.ParseIP(a.Host).String(), net.ParseIP(b.Host).String()); c != 0 {
			return c
		}
		return int(a.Port - b.Port)
	})
	return &v2.Endpoints{Scheme: scheme, Addresses: addrs}
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
	listed := brokers(e.routes.live())
	// Partition-major order (p0 on every node, then p1 …): the Go client
	// sends to consecutive queues, so consecutive sends go to different
	// nodes and a dead node costs one send at a time, not a run of them.
	var queues []*v2.MessageQueue
	for p := 0; p < n; p++ {
		for _, broker := range listed {
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
	for _, b := range brokers(e.routes.live()) {
		out = append(out, &v2.Assignment{MessageQueue: &v2.MessageQueue{Topic: req.GetTopic(), Id: 0, Permission: v2.Permission_READ_WRITE,
			Broker: b, AcceptMessageTypes: allTypes}})
	}
	if len(out) == 0 {
		return &v2.QueryAssignmentResponse{Status: status(v2.Code_INTERNAL_SERVER_ERROR, fmt.Sprintf("no live node serves topic %q", topic))}, nil
	}
	return &v2.QueryAssignmentResponse{Status: ok(), Assignments: out}, nil
}
