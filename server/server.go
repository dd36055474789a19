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
	"github.com/jetmq/jetmq/rocketmq"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// startTimeout bounds how long Start waits for the NATS listeners.
const startTimeout = 10 * time.Second

// Server is one jetmq node: an embedded nats-server with JetStream plus the
// jetmq services. Create it with New, then Start, and Shutdown when done.
type Server struct {
	cfg      *Config
	opts     *natsserver.Options
	plan     *accountPlan
	users    internalUsers
	log      *slog.Logger
	nlog     *natsLogger
	registry *prometheus.Registry
	// newServices builds a tenant's services (default:
	// bridge.DefaultServices for its settings).
	newServices func(account string, st bridge.Settings) ([]bridge.Service, error)
	mappings    *mappingStore

	mu       sync.Mutex
	ns       *natsserver.Server
	nodes    *nodes
	home     *nats.Conn // the nodes' heartbeat connection
	homeAcc  string
	http     *http.Server
	httpAddr string
	tenants  map[string]*tenant
	unserved []TenantHealthDetail // accounts with JetStream jetmq cannot serve
	dash     *dashboard.Handler
	ready    chan struct{}
	notReady string
	// storeLock keeps a second process off the store dir while NATS runs.
	storeLock *storeLock
	rmq       *rocketmq.Service
	rmqConns  []*nats.Conn
	cancel    context.CancelFunc
	// reloadMu serialises reloads with each other and with shutdown.
	reloadMu sync.Mutex
}

// Option customises a Server beyond its Config.
type Option func(*Server)

// WithLogger sets the logger (default: text to stderr at cfg.Log.Level).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithServices replaces the jetmq services the server runs (default:
// bridge.DefaultServices for the config). The services serve one tenant:
// with more than one, Start fails.
func WithServices(svcs ...bridge.Service) Option {
	return func(s *Server) {
		used := false
		s.newServices = func(account string, _ bridge.Settings) ([]bridge.Service, error) {
			if used {
				return nil, fmt.Errorf("account %s: WithServices gives services for one tenant only", account)
			}
			used = true
			return svcs, nil
		}
	}
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
	s := &Server{cfg: cfg, ready: make(chan struct{}), notReady: "starting",
		users: internalUsers{}, mappings: newMappingStore(), tenants: map[string]*tenant{}}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = NewLogger(cfg.Log.Level)
	}
	if s.newServices == nil {
		s.newServices = func(_ string, st bridge.Settings) ([]bridge.Service, error) {
			return bridge.DefaultServices(st), nil
		}
	}
	nopts, plan, err := natsOptions(cfg, s.log, &s.users, nil)
	if err != nil {
		return nil, err
	}
	s.opts, s.plan = nopts, plan
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
	if err := s.startRocketMQ(ctx); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	s.mu.Lock()
	s.notReady = ""
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("jetmq ready", "client", s.ClientURL(), "http", s.HTTPAddr(), "store_dir", s.opts.StoreDir, "server_name", s.ns.Name(), "rocketmq", s.RocketMQAddr())
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
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.mu.Lock() // /metrics may read s.nodes concurrently
	s.nodes = newNodes(s.ns.Name(), s.cfg.NATS.NodeTTL, s.isClustered(), s.log)
	s.mu.Unlock()
	s.nodes.start(runCtx)
	if s.plan.operator {
		s.nodes.wg.Add(1)
		go func() { defer s.nodes.wg.Done(); s.reinstallMappings(runCtx) }()
	}
	s.logPlan(s.plan, true)
	if err := s.rehome(s.plan); err != nil {
		return err
	}
	s.setNotReady("starting tenants")
	if err := s.startTenants(ctx, s.plan.tenants, settingsOf(s.cfg)); err != nil {
		return err
	}
	s.refreshUnserved()
	return nil
}

func (s *Server) setNotReady(reason string) {
	s.mu.Lock()
	s.notReady = reason
	s.mu.Unlock()
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

// Shutdown stops the tenants' services (finishing in-flight work), closes
// the HTTP listener and shuts NATS down, flushing JetStream. It is safe to
// call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	tenants := s.tenants
	s.tenants = map[string]*tenant{}
	s.notReady = "shutting down"
	s.mu.Unlock()
	var errs []error
	if err := s.stopRocketMQ(ctx); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, stopTenants(ctx, tenants)...)
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
	home, ns := s.home, s.ns
	s.home = nil
	s.mu.Unlock()
	if home != nil {
		home.Close()
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

// SingletonActive reports whether this node currently runs singleton name:
// a name as RunSingleton got it, or as a service named it in any tenant
// (see TenantSingletonActive).
func (s *Server) SingletonActive(name string) bool {
	nodes := s.liveness()
	if nodes == nil {
		return false
	}
	if nodes.active(name) {
		return true
	}
	for _, acc := range s.Tenants() {
		if nodes.active(singletonName(acc, name)) {
			return true
		}
	}
	return false
}

// TenantSingletonActive reports whether this node runs the singleton a
// service of account's tenant named name.
func (s *Server) TenantSingletonActive(account, name string) bool {
	nodes := s.liveness()
	return nodes != nil && nodes.active(singletonName(account, name))
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
