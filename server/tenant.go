package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jetmq/jetmq/bridge"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// tenant is jetmq in one account: its own in-process connection there, its
// own set of services (topics, groups, transactions, ...) with the
// account's mappings, a logger and metrics labelled with the account, and
// singletons named per account, so that each tenant's singletons move on
// their own when a node fails.
type tenant struct {
	srv      *Server
	spec     tenantSpec
	settings bridge.Settings
	log      *slog.Logger
	reg      *trackingRegisterer
	mapper   *tenantMapper

	mu       sync.Mutex
	nc       *nats.Conn
	js       jetstream.JetStream
	acc      *natsserver.Account
	services []bridge.Service
	started  []bridge.Service
	cancel   context.CancelFunc
	status   string // what it is doing while not serving ("" = serving)
	// degraded says why a serving tenant runs with older settings than
	// the config's (written before it is shared, read by healthDetails).
	degraded string
}

func newTenant(s *Server, spec tenantSpec, settings bridge.Settings) *tenant {
	t := &tenant{srv: s, spec: spec, settings: settings, status: "starting"}
	t.log = s.log.With("account", spec.Account)
	t.reg = newTrackingRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"account": spec.Account}, s.registry))
	return t
}

// start connects, waits for JetStream in the account and starts the
// services; on error, what started is stopped again.
func (t *tenant) start(ctx context.Context) error {
	if err := t.open(ctx); err != nil {
		t.setStatus(err.Error())
		t.close()
		return err
	}
	if err := t.startServices(ctx); err != nil {
		t.setStatus(err.Error())
		t.stopServices(context.Background())
		t.close()
		return err
	}
	t.setStatus("")
	return nil
}

func (t *tenant) open(ctx context.Context) error {
	ns := t.srv.ns
	acc, err := ns.LookupAccount(t.spec.Account)
	if err != nil {
		return fmt.Errorf("account %s: %w", t.spec, err)
	}
	if err := t.checkName(); err != nil {
		return err
	}
	if !acc.JetStreamEnabled() {
		if t.spec.Creds != "" {
			return fmt.Errorf("account %s has no JetStream in its JWT: give it JetStream limits (nsc edit account --js-disk-storage ...)", t.spec)
		}
		// The global account of a config with accounts: nats-server has
		// nowhere to read JetStream from, so jetmq turns it on here.
		t.log.Info("enabling JetStream for the account")
		if err := acc.EnableJetStream(map[string]natsserver.JetStreamAccountLimits{
			"": {MaxMemory: -1, MaxStore: -1, MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1},
		}, nil); err != nil {
			return fmt.Errorf("enable JetStream for account %s: %w", t.spec, err)
		}
	}
	nc, err := connectInProcess(ns, t.spec, "jetmq-internal")
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	mapper, err := t.srv.mappings.forAccount(t.spec.Account, acc)
	if err != nil {
		nc.Close()
		return err
	}
	t.mu.Lock()
	t.nc, t.js, t.acc, t.mapper = nc, js, acc, mapper
	t.mu.Unlock()
	return t.waitJetStream(ctx)
}

// checkName refuses, in operator mode, credentials whose account's JWT
// bears another name than the config gives.
func (t *tenant) checkName() error {
	c := t.spec.Configured
	if t.spec.Creds == "" || c == "" || c == t.spec.Account {
		return nil
	}
	res := t.srv.ns.AccountResolver()
	if res == nil {
		return nil
	}
	tok, err := res.Fetch(t.spec.Account)
	if err != nil {
		return fmt.Errorf("%s: account %s of %s: %v", t.spec.Key, t.spec.Account, t.spec.Creds, err)
	}
	if name := accountClaimsName(tok); name != c {
		return fmt.Errorf("%s: the credentials %s are for account %s, named %q, not %q", t.spec.Key, t.spec.Creds, t.spec.Account, name, c)
	}
	return nil
}

// connectInProcess opens a connection to ns as jetmq itself in spec's
// account.
func connectInProcess(ns *natsserver.Server, spec tenantSpec, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(ns), nats.Name(name), nats.MaxReconnects(-1)}
	switch {
	case spec.Creds != "":
		opts = append(opts, nats.UserCredentials(spec.Creds))
	case spec.auth.User != "":
		opts = append(opts, nats.UserInfo(spec.auth.User, spec.auth.Password))
	case spec.auth.Token != "":
		opts = append(opts, nats.Token(spec.auth.Token))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("internal connection to account %s: %w", spec, err)
	}
	return nc, nil
}

