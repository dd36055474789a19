package server

import (
	"net"
	"net/http"

	"github.com/jetmq/jetmq/dashboard"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// mountDashboard serves the operator dashboard at /ui/ on mux. Logging in
// opens a NATS connection as the user to the client listener, so the
// dashboard itself holds no rights. It warns when the HTTP listener is
// reachable beyond loopback: the listener has no TLS, so passwords typed
// into the login travel in clear, and a NATS server without auth lets
// anyone who reaches the page administer jetmq.
func (s *Server) mountDashboard(mux *http.ServeMux, addr string) {
	d := dashboard.New(dashboard.Options{ClientURL: s.ClientURL, Logger: s.log.With("service", "dashboard")})
	s.mu.Lock()
	s.dash = d
	s.mu.Unlock()
	mux.Handle("/ui/", d)
	mux.Handle("/ui", d)
	if !loopbackAddr(addr) {
		noAuth := !natsHasAuth(s.opts)
		s.log.Warn("the HTTP listener (with the dashboard at /ui/) is reachable beyond loopback without TLS: logins travel in clear; bind it to 127.0.0.1 or put a TLS proxy in front",
			"http", addr, "nats_auth", !noAuth)
		if noAuth {
			s.log.Warn("the NATS server has no authentication: anyone reaching the dashboard can administer jetmq", "http", addr)
		}
	}
}

// natsHasAuth reports whether the NATS server asks clients to
// authenticate at all.
func natsHasAuth(o *natsserver.Options) bool {
	return o.Username != "" || o.Authorization != "" || len(o.Users) > 0 || len(o.Nkeys) > 0 ||
		len(o.TrustedOperators) > 0 || o.AuthCallout != nil
}

// stopDashboard ends the dashboard's sessions (closing their connections).
func (s *Server) stopDashboard() {
	s.mu.Lock()
	d := s.dash
	s.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

// loopbackAddr reports whether a listen address only takes local
// connections.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
