package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/jetmq/jetmq/bridge"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// ReloadWith re-reads the configuration with load (the same LoadConfig the
// server started from) and applies it: the native part through
// nats-server's own reload, so users, permissions, accounts and limits
// change exactly as nats-server changes them; the jetmq part by starting
// the tenants of accounts that now get semantics, stopping those that no
// longer do, and restarting those whose topics, groups or transaction
// settings changed (which creates or updates the topics and groups of the
// file). A config that does not load or validate, or that nats-server
// refuses, changes nothing: the error names the key, the server goes on
// serving as before. Errors are logged too.
func (s *Server) ReloadWith(ctx context.Context, load func() (*Config, error)) error {
	err := s.reload(ctx, load)
	if err != nil {
		s.log.Error("config reload failed; still serving the previous config", "err", err)
	} else {
		s.log.Info("config reloaded", "accounts", s.Tenants())
	}
	return err
}

func (s *Server) reload(ctx context.Context, load func() (*Config, error)) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	select {
	case <-s.ready:
	default:
		return errors.New("reload: the server is not serving (still starting, or stopped)")
	}
	if s.ns == nil || !s.ns.Running() {
		return errors.New("reload: the server is not serving")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	opts, plan, err := natsOptions(cfg, nil, &s.users, s.Tenants())
	if err != nil {
		return err
	}
	keepResolver(s.ns.AccountResolver(), opts)
	if err := s.checkRestartOnly(cfg, opts); err != nil {
		return err
	}
	err = s.mappings.reload(opts, s.lookupAccount, func() error { return s.ns.ReloadOptions(opts) })
	if err != nil {
		return cfgErr("nats.config_file", "nats-server refused the reload: %s", oneLine(err.Error()))
	}
	s.mu.Lock()
	old := s.plan
	s.cfg, s.opts, s.plan = cfg, opts, plan
	s.mu.Unlock()
	// What JetStream jetmq enabled is said once, unless it changed.
	s.logPlan(plan, !slices.Equal(old.enabled, plan.enabled))
	return s.reconcile(ctx, plan, settingsOf(cfg))
}

// keepResolver keeps the running directory (full) resolver: parsing the
// file made a new one that runs goroutines of its own, which nats-server
// would compare field by field with the running one (racing with those
// goroutines) and then use without starting it. Both read the same
// directory; the new one is closed.
func keepResolver(cur natsserver.AccountResolver, opts *natsserver.Options) {
	switch opts.AccountResolver.(type) {
	case *natsserver.DirAccResolver, *natsserver.CacheDirAccResolver:
		if cur != nil && reflect.TypeOf(cur) == reflect.TypeOf(opts.AccountResolver) {
			opts.AccountResolver.Close()
			opts.AccountResolver = cur
		}
	}
}

// checkRestartOnly refuses changes that only a restart applies.
func (s *Server) checkRestartOnly(cfg *Config, opts *natsserver.Options) error {
	if cfg.HTTPAddr() != s.cfg.HTTPAddr() {
		return cfgErr("http", "%q: the HTTP address changes on restart only (now %q)", cfg.HTTPAddr(), s.cfg.HTTPAddr())
	}
	if cfg.NATS.NodeTTL != s.cfg.NATS.NodeTTL {
		return cfgErr("nats.node_ttl", "%s: changes on restart only (now %s)", cfg.NATS.NodeTTL, s.cfg.NATS.NodeTTL)
	}
	if opts.StoreDir != s.opts.StoreDir {
		return cfgErr("nats.store_dir", "%q: changes on restart only (now %q)", opts.StoreDir, s.opts.StoreDir)
	}
	// The endpoint holds a NATS connection per credential. Refused rather
	// than ignored: a revoked access key must not keep working unnoticed.
	// (The message names no key or secret.)
	if !reflect.DeepEqual(cfg.RocketMQ.Credentials, s.cfg.RocketMQ.Credentials) {
		return cfgErr("rocketmq.credentials", "changed: credentials change on restart only")
	}
	if cfg.RocketMQ.AnonymousAccount != s.cfg.RocketMQ.AnonymousAccount {
		return cfgErr("rocketmq.anonymous_account", "%q: changes on restart only (now %q)", cfg.RocketMQ.AnonymousAccount, s.cfg.RocketMQ.AnonymousAccount)
	}
	return nil
}

func (s *Server) lookupAccount(name string) *natsserver.Account {
	acc, err := s.ns.LookupAccount(name)
	if err != nil {
		return nil
	}
	return acc
}

// tenantReloadStartTimeout bounds how long a reload waits for the tenants
// it starts.
const tenantReloadStartTimeout = 2 * time.Minute

// reconcile makes the running tenants those of plan, with settings st.
func (s *Server) reconcile(ctx context.Context, plan *accountPlan, st bridge.Settings) error {
	want := map[string]tenantSpec{}
	for _, spec := range plan.tenants {
		want[spec.Account] = spec
	}
	s.mu.Lock()
	stop := map[string]*tenant{}
	for acc, t := range s.tenants {
		spec, ok := want[acc]
		if !ok || spec.Creds != t.spec.Creds || spec.auth != t.spec.auth || !reflect.DeepEqual(st, t.settings) || t.state() != "" {
			stop[acc] = t
			delete(s.tenants, acc)
		}
	}
	var start []tenantSpec
	for _, spec := range plan.tenants {
		if _, ok := s.tenants[spec.Account]; !ok {
			start = append(start, spec)
		}
	}
	s.mu.Unlock()
	var errs []error
	errs = append(errs, stopTenants(ctx, stop)...)
	for acc, t := range stop {
		if _, ok := want[acc]; !ok {
			s.mappings.forget(acc, t.acc)
			s.log.Info("tenant stopped: the account no longer gets jetmq semantics", "account", acc)
		}
	}
	if err := s.rehome(plan); err != nil {
		errs = append(errs, fmt.Errorf("node heartbeats: %w", err))
	}
	// A tenant that cannot start (its account's JetStream never answers)
	// must not hold reloads, and shutdown, for ever.
	sctx, cancel := context.WithTimeout(ctx, tenantReloadStartTimeout)
	defer cancel()
	if err := s.startTenants(sctx, start, st); err != nil {
		errs = append(errs, err)
		s.fallBack(sctx, stop, st)
	}
	s.refreshUnserved()
	return errors.Join(errs...)
}

// fallBack starts again, with the settings they ran with, the tenants that
// ran before this reload and failed to start with its settings (a topic
// of the file that conflicts with one the account made): the reload's
// error says why, and the account keeps its semantics meanwhile.
func (s *Server) fallBack(ctx context.Context, before map[string]*tenant, st bridge.Settings) {
	for acc, old := range before {
		s.mu.Lock()
		t := s.tenants[acc]
		s.mu.Unlock()
		if t == nil || t.state() == "" || old.state() != "stopped" || reflect.DeepEqual(old.settings, st) {
			continue
		}
		problem := t.state()
		_ = t.stop(ctx)
		retry := newTenant(s, t.spec, old.settings)
		retry.degraded = "the last reload's topics or groups did not apply: " + problem
		s.mu.Lock()
		s.tenants[acc] = retry
		s.mu.Unlock()
		if err := retry.start(ctx); err != nil {
			s.log.Error("tenant could not start with its previous settings either", "account", acc, "err", err)
			continue
		}
		s.log.Warn("tenant runs with its previous topics and groups", "account", acc, "err", problem)
	}
}
