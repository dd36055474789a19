package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/bridge"
	"github.com/jetmq/jetmq/dashboard"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// startTimeout bounds how long Start waits for the NATS listeners.
const startTimeout = 10 * time.Second

// Server is one jetmq node: an embedded nats-server with JetStream plus the
// jetmq services. Create it with New, then Start, and Shutdown when done.
type Server struct {
	cfg      *Config
	opts     *natsserver.Options
	auth     internalAuth
	log      *slog.Logger
	nlog     *natsLogger
	registry *prometheus.Registry
	services []bridge.Service

	mu       sync.Mutex
	ns       *natsserver.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	acc      *natsserver.Account
	nodes    *nodes
	http     *http.Server
	httpAddr string
	dash     *dashboard.Handler
	started  []bridge.Service
	ready    chan struct{}
	notReady string
	// storeLock keeps a second process off the store dir while NATS runs.
	storeLock *storeLock
	cancel    context.CancelFunc
	done      chan struct{}
}

// Option customises a Server beyond its Config.
type Option func(*Server)

// WithLogger sets the logger (default: text to stderr at cfg.Log.Level).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithServices replaces the jetmq services the server runs (default:
// bridge.DefaultServices for the config).
func WithServices(svcs ...bridge.Service) Option {
	return func(s *Server) { s.services = svcs }
}

// New checks cfg (applying defaults) and prepares a server; it opens nothing.
func New(cfg *Config, opts ...Option) (*Server, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ready: make(chan struct{}), done: make(chan struct{}), notReady: "starting"}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = NewLogger(cfg.Log.Level)
	}
	if s.services == nil {
		s.services = bridge.DefaultServices(bridge.Settings{Topics: cfg.Topics, Groups: cfg.Groups, Transactions: cfg.Transactions})
	}
	nopts, auth, err := natsOptions(cfg, s.log)
	if err != nil {
		return nil, err
	}
	s.opts, s.auth = nopts, auth
	s.registry = s.newRegistry()
	return s, nil
}

// Start starts NATS, JetStream, the HTTP listener and the jetmq services,
// and returns once all of them serve; on error everything started is
// stopped again.
func (s *Server) Start(ctx context.Context) error {
	if err := s.startNATS(); err != nil {
		s.stopNATS()
		return err
	}
	if err := s.startHTTP(); err != nil {
		s.nlog.quiet()
		s.stopNATS()
		return err
	}
	s.nlog.release()
	if err := s.startJetmq(ctx); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	s.mu.Lock()
	s.notReady = ""
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("jetmq ready", "client", s.ClientURL(), "http", s.HTTPAddr(), "store_dir", s.opts.StoreDir, "server_name", s.ns.Name())
	return nil
}

func (s *Server) startNATS() error {
	if s.opts.JetStream {
		lock, err := lockStoreDir(s.opts.StoreDir)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.storeLock = lock
		s.mu.Unlock()
	}
	ns, err := natsserver.NewServer(s.opts)
	if err != nil {
		// NewServer only validates options: a configuration problem.
		return cfgErr("nats", "%s", oneLine(err.Error()))
	}
	// At debug level nothing is held back: the whole start-up shows.
	s.nlog = newNATSLogger(s.log, !s.opts.Debug)
	ns.SetLoggerV2(s.nlog, s.opts.Debug, s.opts.Trace, false)
	s.mu.Lock()
	s.ns = ns
	s.mu.Unlock()
	go ns.Start()
	deadline := time.Now().Add(startTimeout)
	for !ns.ReadyForConnections(50 * time.Millisecond) {
		if err := s.nlog.fatalErr(); err != nil {
			s.nlog.quiet()
			return listenError(err)
		}
		if time.Now().After(deadline) {
			s.nlog.release() // the log may tell why
			return errors.New("nats server did not become ready in time")
		}
	}
	if err := s.nlog.fatalErr(); err != nil {
		s.nlog.quiet()
		return listenError(err)
	}
	return nil // Start releases the held log once HTTP listens too
}

// listenError turns nats-server's fatal listener message, such as
// `Error listening on port: 127.0.0.1:4222, "listen tcp ...: bind: address
// already in use"`, into one line that names the key to change.
func listenError(err error) error {
	msg := oneLine(err.Error())
	key := "nats"
	switch {
	case strings.HasPrefix(msg, "Error listening on port:"):
		key = "nats.port"
	case strings.HasPrefix(msg, "Error listening on router port:"):
		key = "nats.cluster.listen"
	case strings.HasPrefix(msg, "Error listening on leafnode port:"):
		key = "leafnodes.port (nats config)"
	case strings.HasPrefix(msg, "Error listening on gateway port:"):
		key = "gateway.port (nats config)"
	}
	if i := strings.Index(msg, "listen tcp"); i >= 0 {
		msg = strings.TrimSuffix(msg[i:], `"`)
	}
	return &StartError{Key: key, Problem: "cannot start: " + msg}
}

