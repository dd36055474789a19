package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/bridge"
	"github.com/nats-io/jwt/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// tenantStartWorkers bounds how many tenants start at once: each start
// creates a few streams, and a node with many accounts should neither
// start them one by one nor all at the same time.
const tenantStartWorkers = 8

// settingsOf is the part of cfg every tenant's services read: the topics,
// groups and transaction settings of the file, declared in every tenant.
func settingsOf(cfg *Config) bridge.Settings {
	return bridge.Settings{Topics: cfg.Topics, Groups: cfg.Groups, Transactions: cfg.Transactions}
}

func (s *Server) servicesFor(account string, st bridge.Settings) ([]bridge.Service, error) {
	return s.newServices(account, st)
}

// Tenants lists the accounts this node serves jetmq in, sorted.
func (s *Server) Tenants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tenants))
	for a := range s.tenants {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// startTenants starts a tenant for each spec, a few at a time; they are
// in s.tenants (so /healthz shows what each does) while they start.
func (s *Server) startTenants(ctx context.Context, specs []tenantSpec, st bridge.Settings) error {
	work := make(chan *tenant)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range min(tenantStartWorkers, len(specs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if err := t.start(ctx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, spec := range specs {
		t := newTenant(s, spec, st)
		s.mu.Lock()
		s.tenants[spec.Account] = t
		s.mu.Unlock()
		work <- t
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// stopTenants stops every tenant of m, concurrently.
func stopTenants(ctx context.Context, m map[string]*tenant) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, t := range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// claimsReinstallEvery is how often, in operator mode, jetmq puts its
// topic mappings back on the tenant accounts: an account JWT pushed at run
// time replaces the account's mappings with the JWT's, and nats-server
// tells no one. Re-adding a mapping that is in place changes nothing.
const claimsReinstallEvery = 2 * time.Second

func (s *Server) reinstallMappings(ctx context.Context) {
	t := time.NewTicker(claimsReinstallEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mappings.reinstall(s.lookupAccount)
		}
	}
}

// logPlan says which accounts jetmq serves and (announceJS) for which it
// turned JetStream on.
func (s *Server) logPlan(p *accountPlan, announceJS bool) {
	if !announceJS {
		// said already
	} else if p.defaulted {
		s.log.Info("no account of the nats config has JetStream; jetmq enables it for every non-system account and serves them all", "accounts", p.enabled)
	} else if len(p.enabled) > 0 {
		s.log.Info("jetmq enables JetStream for the accounts it serves that the nats config gives none", "accounts", p.enabled)
	}
	names := make([]string, len(p.tenants))
	for i, t := range p.tenants {
		names[i] = t.String()
	}
	s.log.Info("serving jetmq in accounts", "accounts", names, "operator_mode", p.operator)
}

// rehome puts the nodes' heartbeats in the first tenant account (sorted):
// every node of a cluster that shares the config picks the same one. With
// no tenant, nothing needs the heartbeats.
func (s *Server) rehome(p *accountPlan) error {
	specs := slices.Clone(p.tenants)
	slices.SortFunc(specs, func(a, b tenantSpec) int { return strings.Compare(a.Account, b.Account) })
	s.mu.Lock()
	cur, old := s.homeAcc, s.home
	s.mu.Unlock()
	if len(specs) > 0 && specs[0].Account == cur && old != nil {
		return nil
	}
	var nc *nats.Conn
	account := ""
	if len(specs) > 0 {
		var err error
		if nc, err = connectInProcess(s.ns, specs[0], "jetmq-nodes"); err != nil {
			return err
		}
		account = specs[0].Account
	}
	if err := s.nodes.setConn(nc); err != nil {
		nc.Close()
		return err
	}
	s.mu.Lock()
	s.home, s.homeAcc = nc, account
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// refreshUnserved lists, in operator mode, the accounts that have
// JetStream but no credentials in the jetmq config: they are served as
// plain NATS and JetStream, without jetmq's semantics. The log and
// /healthz say so.
func (s *Server) refreshUnserved() {
	if !s.plan.operator {
		s.setUnserved(nil)
		return
	}
	served := map[string]bool{}
	for _, t := range s.plan.tenants {
		served[t.Account] = true
	}
	var out []TenantHealthDetail
	var names []string
	for pub, tok := range s.accountJWTs() {
		ac, err := jwt.DecodeAccountClaims(tok)
		if err != nil || served[pub] || !hasJetStream(ac) {
			continue
		}
		label := pub
		if ac.Name != "" {
			label = fmt.Sprintf("%s (%s)", ac.Name, pub)
		}
		names = append(names, label)
		out = append(out, TenantHealthDetail{Account: pub, HealthDetail: bridge.HealthDetail{Service: "tenants",
			Problem: fmt.Sprintf("account %s has JetStream but no credentials in nats.accounts: served without jetmq semantics", label)}})
	}
	slices.Sort(names)
	slices.SortFunc(out, func(a, b TenantHealthDetail) int { return strings.Compare(a.Account, b.Account) })
	if len(names) > 0 {
		s.log.Warn("accounts with JetStream but no credentials in nats.accounts are served without jetmq semantics", "accounts", names)
	}
	s.setUnserved(out)
}

func (s *Server) setUnserved(d []TenantHealthDetail) {
	s.mu.Lock()
	s.unserved = d
	s.mu.Unlock()
}

// accountJWTs returns the account JWTs the server's resolver knows, by
// public key: the preloads of a memory resolver, the stored ones of a
// full (directory) resolver.
func (s *Server) accountJWTs() map[string]string {
	out := maps(s.plan.preloads)
	var store *natsserver.DirJWTStore
	switch r := s.ns.AccountResolver().(type) {
	case *natsserver.DirAccResolver:
		store = r.DirJWTStore
	case *natsserver.CacheDirAccResolver:
		store = r.DirJWTStore
	}
	if store != nil {
		_ = store.PackWalk(100, func(pack string) {
			for _, line := range strings.Split(pack, "\n") {
				if pub, tok, ok := strings.Cut(line, "|"); ok {
					out[pub] = tok
				}
			}
		})
	}
	return out
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
