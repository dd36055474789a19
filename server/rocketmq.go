package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jetmq/jetmq/rocketmq"
	"github.com/nats-io/nats.go"
)

// DefaultRocketMQ is where RocketMQ 5 clients connect by default: the
// RocketMQ proxy's own port.
const DefaultRocketMQ = "127.0.0.1:8081"

// RocketMQConfig configures the RocketMQ 5 gRPC endpoint (docs/ROCKETMQ.md).
type RocketMQConfig struct {
	// Listen is host:port; "" disables the endpoint (default 127.0.0.1:8081).
	Listen *string  `mapstructure:"listen"`
	TLS    TLSFiles `mapstructure:"tls"`
	// Plaintext also accepts clients without TLS, on the same port.
	Plaintext bool `mapstructure:"plaintext"`
	// LongPolling is the longest a receive waits for a message (default
	// 20s; clients ask for up to 30s).
	LongPolling time.Duration `mapstructure:"long_polling"`
	// Credentials are the AK/SK pairs clients sign their calls with, each
	// mapped to a NATS user (or an account). With any, unsigned clients
	// are refused unless AnonymousAccount is set.
	Credentials []RocketMQCredential `mapstructure:"credentials"`
	// AnonymousAccount is the account unsigned clients act in, with
	// jetmq's own rights there. Default: the first served account when no
	// credentials are configured, none (refused) when some are.
	AnonymousAccount string `mapstructure:"anonymous_account"`
}

// RocketMQCredential maps an access key to what its clients act as: a
// NATS user of the nats config (user and password, an nkey seed file, or
// in operator mode a creds file), whose permissions then apply to every
// call; or, with account alone, that account with jetmq's own rights.
type RocketMQCredential struct {
	AccessKey string `mapstructure:"access_key"`
	SecretKey string `mapstructure:"secret_key"`
	// Account the client acts in; with a user it must be the user's.
	Account  string `mapstructure:"account"`
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
	Nkey     string `mapstructure:"nkey"`  // seed file
	Creds    string `mapstructure:"creds"` // operator mode
}

// GoString keeps the secrets out of any %#v of a config.
func (c RocketMQCredential) GoString() string {
	return fmt.Sprintf("RocketMQCredential{AccessKey: %q, Account: %q, User: %q}", c.AccessKey, c.Account, c.User)
}

// String keeps the secrets out of any %v of a config.
func (c RocketMQCredential) String() string { return c.GoString() }

// TLSFiles names a PEM certificate and its key.
type TLSFiles struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
}

// RocketMQAddr returns the configured listen address; "" means disabled.
func (c *Config) RocketMQAddr() string {
	if c.RocketMQ.Listen == nil {
		return DefaultRocketMQ
	}
	return *c.RocketMQ.Listen
}

func (c *Config) validateRocketMQ() error {
	r := &c.RocketMQ
	addr := c.RocketMQAddr()
	if addr == "" {
		return nil
	}
	if err := checkListenAddr(addr); err != nil {
		return cfgErr("rocketmq.listen", "%q: %v", addr, err)
	}
	if (r.TLS.Cert == "") != (r.TLS.Key == "") {
		return cfgErr("rocketmq.tls", "set both cert and key, or neither (a self-signed certificate is generated)")
	}
	for key, f := range map[string]string{"rocketmq.tls.cert": r.TLS.Cert, "rocketmq.tls.key": r.TLS.Key} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return cfgErr(key, "%v", unwrapPathError(err))
		}
	}
	if r.LongPolling != 0 && (r.LongPolling < 100*time.Millisecond || r.LongPolling > time.Minute) {
		return cfgErr("rocketmq.long_polling", "%s is not in 100ms-1m", r.LongPolling)
	}
	return r.validateCredentials()
}

