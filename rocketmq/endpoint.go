package rocketmq

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Options configure an Endpoint.
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
}

// DefaultLongPolling is the receive wait when none is configured.
const DefaultLongPolling = 20 * time.Second

// Endpoint is one node's RocketMQ gRPC service.
type Endpoint struct {
	v2.UnimplementedMessagingServiceServer
	consumerCache

	opts    Options
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	signer  *Signer
	metrics *metrics
	grpc    *grpc.Server
	ln      net.Listener
	addr    string

	clients  *clients
	routes   *routes
	topics   *topicCache
	groups   *groupCache
	checks   *checks
	inflight *inflight
	ordered  *orderedGroups

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed error
}

// New prepares an endpoint that talks to jetmq through nc.
func New(nc *nats.Conn, opts Options) (*Endpoint, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.LongPolling <= 0 {
		opts.LongPolling = DefaultLongPolling
	}
	if opts.NodeTTL <= 0 {
		opts.NodeTTL = 1500 * time.Millisecond
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{opts: opts, nc: nc, js: js, log: opts.Log.With("service", "rocketmq")}
	e.cons = map[string]cachedConsumer{}
	e.metrics = newMetrics(opts.Registerer)
	e.clients = newClients(e)
	e.topics = newTopicCache(nc)
	e.groups = newGroupCache(e)
	e.checks = newChecks(e)
	e.inflight = newInflight(e)
	e.ordered = newOrderedGroups(e)
	return e, nil
}

// Start loads the shared handle secret, opens the listener and serves.
func (e *Endpoint) Start(ctx context.Context) error {
	secret, err := e.loadSecret(ctx)
	if err != nil {
		return fmt.Errorf("receipt handle secret: %w", err)
	}
	if e.signer, err = NewSigner(secret); err != nil {
		return err
	}
	ln, err := e.listen()
	if err != nil {
		return err
	}
	e.ln, e.addr = ln, ln.Addr().String()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.routes = newRoutes(e)
	if err := e.routes.start(); err != nil {
		ln.Close()
		return err
	}
	e.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(e.metrics.unary, recoverUnary(e.log)),
		grpc.ChainStreamInterceptor(e.metrics.stream, recoverStream(e.log)),
		grpc.MaxRecvMsgSize(int(e.nc.MaxPayload())*2+(1<<20)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	v2.RegisterMessagingServiceServer(e.grpc, e)
	e.spawn(e.inflight.keepAliveLoop)
	e.spawn(e.clients.expireLoop)
	e.spawn(func() {
		if err := e.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			e.mu.Lock()
			e.failed = err
			e.mu.Unlock()
			e.log.Error("rocketmq listener stopped", "err", err)
		}
	})
	e.log.Info("rocketmq endpoint listening", "addr", e.addr, "plaintext", e.opts.Plaintext)
	return nil
}

func (e *Endpoint) spawn(f func()) {
	e.wg.Add(1)
	go func() { defer e.wg.Done(); f() }()
}

// Addr is the bound listen address.
func (e *Endpoint) Addr() string { return e.addr }

// Health is nil while the listener serves.
func (e *Endpoint) Health() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failed != nil {
		return fmt.Errorf("rocketmq listener: %w", e.failed)
	}
	if e.ln == nil {
		return errors.New("rocketmq listener not started")
	}
	return nil
}

// Stop ends every stream and call, leaves the groups the clients were in
// and stops the background work.
func (e *Endpoint) Stop(ctx context.Context) error {
	if e.grpc == nil {
		return nil
	}
	e.cancel()
	done := make(chan struct{})
	go func() { e.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.grpc.Stop()
	case <-time.After(2 * time.Second):
		// Long polls and telemetry streams would hold a graceful stop.
		e.grpc.Stop()
	}
	<-done // Stop ends GracefulStop too
	e.clients.closeAll()
	e.ordered.stopAll(ctx)
	e.routes.stop()
	e.wg.Wait()
	return nil
}

const (
	secretBucket = "jetmq_rocketmq"
	secretKey    = "handle_secret"
)

// loadSecret reads the receipt-handle secret every node shares from the KV
// bucket jetmq_rocketmq, creating it (first writer wins) if absent.
func (e *Endpoint) loadSecret(ctx context.Context) ([]byte, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		secret, err := e.trySecret(ctx)
		if err == nil || time.Now().After(deadline) {
			return secret, err
		}
		e.log.Debug("rocketmq secret not readable yet", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (e *Endpoint) trySecret(ctx context.Context) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := e.js.KeyValue(cctx, secretBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		r := 1
		if e.opts.Clustered {
			r = 3
		}
		kv, err = e.js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: secretBucket, Description: "jetmq RocketMQ endpoint state", Replicas: r, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = e.js.KeyValue(cctx, secretBucket)
		}
	}
	if err != nil {
		return nil, err
	}
	if ent, err := kv.Get(cctx, secretKey); err == nil {
		return ent.Value(), nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if _, err := kv.Create(cctx, secretKey, secret); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, err
	}
	ent, err := kv.Get(cctx, secretKey)
	if err != nil {
		return nil, err
	}
	return ent.Value(), nil
}