// waitJetStream waits until JetStream answers in the account; in a
// cluster that means a meta leader has been elected.
func (t *tenant) waitJetStream(ctx context.Context) error {
	t.setStatus("waiting for JetStream")
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := t.js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		t.log.Debug("JetStream not ready yet", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("account %s: JetStream not ready: %w", t.spec, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t *tenant) startServices(ctx context.Context) error {
	svcs, err := t.srv.servicesFor(t.spec.Account, t.settings)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.services, t.cancel = svcs, cancel
	t.mu.Unlock()
	for _, svc := range svcs {
		t.setStatus("starting service " + svc.Name())
		if err := svc.Start(runCtx, (*tenantHost)(t)); err != nil {
			return fmt.Errorf("account %s: service %s: %w", t.spec, svc.Name(), err)
		}
		t.mu.Lock()
		t.started = append(t.started, svc)
		t.mu.Unlock()
	}
	// The services subscribed on nc; a round trip makes sure the server has
	// registered every subscription before the tenant says it serves, so a
	// client's first request never meets "no responders".
	if err := t.nc.FlushTimeout(10 * time.Second); err != nil {
		return fmt.Errorf("account %s: register service subscriptions: %w", t.spec, err)
	}
	return nil
}

// stopServices stops the services in reverse order and forgets their
// metrics, so that the tenant can start again (a reload that changed its
// settings).
func (t *tenant) stopServices(ctx context.Context) error {
	t.mu.Lock()
	started, cancel := t.started, t.cancel
	t.started, t.cancel = nil, nil
	t.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("account %s: stop %s: %w", t.spec, started[i].Name(), err))
		}
	}
	if cancel != nil {
		cancel()
	}
	t.reg.unregisterAll()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// stop stops the services and closes the connection.
func (t *tenant) stop(ctx context.Context) error {
	t.setStatus("stopped")
	err := t.stopServices(ctx)
	t.close()
	return err
}

func (t *tenant) close() {
	t.mu.Lock()
	nc := t.nc
	t.nc = nil
	t.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}

func (t *tenant) setStatus(s string) {
	t.mu.Lock()
	t.status = s
	t.mu.Unlock()
}

func (t *tenant) state() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

func (t *tenant) healthDetails() []bridge.HealthDetail {
	t.mu.Lock()
	svcs := append([]bridge.Service(nil), t.started...)
	t.mu.Unlock()
	var out []bridge.HealthDetail
	if t.degraded != "" {
		out = append(out, bridge.HealthDetail{Service: "tenants", Problem: t.degraded})
	}
	for _, svc := range svcs {
		if h, ok := svc.(bridge.HealthDetailer); ok {
			out = append(out, h.HealthDetails()...)
		}
	}
	return out
}

// tenantHost is the view of a tenant that its services get (bridge.Host).
type tenantHost tenant

var _ bridge.Host = (*tenantHost)(nil)

func (h *tenantHost) Conn() *nats.Conn                  { return h.nc }
func (h *tenantHost) JetStream() jetstream.JetStream    { return h.js }
func (h *tenantHost) Mappings() bridge.Mapper           { return h.mapper }
func (h *tenantHost) NodeName() string                  { return h.srv.ns.Name() }
func (h *tenantHost) LiveNodes() []string               { return h.srv.nodes.live() }
func (h *tenantHost) Clustered() bool                   { return h.srv.isClustered() }
func (h *tenantHost) Logger() *slog.Logger              { return h.log }
func (h *tenantHost) Registerer() prometheus.Registerer { return h.reg }

// RunSingleton names the singleton per account: each tenant's singletons
// are owned (and moved) independently of every other tenant's.
func (h *tenantHost) RunSingleton(ctx context.Context, name string, fn func(ctx context.Context)) {
	h.srv.nodes.runSingleton(ctx, singletonName(h.spec.Account, name), fn)
}

// singletonName is the cluster-wide name of a tenant's singleton.
func singletonName(account, name string) string { return account + "/" + name }