func (r *RocketMQConfig) validateCredentials() error {
	seen := map[string]bool{}
	for i, c := range r.Credentials {
		key := fmt.Sprintf("rocketmq.credentials[%d]", i)
		switch {
		case c.AccessKey == "":
			return cfgErr(key+".access_key", "required")
		case strings.ContainsAny(c.AccessKey, "/, \t\r\n="):
			// The client sends "Credential=<AK>/<region>/Rocketmq, ...".
			return cfgErr(key+".access_key", "%q: no '/', ',', '=' or spaces", c.AccessKey)
		case seen[c.AccessKey]:
			return cfgErr(key+".access_key", "%q is given twice", c.AccessKey)
		case c.SecretKey == "":
			return cfgErr(key+".secret_key", "required")
		}
		seen[c.AccessKey] = true
		ways := 0
		for _, set := range []bool{c.User != "", c.Nkey != "", c.Creds != ""} {
			if set {
				ways++
			}
		}
		switch {
		case ways > 1:
			return cfgErr(key, "set one of user (with password), nkey or creds")
		case ways == 0 && c.Account == "":
			return cfgErr(key, "map the key to a NATS user (user and password, nkey or creds) or to an account")
		case c.Password != "" && c.User == "":
			return cfgErr(key+".password", "is for a user: set user too")
		}
		for k, f := range map[string]string{key + ".nkey": c.Nkey, key + ".creds": c.Creds} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return cfgErr(k, "%v", unwrapPathError(err))
			}
		}
	}
	return nil
}

// startRocketMQ opens the RocketMQ endpoint, a client of this node's
// jetmq services: per account it serves, over jetmq's own in-process
// connection, and per credential mapped to a NATS user, over a connection
// as that user.
func (s *Server) startRocketMQ(ctx context.Context) error {
	addr := s.cfg.RocketMQAddr()
	if addr == "" {
		return nil
	}
	s.setNotReady("starting the RocketMQ endpoint")
	if len(s.plan.tenants) == 0 {
		return &StartError{Key: "rocketmq.listen", Problem: "no account is served: the endpoint needs one"}
	}
	r := s.cfg.RocketMQ
	opts := rocketmq.Options{Listen: addr, TLSCert: r.TLS.Cert, TLSKey: r.TLS.Key, Plaintext: r.Plaintext,
		LongPolling: r.LongPolling, Node: s.ns.Name(), NodeTTL: s.cfg.NATS.NodeTTL, Clustered: s.isClustered(),
		Log: s.log, Registerer: s.registry}
	conns, err := s.rocketMQPrincipals(&opts)
	if err == nil {
		var svc *rocketmq.Service
		if svc, err = rocketmq.NewService(opts); err == nil {
			if err = svc.Start(ctx); err == nil {
				s.mu.Lock()
				s.rmq, s.rmqConns = svc, conns
				s.mu.Unlock()
				return nil
			}
		}
		err = &StartError{Key: "rocketmq.listen", Problem: "cannot start: " + oneLine(err.Error())}
	}
	for _, nc := range conns {
		nc.Close()
	}
	return err
}