// StartError is a start-up failure that is not a configuration mistake,
// such as a port already in use; the binary prints it and exits 1.
type StartError struct {
	Key     string
	Problem string
}

func (e *StartError) Error() string { return e.Key + ": " + e.Problem }

func (s *Server) startJetmq(ctx context.Context) error {
	acc, err := s.ns.LookupAccount(accountName(s.auth.Account))
	if err != nil {
		return fmt.Errorf("account %q: %w", s.auth.Account, err)
	}
	s.acc = acc
	if !acc.JetStreamEnabled() {
		s.log.Info("enabling JetStream for the jetmq account", "account", acc.Name)
		if err := acc.EnableJetStream(map[string]natsserver.JetStreamAccountLimits{
			"": {MaxMemory: -1, MaxStore: -1, MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1},
		}, nil); err != nil {
			return fmt.Errorf("enable JetStream for account %q: %w", acc.Name, err)
		}
	}
	nc, err := s.connectInternal()
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.nc, s.js = nc, js
	s.mu.Unlock()
	if err := s.waitJetStream(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.mu.Lock() // /metrics may read s.nodes concurrently
	s.nodes = newNodes(s.ns.Name(), s.cfg.NATS.NodeTTL, s.isClustered(), nc, s.log)
	s.mu.Unlock()
	if err := s.nodes.start(runCtx); err != nil {
		return err
	}
	for _, svc := range s.services {
		s.setNotReady("starting service " + svc.Name())
		if err := svc.Start(runCtx, (*host)(s)); err != nil {
			return fmt.Errorf("service %s: %w", svc.Name(), err)
		}
		s.mu.Lock()
		s.started = append(s.started, svc)
		s.mu.Unlock()
	}
	return nil
}

// Conns made by applications or tests go through ClientURL; jetmq's own
// services use an in-process connection.
func (s *Server) connectInternal() (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(s.ns), nats.Name("jetmq-internal"), nats.MaxReconnects(-1)}
	if s.auth.User != "" {
		opts = append(opts, nats.UserInfo(s.auth.User, s.auth.Password))
	}
	if s.auth.Token != "" {
		opts = append(opts, nats.Token(s.auth.Token))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("internal connection: %w", err)
	}
	return nc, nil
}

// waitJetStream waits until JetStream answers in the jetmq account; in a
// cluster that means a meta leader has been elected.
func (s *Server) waitJetStream(ctx context.Context) error {
	s.setNotReady("waiting for JetStream")
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		s.log.Debug("JetStream not ready yet", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("JetStream not ready: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) setNotReady(reason string) {
	s.mu.Lock()
	s.notReady = reason
	s.mu.Unlock()
}

func accountName(a string) string {
	if a == "" {
		return natsserver.DEFAULT_GLOBAL_ACCOUNT
	}
	return a
}

func (s *Server) isClustered() bool { return s.opts.Cluster.Port != 0 }

// Ready is closed once Start has completed.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// WaitReady waits until the server is ready or ctx ends.
func (s *Server) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops the services (finishing in-flight work), closes the HTTP
// listener and shuts NATS down, flushing JetStream. It is safe to call more
// than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.started = nil
	s.notReady = "shutting down"
	s.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", started[i].Name(), err))
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.nodes != nil {
		s.nodes.wait()
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.stopDashboard()
	s.stopNATS()
	return errors.Join(errs...)
}

func (s *Server) stopNATS() {
	s.mu.Lock()
	nc, ns := s.nc, s.ns
	s.nc = nil
	s.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
	s.mu.Lock()
	lock := s.storeLock
	s.storeLock = nil
	s.mu.Unlock()
	lock.release()
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// HTTPAddr is the address the HTTP listener is bound to ("" if disabled).
func (s *Server) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr
}

// NATS gives access to the embedded nats-server.
func (s *Server) NATS() *natsserver.Server { return s.ns }

// Name is this node's server name.
func (s *Server) Name() string { return s.ns.Name() }

// StoreDir is where JetStream keeps its data.
func (s *Server) StoreDir() string { return s.opts.StoreDir }

// Registry is the Prometheus registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// RunSingleton runs fn on exactly one live node of the cluster at a time
// (see bridge.Host). It must be called after Start; before, it panics.
func (s *Server) RunSingleton(ctx context.Context, name string, fn func(ctx context.Context)) {
	nodes := s.liveness()
	if nodes == nil {
		panic("server: RunSingleton called before Start")
	}
	nodes.runSingleton(ctx, name, fn)
}

// SingletonActive reports whether this node currently runs singleton name.
func (s *Server) SingletonActive(name string) bool {
	nodes := s.liveness()
	return nodes != nil && nodes.active(name)
}

// LiveNodes lists the jetmq nodes this node currently hears (none before
// Start).
func (s *Server) LiveNodes() []string {
	if nodes := s.liveness(); nodes != nil {
		return nodes.live()
	}
	return nil
}

func (s *Server) liveness() *nodes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes
}
