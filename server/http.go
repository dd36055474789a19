package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
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
	if reason == "starting tenants" {
		reason += s.startingTenants()
	}
	if reason != "" {
		return errors.New(reason)
	}
	if ns == nil || !ns.Running() {
		return errors.New("nats server not running")
	}
	if st := ns.Healthz(&natsserver.HealthzOptions{JSEnabledOnly: true}); st.Status != "ok" {
		return errors.New("jetstream: " + st.Error)
	}
	if err := s.rocketMQHealth(); err != nil {
		return err
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

// TenantHealthDetail is a bridge.HealthDetail with the account of the
// tenant it is about ("" for the node as a whole).
type TenantHealthDetail struct {
	Account string `json:"account,omitempty"`
	bridge.HealthDetail
}

// HealthDetails gathers the conditions the running services of every
// tenant report (bridge.HealthDetailer), the tenants that could not
// start, and the accounts served without semantics, for /healthz.
func (s *Server) HealthDetails() []TenantHealthDetail {
	s.mu.Lock()
	unserved := s.unserved
	tenants := make([]*tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		tenants = append(tenants, t)
	}
	s.mu.Unlock()
	slices.SortFunc(tenants, func(a, b *tenant) int { return strings.Compare(a.spec.Account, b.spec.Account) })
	var out []TenantHealthDetail
	for _, t := range tenants {
		if st := t.state(); st != "" {
			out = append(out, TenantHealthDetail{Account: t.spec.Account, HealthDetail: bridge.HealthDetail{Service: "tenants", Problem: st}})
		}
		for _, d := range t.healthDetails() {
			out = append(out, TenantHealthDetail{Account: t.spec.Account, HealthDetail: d})
		}
	}
	return append(out, unserved...)
}

// startingTenants says what the first few tenants still starting do.
func (s *Server) startingTenants() string {
	s.mu.Lock()
	var busy []string
	for a, t := range s.tenants {
		if st := t.state(); st != "" {
			busy = append(busy, "account "+a+": "+st)
		}
	}
	s.mu.Unlock()
	slices.Sort(busy)
	if len(busy) > 3 {
		busy = append(busy[:3], fmt.Sprintf("%d more", len(busy)-3))
	}
	if len(busy) == 0 {
		return ""
	}
	return " (" + strings.Join(busy, "; ") + ")"
}