// rocketMQPrincipals fills in the accounts, credentials and unsigned
// clients' account of opts, and returns the connections it opened.
func (s *Server) rocketMQPrincipals(opts *rocketmq.Options) (conns []*nats.Conn, err error) {
	r := s.cfg.RocketMQ
	own := map[string]bool{}
	account := func(t tenantSpec) error {
		if own[t.Account] {
			return nil
		}
		nc, err := connectInProcess(s.ns, t, "jetmq-rocketmq")
		if err != nil {
			return err
		}
		conns = append(conns, nc)
		own[t.Account] = true
		opts.Accounts = append(opts.Accounts, rocketmq.Account{Name: t.Account, Conn: nc})
		return nil
	}
	tenantNamed := func(key, name string) (tenantSpec, error) {
		for _, t := range s.plan.tenants {
			if t.Account == name || t.Configured == name {
				return t, nil
			}
		}
		return tenantSpec{}, &StartError{Key: key, Problem: fmt.Sprintf("account %q is not served by jetmq (served: %v)", name, s.Tenants())}
	}
	switch {
	case r.AnonymousAccount != "":
		t, err := tenantNamed("rocketmq.anonymous_account", r.AnonymousAccount)
		if err != nil {
			return conns, err
		}
		opts.Anonymous = t.Account
		err = account(t)
		if err != nil {
			return conns, err
		}
	case len(r.Credentials) == 0:
		// Unsigned clients act in the first tenant's account (nats.account,
		// or the first of nats.accounts), as before credentials existed.
		opts.Anonymous = s.plan.tenants[0].Account
		if err := account(s.plan.tenants[0]); err != nil {
			return conns, err
		}
	}
	for i, c := range r.Credentials {
		key := fmt.Sprintf("rocketmq.credentials[%d]", i)
		cred := rocketmq.Credential{AccessKey: c.AccessKey, SecretKey: c.SecretKey}
		if c.User == "" && c.Nkey == "" && c.Creds == "" {
			t, err := tenantNamed(key+".account", c.Account)
			if err != nil {
				return conns, err
			}
			cred.Account, cred.Who = t.Account, "account "+t.String()
		} else {
			nc, who, err := s.connectAsUser(key, c)
			if err != nil {
				return conns, err
			}
			conns = append(conns, nc)
			t, err := s.accountOfConn(key, nc, who)
			if err != nil {
				return conns, err
			}
			if c.Account != "" && c.Account != t.Account && c.Account != t.Configured {
				return conns, &StartError{Key: key + ".account", Problem: fmt.Sprintf("%q, but %s is a user of account %s", c.Account, who, t)}
			}
			cred.Account, cred.Who, cred.Conn = t.Account, who, nc
		}
		t, _ := tenantNamed(key, cred.Account)
		if err := account(t); err != nil {
			return conns, err
		}
		opts.Credentials = append(opts.Credentials, cred)
	}
	return conns, nil
}

// connectAsUser opens the in-process connection a credential's clients
// act on, as its NATS user.
func (s *Server) connectAsUser(key string, c RocketMQCredential) (*nats.Conn, string, error) {
	opts := []nats.Option{nats.InProcessServer(s.ns), nats.Name("jetmq-rocketmq ak=" + c.AccessKey), nats.MaxReconnects(-1)}
	who, field := "user "+c.User, key+".user"
	switch {
	case c.Creds != "":
		who, field = "the user of "+c.Creds, key+".creds"
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.Nkey != "":
		who, field = "the nkey user of "+c.Nkey, key+".nkey"
		o, err := nats.NkeyOptionFromSeed(c.Nkey)
		if err != nil {
			return nil, who, &StartError{Key: field, Problem: oneLine(err.Error())}
		}
		opts = append(opts, o)
	default:
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, who, &StartError{Key: field, Problem: fmt.Sprintf("NATS refused %s: %s", who, oneLine(err.Error()))}
	}
	return nc, who, nil
}

// accountOfConn is the served account a user's connection landed in.
func (s *Server) accountOfConn(key string, nc *nats.Conn, who string) (tenantSpec, error) {
	name := ""
	if cid, err := nc.GetClientID(); err == nil {
		if c := s.ns.GetClient(cid); c != nil && c.Account() != nil {
			name = c.Account().Name
		}
	}
	for _, t := range s.plan.tenants {
		if t.Account == name {
			return t, nil
		}
	}
	return tenantSpec{}, &StartError{Key: key, Problem: fmt.Sprintf("%s is in account %q, which jetmq does not serve (served: %v)", who, name, s.Tenants())}
}

func (s *Server) stopRocketMQ(ctx context.Context) error {
	s.mu.Lock()
	svc, conns := s.rmq, s.rmqConns
	s.rmq, s.rmqConns = nil, nil
	s.mu.Unlock()
	if svc == nil {
		return nil
	}
	err := svc.Stop(ctx)
	for _, nc := range conns {
		nc.Close()
	}
	if err != nil {
		return fmt.Errorf("stop rocketmq: %w", err)
	}
	return nil
}

// RocketMQAddr is the address the RocketMQ endpoint is bound to ("" if
// disabled or not started).
func (s *Server) RocketMQAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rmq == nil {
		return ""
	}
	return s.rmq.Addr()
}

func (s *Server) rocketMQHealth() error {
	s.mu.Lock()
	ep := s.rmq
	s.mu.Unlock()
	if ep == nil {
		return nil
	}
	return ep.Health()
}
