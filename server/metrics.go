package server

import (
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Version is jetmq's version, set at build time with
// -ldflags "-X github.com/jetmq/jetmq/server.Version=v1.2.3".
var Version = "dev"

// NATSVersion is the version of the embedded nats-server.
const NATSVersion = natsserver.VERSION

// newRegistry returns the registry served at /metrics: the Go and process
// collectors plus the server-level jetmq metrics. Services add their own
// through bridge.Host.Registerer.
func (s *Server) newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "jetmq_build_info",
			Help:        "Always 1; the labels name the jetmq and embedded nats-server versions.",
			ConstLabels: prometheus.Labels{"version": Version, "nats_version": NATSVersion},
		}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jetmq_nodes_live",
			Help: "jetmq nodes this node currently hears, itself included (0 before start).",
		}, func() float64 { return float64(len(s.LiveNodes())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jetmq_ready",
			Help: "1 when NATS, JetStream and every jetmq service are ready (/healthz answers 200), else 0.",
		}, func() float64 {
			if s.Health() != nil {
				return 0
			}
			return 1
		}),
	)
	return r
}
