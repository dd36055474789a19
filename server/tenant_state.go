package server

import (
	"fmt"
	"sync"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
)

// trackingRegisterer registers a tenant's collectors (labelled with its
// account) and remembers them, so that a tenant that stops takes its
// series off /metrics and can register them again when it restarts.
type trackingRegisterer struct {
	inner prometheus.Registerer
	mu    sync.Mutex
	cs    []prometheus.Collector
}

func newTrackingRegisterer(inner prometheus.Registerer) *trackingRegisterer {
	return &trackingRegisterer{inner: inner}
}

func (r *trackingRegisterer) Register(c prometheus.Collector) error {
	if err := r.inner.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	r.cs = append(r.cs, c)
	r.mu.Unlock()
	return nil
}

func (r *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *trackingRegisterer) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	for i, x := range r.cs {
		if x == c {
			r.cs = append(r.cs[:i], r.cs[i+1:]...)
			break
		}
	}
	r.mu.Unlock()
	return r.inner.Unregister(c)
}

func (r *trackingRegisterer) unregisterAll() {
	r.mu.Lock()
	cs := r.cs
	r.cs = nil
	r.mu.Unlock()
	for _, c := range cs {
		r.inner.Unregister(c)
	}
}

// mappingStore remembers the subject mappings jetmq's services put on each
// tenant account. nats-server replaces an account's mappings with those of
// its config when it reloads (and with those of the account JWT when a
// claim update arrives), so jetmq hands its own to the new options before
// a reload, and installs them again after one.
type mappingStore struct {
	mu   sync.Mutex
	byAc map[string]map[string]string // account -> src -> dest
}

func newMappingStore() *mappingStore { return &mappingStore{byAc: map[string]map[string]string{}} }

// shortcutMappings are identity mappings jetmq puts on each tenant account
// before its topics' mappings. nats-server matches every message of an
// account with mappings against them one by one until one fits, so with
// hundreds of topics every message jetmq and its clients exchange (API
// requests and replies, acks, pulls, keyed publishes) would be compared
// with every topic's mappings: 600 topics cut a keyed publisher to a
// ninth (docs/NOTES.md). These fit that traffic first and change nothing.
// None overlaps a topic mapping: those have one, three or more tokens and
// a topic name as first token (never $ or _INBOX).
//
// The price, with leafnodes connected to the account: a mapping's source
// is interest the hub asks its leafnodes for, so they send it publishes
// on two-token and inbox subjects it may have no subscriber for.
var shortcutMappings = []struct{ src, dest string }{
	{"_INBOX.>", "_INBOX.>"},
	{"$JS.>", "$JS.>"},
	{"$MQ.>", "$MQ.>"},
	{"$KV.>", "$KV.>"},
	{"*.*", "{{wildcard(1)}}.{{wildcard(2)}}"}, // keyed publishes: the stream maps them
}

// addShortcuts puts shortcutMappings on acc (again after a reload, which
// drops them, in front of jetmq's other mappings).
func addShortcuts(add func(src, dest string) error) error {
	for _, m := range shortcutMappings {
		if err := add(m.src, m.dest); err != nil {
			return fmt.Errorf("mapping %s -> %s: %w", m.src, m.dest, err)
		}
	}
	return nil
}

// tenantMapper is one tenant's bridge.Mapper.
type tenantMapper struct {
	store   *mappingStore
	account string
	acc     *natsserver.Account
}

func (st *mappingStore) forAccount(account string, acc *natsserver.Account) (*tenantMapper, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := addShortcuts(acc.AddMapping); err != nil {
		return nil, err
	}
	if st.byAc[account] == nil {
		st.byAc[account] = map[string]string{} // so that reloads put the shortcuts back
	}
	return &tenantMapper{store: st, account: account, acc: acc}, nil
}

func (m *tenantMapper) AddMapping(src, dest string) error {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	if err := m.acc.AddMapping(src, dest); err != nil {
		return err
	}
	if m.store.byAc[m.account] == nil {
		m.store.byAc[m.account] = map[string]string{}
	}
	m.store.byAc[m.account][src] = dest
	return nil
}

func (m *tenantMapper) RemoveMapping(src string) bool {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	delete(m.store.byAc[m.account], src)
	return m.acc.RemoveMapping(src)
}

// forget removes every mapping of a tenant that is no longer served.
func (st *mappingStore) forget(account string, acc *natsserver.Account) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for src := range st.byAc[account] {
		if acc != nil {
			acc.RemoveMapping(src)
		}
	}
	if acc != nil {
		for _, m := range shortcutMappings {
			acc.RemoveMapping(m.src)
		}
	}
	delete(st.byAc, account)
}

// reload runs fn (nats-server's reload) with the store locked, after
// adding the recorded mappings to the accounts of the new options, and
// installs them again on the live accounts once it returns.
func (st *mappingStore) reload(opts *natsserver.Options, lookup func(string) *natsserver.Account, fn func() error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, a := range opts.Accounts {
		if _, ok := st.byAc[a.Name]; ok {
			_ = addShortcuts(a.AddMapping)
		}
		for src, dest := range st.byAc[a.Name] {
			_ = a.AddMapping(src, dest) // validated when it was first added
		}
	}
	err := fn()
	st.reinstallLocked(lookup)
	return err
}

// reinstall puts every recorded mapping back on its live account.
func (st *mappingStore) reinstall(lookup func(string) *natsserver.Account) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.reinstallLocked(lookup)
}

func (st *mappingStore) reinstallLocked(lookup func(string) *natsserver.Account) {
	for account, m := range st.byAc {
		acc := lookup(account)
		if acc == nil {
			continue
		}
		_ = addShortcuts(acc.AddMapping) // validated when first added
		for src, dest := range m {
			_ = acc.AddMapping(src, dest)
		}
	}
}
