package server

import (
	"context"
	"log/slog"

	"github.com/jetmq/jetmq/bridge"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// host is the view of a Server that its services get.
type host Server

var _ bridge.Host = (*host)(nil)

func (h *host) Conn() *nats.Conn                  { return h.nc }
func (h *host) JetStream() jetstream.JetStream    { return h.js }
func (h *host) Mappings() bridge.Mapper           { return h.acc }
func (h *host) NodeName() string                  { return h.ns.Name() }
func (h *host) Clustered() bool                   { return (*Server)(h).isClustered() }
func (h *host) Logger() *slog.Logger              { return h.log }
func (h *host) Registerer() prometheus.Registerer { return h.registry }

func (h *host) RunSingleton(ctx context.Context, name string, fn func(ctx context.Context)) {
	h.nodes.runSingleton(ctx, name, fn)
}
