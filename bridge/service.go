package bridge

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Host is what the jetmq server gives the services that run inside it.
type Host interface {
	// Conn is the server's in-process connection in the jetmq account.
	Conn() *nats.Conn
	// JetStream is a JetStream context on Conn.
	JetStream() jetstream.JetStream
	// Mappings changes the subject mappings of the jetmq account on this
	// node (every node's services apply the same ones).
	Mappings() Mapper
	// RunSingleton runs fn on exactly one live node of the cluster at a
	// time: on this node fn starts when this node becomes the owner of name
	// and its context is cancelled when it stops being one. It returns at
	// once; the runner stops with ctx.
	RunSingleton(ctx context.Context, name string, fn func(ctx context.Context))
	// Clustered reports whether the node is part of a NATS cluster; jetmq's
	// own state (registries, leases) is then kept with 3 replicas.
	Clustered() bool
	// NodeName is this node's server name.
	NodeName() string
	// LiveNodes names the jetmq nodes heard from within the node TTL, this
	// one included.
	LiveNodes() []string
	Logger() *slog.Logger
	Registerer() prometheus.Registerer
}

// Mapper changes account subject mappings on this node.
type Mapper interface {
	AddMapping(src, dest string) error
	RemoveMapping(src string) bool
}

// Service is a broker-side service run by the server.
type Service interface {
	// Name names the service in logs and in /healthz.
	Name() string
	// Start starts the service and returns once it serves requests. ctx
	// lives as long as the server runs (use it for background work); bound
	// start-up waits yourself.
	Start(ctx context.Context, h Host) error
	// Stop stops intake, finishes in-flight work and returns.
	Stop(ctx context.Context) error
}

// HealthDetail is a condition a service reports in /healthz "details"
// while it lasts (a topic that cannot serve, an outbox not sourced, a
// stalled partition). It does not make the node unready: it is about one
// topic or group, which other nodes cannot serve better; /healthz says
// "degraded" while there is one.
type HealthDetail struct {
	Service   string `json:"service"`
	Topic     string `json:"topic,omitempty"`
	Group     string `json:"group,omitempty"`
	Partition *int   `json:"partition,omitempty"`
	Problem   string `json:"problem"`
}

// HealthDetailer is a Service with conditions to show in /healthz.
type HealthDetailer interface {
	HealthDetails() []HealthDetail
}
