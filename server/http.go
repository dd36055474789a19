package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/jetmq/jetmq/bridge"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpReadHeaderTimeout bounds how long a client may take to send its
// request headers.
const httpReadHeaderTimeout = 10 * time.Second

// startHTTP opens the one HTTP listener: NATS monitoring, /metrics,
// /healthz and the dashboard (/ui/).
func (s *Server) startHTTP() error {
	addr := s.cfg.HTTPAddr()
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &StartError{Key: "http", Problem: "cannot start: " + oneLine(err.Error())}
	}
	s.mu.Lock()
	s.httpAddr = ln.Addr().String()
	s.mu.Unlock()
	// ReadHeaderTimeout keeps a client that never finishes its request
	// from holding a connection (and a graceful shutdown) open for long.
	s.http = &http.Server{Handler: s.httpHandler(addr), ReadHeaderTimeout: httpReadHeaderTimeout}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

func (s *Server) httpHandler(addr string) http.Handler {
	mux := http.NewServeMux()
	ns := s.ns
	for path, h := range map[string]http.HandlerFunc{
		natsserver.VarzPath:         ns.HandleVarz,
		natsserver.ConnzPath:        ns.HandleConnz,
		natsserver.RoutezPath:       ns.HandleRoutez,
		natsserver.GatewayzPath:     ns.HandleGatewayz,
		natsserver.LeafzPath:        ns.HandleLeafz,
		natsserver.SubszPath:        ns.HandleSubsz,
		natsserver.StackszPath:      ns.HandleStacksz,
		natsserver.AccountzPath:     ns.HandleAccountz,
		natsserver.AccountStatzPath: ns.HandleAccountStatz,
		natsserver.JszPath:          ns.HandleJsz,
		natsserver.IPQueuesPath:     ns.HandleIPQueuesz,
		natsserver.RaftzPath:        ns.HandleRaftz,
		"/nats/healthz":             ns.HandleHealthz,
	} {
		mux.HandleFunc(path, h)
	}
	mux.HandleFunc("/healthz", s.handleHealthz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.mountDashboard(mux, addr)
	mux.HandleFunc("/{$}", ns.HandleRoot)
	return mux
}

// Health reports nil when NATS, JetStream and every jetmq service are
// ready, else the reason.
func (s *Server) Health() error {
	s.mu.Lock()
	reason := s.notReady
	ns := s.ns
	s.mu.Unlock()
	if reason != "" {
		return errors.New(reason)
	}
	if ns == nil || !ns.Running() {
		return errors.New("nats server not running")
	}
	if st := ns.Healthz(&natsserver.HealthzOptions{JSEnabledOnly: true}); st.Status != "ok" {
		return errors.New("jetstream: " + st.Error)
	}
	return nil
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := s.Health(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "reason": err.Error(), "details": s.HealthDetails()})
		return
	}
	body := map[string]any{"status": "ok"}
	if d := s.HealthDetails(); len(d) > 0 {
		body["status"], body["details"] = "degraded", d
	}
	_ = json.NewEncoder(w).Encode(body)
}

// HealthDetails gathers the conditions the running services report
// (bridge.HealthDetailer), for /healthz.
func (s *Server) HealthDetails() []bridge.HealthDetail {
	s.mu.Lock()
	svcs := append([]bridge.Service(nil), s.started...)
	s.mu.Unlock()
	var out []bridge.HealthDetail
	for _, svc := range svcs {
		if h, ok := svc.(bridge.HealthDetailer); ok {
			out = append(out, h.HealthDetails()...)
		}
	}
	return out
}
