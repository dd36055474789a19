package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Options configure a Service.
type Options struct {
	Listen    string // host:port
	TLSCert   string // PEM files; both empty: a self-signed certificate
	TLSKey    string
	Plaintext bool // also accept connections without TLS on the same port
	// LongPolling is the longest a receive waits for a message.
	LongPolling time.Duration
	Node        string        // this node's server name
	NodeTTL     time.Duration // how long a silent node's endpoint stays listed
	Clustered   bool          // state is created with 3 replicas
	Log         *slog.Logger
	Registerer  prometheus.Registerer

	// Accounts are the accounts clients act in, each with jetmq's own
	// in-process connection there.
	Accounts []Account
	// Credentials map access keys to NATS connections (docs/ROCKETMQ.md,
	// "Credentials"). With none, every client is unsigned.
	Credentials []Credential
	// Anonymous is the account (an Accounts name) unsigned clients act in,
	// on jetmq's own connection; "" refuses them (UNAUTHORIZED).
	Anonymous string
}

// Account is an account the endpoint serves.
type Account struct {
	Name string
	Conn *nats.Conn // jetmq's own connection in the account
}

// Credential is one AK/SK pair and what its clients act as.
type Credential struct {
	AccessKey string
	SecretKey string
	Account   string     // an Accounts name
	Conn      *nats.Conn // the NATS user's connection; nil: the account's own
	// Who says in logs what the key maps to ("user alice"); never a secret.
	Who string
}

// DefaultLongPolling is the receive wait when none is configured.
const DefaultLongPolling = 20 * time.Second

// Service is one node's RocketMQ gRPC service: one listener, the accounts'
// spaces, and an Endpoint per principal that each call is handed to once
// authenticated.
type Service struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	grpc    *grpc.Server
	ln      net.Listener
	addr    string
	spaces  []*space
	keys    map[string]*principal // access key ->
	anon    *Endpoint             // unsigned clients; nil: refused
	maxRecv int

	wg     sync.WaitGroup
	mu     sync.Mutex
	failed error
}

// principal is an access key's secret and the endpoint its clients use.
type principal struct {
	secret []byte
	e      *Endpoint
}

// NewService prepares the endpoint; nothing is served before Start.
func NewService(opts Options) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.LongPolling <= 0 {
		opts.LongPolling = DefaultLongPolling
	}
	if opts.NodeTTL <= 0 {
		opts.NodeTTL = 1500 * time.Millisecond
	}
	if len(opts.Accounts) == 0 {
		return nil, errors.New("no account to serve")
	}
	s := &Service{opts: opts, log: opts.Log.With("service", "rocketmq"), keys: map[string]*principal{}}
	spaces := map[string]*space{}
	for _, a := range opts.Accounts {
		sp, err := newSpace(a, opts)
		if err != nil {
			return nil, err
		}
		spaces[a.Name] = sp
		s.spaces = append(s.spaces, sp)
		s.maxRecv = max(s.maxRecv, int(a.Conn.MaxPayload())*2+(1<<20))
	}
	for i, c := range opts.Credentials {
		sp := spaces[c.Account]
		if sp == nil {
			return nil, fmt.Errorf("credential %d (access key %q): account %q is not served", i, c.AccessKey, c.Account)
		}
		if c.AccessKey == "" || c.SecretKey == "" {
			return nil, fmt.Errorf("credential %d: access key and secret key are both required", i)
		}
		if s.keys[c.AccessKey] != nil {
			return nil, fmt.Errorf("access key %q is given twice", c.AccessKey)
		}
		nc := c.Conn
		if nc == nil {
			nc = sp.nc
		} else {
			watchDenials(nc)
		}
		e, err := newEndpoint(sp, c.AccessKey, nc, s.log.With("account", c.Account, "access_key", c.AccessKey, "as", c.Who))
		if err != nil {
			return nil, err
		}
		sp.endpoints = append(sp.endpoints, e)
		s.keys[c.AccessKey] = &principal{secret: []byte(c.SecretKey), e: e}
	}
	if opts.Anonymous != "" {
		sp := spaces[opts.Anonymous]
		if sp == nil {
			return nil, fmt.Errorf("anonymous account %q is not served", opts.Anonymous)
		}
		e, err := newEndpoint(sp, "", sp.nc, s.log.With("account", opts.Anonymous))
		if err != nil {
			return nil, err
		}
		sp.endpoints = append(sp.endpoints, e)
		s.anon = e
	}
	s.metrics = newMetrics(opts.Registerer)
	return s, nil
}

// Start opens the listener, starts the accounts' spaces (handle secrets,
// routes) and the endpoints, and serves.
func (s *Service) Start(ctx context.Context) error {
	ln, err := s.listen()
	if err != nil {
		return err
	}
	s.ln, s.addr = ln, ln.Addr().String()
	for _, sp := range s.spaces {
		if err := sp.start(ctx, s.addr); err != nil {
			s.stopSpaces(ctx)
			ln.Close()
			return err
		}
		for _, e := range sp.endpoints {
			e.start()
		}
	}
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.metrics.unary, recoverUnary(s.log), s.authUnary),
		grpc.ChainStreamInterceptor(s.metrics.stream, recoverStream(s.log), s.authStream),
		grpc.MaxRecvMsgSize(s.maxRecv),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	v2.RegisterMessagingServiceServer(s.grpc, router{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.mu.Lock()
			s.failed = err
			s.mu.Unlock()
			s.log.Error("rocketmq listener stopped", "err", err)
		}
	}()
	s.log.Info("rocketmq endpoint listening", "addr", s.addr, "plaintext", s.opts.Plaintext,
		"credentials", len(s.keys), "unsigned_clients", s.opts.Anonymous)
	return nil
}

// Addr is the bound listen address.
func (s *Service) Addr() string { return s.addr }

// Health is nil while the listener serves.
func (s *Service) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("rocketmq listener: %w", s.failed)
	}
	if s.ln == nil {
		return errors.New("rocketmq listener not started")
	}
	return nil
}

// Stop ends every stream and call, leaves the groups the clients were in
// and stops the background work.
func (s *Service) Stop(ctx context.Context) error {
	if s.grpc == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	case <-time.After(2 * time.Second):
		// Long polls and telemetry streams would hold a graceful stop.
		s.grpc.Stop()
	}
	<-done // Stop ends GracefulStop too
	s.wg.Wait()
	s.stopSpaces(ctx)
	for _, c := range s.opts.Credentials {
		if c.Conn != nil {
			watched.Delete(c.Conn)
		}
	}
	return nil
}

func (s *Service) stopSpaces(ctx context.Context) {
	for _, sp := range s.spaces {
		for _, e := range sp.endpoints {
			e.stop(ctx)
		}
		sp.stop()
	}
}
