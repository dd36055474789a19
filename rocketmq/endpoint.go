package rocketmq

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Endpoint serves the RocketMQ calls of one principal: an access key, or
// the unsigned clients. Every action of its clients runs on nc, the
// principal's NATS connection (the NATS user the access key maps to, so
// NATS permissions apply as to any NATS client); what the endpoint keeps
// for itself (handle secret, routes, ordered settles) goes through the
// account's space and jetmq's own connection there.
type Endpoint struct {
	v2.UnimplementedMessagingServiceServer
	consumerCache

	opts   Options
	nc     *nats.Conn
	js     jetstream.JetStream
	log    *slog.Logger
	space  *space
	key    string // access key; "" for the unsigned clients
	signer *Signer
	routes *routes

	clients  *clients
	topics   *topicCache
	groups   *groupCache
	checks   *checks
	inflight *inflight
	ordered  *orderedGroups

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newEndpoint(sp *space, key string, nc *nats.Conn, log *slog.Logger) (*Endpoint, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{opts: sp.opts, nc: nc, js: js, log: log, space: sp, key: key}
	e.cons = map[string]cachedConsumer{}
	e.clients = newClients(e)
	e.topics = newTopicCache(nc)
	e.groups = newGroupCache(e)
	e.checks = newChecks(e)
	e.inflight = newInflight(e)
	e.ordered = newOrderedGroups(e)
	return e, nil
}

// start runs the endpoint's background work, once its space has started.
func (e *Endpoint) start() {
	e.signer, e.routes = e.space.signer, e.space.routes
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.spawn(e.inflight.keepAliveLoop)
	e.spawn(e.clients.expireLoop)
}

func (e *Endpoint) spawn(f func()) {
	e.wg.Add(1)
	go func() { defer e.wg.Done(); f() }()
}

// orderedMember is the member id this endpoint's ordered groups join
// with: one per node, and per access key, as two keys of one account may
// consume the same FIFO group through one node.
func (e *Endpoint) orderedMember() string {
	if e.key == "" {
		return memberID(e.opts.Node)
	}
	return memberID(e.opts.Node + "@" + e.key)
}

// stop leaves the groups the clients were in and stops the background
// work; the calls have ended before.
func (e *Endpoint) stop(ctx context.Context) {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.clients.closeAll()
	e.ordered.stopAll(ctx)
	e.wg.Wait()
}

// space is one account's share of the endpoint: jetmq's own connection
// there (the guard denies users jetmq's bucket and $MQ.SYS), the receipt
// handle secret of the account, the routes its clients are given, and the
// subject other nodes settle ordered deliveries on. Handles are signed
// with the account's secret, so one account's handle means nothing in
// another.
type space struct {
	name      string
	opts      Options
	nc        *nats.Conn
	js        jetstream.JetStream
	log       *slog.Logger
	signer    *Signer
	routes    *routes
	settle    *nats.Subscription
	endpoints []*Endpoint
}

func newSpace(a Account, opts Options) (*space, error) {
	js, err := jetstream.New(a.Conn)
	if err != nil {
		return nil, err
	}
	return &space{name: a.Name, opts: opts, nc: a.Conn, js: js, log: opts.Log.With("service", "rocketmq", "account", a.Name)}, nil
}

// start loads the account's handle secret and starts announcing this
// node's endpoint (addr) to the account's clients.
func (sp *space) start(ctx context.Context, addr string) error {
	secret, err := sp.loadSecret(ctx)
	if err != nil {
		return errors.Join(errors.New("receipt handle secret of account "+sp.name), err)
	}
	if sp.signer, err = NewSigner(secret); err != nil {
		return err
	}
	sp.settle, err = sp.nc.Subscribe(SettleSubjectPrefix+sp.opts.Node, sp.onSettle)
	if err != nil {
		return err
	}
	sp.routes = newRoutes(sp.nc, sp.opts, addr)
	return sp.routes.start()
}

func (sp *space) stop() {
	if sp.routes != nil {
		sp.routes.stop()
	}
	if sp.settle != nil {
		_ = sp.settle.Unsubscribe()
	}
}

// onSettle applies another node's settle of an ordered delivery held
// here, by whichever of the account's endpoints holds it.
func (sp *space) onSettle(m *nats.Msg) {
	r, ok := parseSettle(m.Data)
	if !ok {
		_ = m.Respond([]byte("bad request"))
		return
	}
	for _, e := range sp.endpoints {
		if e.ordered.settle(Handle{Topic: r.Topic, Group: r.Group, Reply: r.ID}, r.Kind) {
			_ = m.Respond([]byte("ok"))
			return
		}
	}
	_ = m.Respond([]byte("gone"))
}

const (
	secretBucket = "jetmq_rocketmq"
	secretKey    = "handle_secret"
)

// loadSecret reads the receipt-handle secret every node shares from the KV
// bucket jetmq_rocketmq, creating it (first writer wins) if absent.
func (sp *space) loadSecret(ctx context.Context) ([]byte, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		secret, err := sp.trySecret(ctx)
		if err == nil || time.Now().After(deadline) {
			return secret, err
		}
		sp.log.Debug("rocketmq secret not readable yet", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (sp *space) trySecret(ctx context.Context) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := sp.js.KeyValue(cctx, secretBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		r := 1
		if sp.opts.Clustered {
			r = 3
		}
		kv, err = sp.js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: secretBucket, Description: "jetmq RocketMQ endpoint state", Replicas: r, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = sp.js.KeyValue(cctx, secretBucket)
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
