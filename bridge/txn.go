package bridge

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"
)

const (
	// txnWorkers is how many goroutines at most wait for transaction
	// requests: reusing them spares each request a fresh goroutine whose
	// stack grows on its way into the JetStream client. They start with
	// the load and leave after txnWorkerIdle without work, so an idle
	// tenant keeps none (256 parked stacks were 1-2 MiB per tenant).
	txnWorkers = 256
	// txnWorkerIdle is how long a worker waits for work before it leaves.
	txnWorkerIdle = 30 * time.Second
	// txnMaxInFlight bounds the requests the coordinator works on at once
	// per node (the workers plus overflow goroutines when all are busy);
	// beyond it, NATS buffers them in the subscription.
	txnMaxInFlight = 2048
)

// txnJob is one request for a worker.
type txnJob struct {
	handle apiHandler
	m      *nats.Msg
}

// TxnService is the transaction coordinator: it stores half messages
// (prepare), records ends and publishes committed messages (commit,
// rollback), and on one node per topic drives the check-back of
// transactions nobody ended (docs/PROTOCOL.md, "Transactions").
//
// Everything lives in the topic's internal stream, so it survives kill -9
// and moves with the stream: a half message is a repeating NATS message
// schedule on $MQ.INT.<topic>.H.<txid>.<part> whose firing is the
// transaction's timer; a commit is one write per message to the outbox
// subject $MQ.INT.<topic>.O.<txid>.<part>.…, guarded by the transaction's
// last sequence and purging its half message in the same write, so it is
// stored exactly once however often a commit is retried, and the outbox
// copy proves the commit; a rollback writes the end record
// $MQ.INT.<topic>.E.<txid>.end, guarded the same way.
type TxnService struct {
	cfg     core.TxnConfig
	topics  *Topics
	h       Host
	nc      *nats.Conn
	log     *slog.Logger
	store   *txnStore
	cache   *txnCache
	metrics *txnMetrics
	gauges  *txnGauges
	// checkLimit paces the check-back of every topic this node drives
	// (transactions.check_rate).
	checkLimit *rate.Limiter

	subs []*nats.Subscription
	jobs chan txnJob
	// workers counts the live workers (at most txnWorkers).
	workers atomic.Int32
	quit    chan struct{} // closed by Stop: idle workers leave
	once    sync.Once
	sem     chan struct{}
	work    sync.WaitGroup
	cancel  context.CancelFunc
	loops   sync.WaitGroup
	now     func() time.Time
}

// NewTxnService returns the transaction coordinator; cfg is the
// transactions section of the configuration (defaults applied here).
func NewTxnService(cfg core.TxnConfig, topics *Topics) *TxnService {
	cfg.SetDefaults()
	return &TxnService{
		cfg: cfg, topics: topics, cache: newTxnCache(), now: time.Now,
		jobs: make(chan txnJob), quit: make(chan struct{}), sem: make(chan struct{}, txnMaxInFlight-txnWorkers),
		// A burst of a tenth of a second: a few due checks go out at once,
		// a storm is spread evenly.
		checkLimit: rate.NewLimiter(rate.Limit(cfg.CheckRate), max(cfg.CheckRate/10, 1)),
	}
}

// Name implements Service.
func (t *TxnService) Name() string { return "transactions" }

// Start implements Service.
func (t *TxnService) Start(ctx context.Context, h Host) error {
	t.h, t.nc, t.log = h, h.Conn(), h.Logger().With("service", "transactions")
	t.store = &txnStore{nc: t.nc, js: h.JetStream()}
	m, err := newTxnMetrics(h.Registerer())
	if err != nil {
		return err
	}
	t.metrics = m
	t.gauges = register(h.Registerer(), &txnGauges{store: t.store})
	for subj, handler := range map[string]apiHandler{
		wire.TxnPrefix + "PREPARE.>":  t.onPrepare,
		wire.TxnPrefix + "COMMIT.>":   t.onEnd,
		wire.TxnPrefix + "ROLLBACK.>": t.onEnd,
		wire.TxnAPIPrefix + ">":       t.onAPI,
	} {
		sub, err := t.nc.QueueSubscribe(subj, wire.ServiceQueue, t.async(handler))
		if err != nil {
			return err
		}
		_ = sub.SetPendingLimits(-1, -1)
		t.subs = append(t.subs, sub)
	}
	lctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.loops.Add(2)
	go t.superviseDrivers(lctx)
	go t.sweepCache(lctx)
	return nil
}

// worker runs first, then further requests until it has waited
// txnWorkerIdle for one, or until Stop. The job channel is never closed, so
// a request arriving during Stop can never send on a closed channel: it
// finds no idle worker and gets a goroutine of its own. A worker that
// leaves on its timer cannot lose a job: a send on the unbuffered channel
// succeeds only into a receive.
func (t *TxnService) worker(first txnJob) {
	defer t.work.Done()
	defer t.workers.Add(-1)
	answer(first.handle, first.m)
	idle := time.NewTimer(txnWorkerIdle)
	defer idle.Stop()
	for {
		select {
		case job := <-t.jobs:
			answer(job.handle, job.m)
			idle.Reset(txnWorkerIdle)
		case <-idle.C:
			return
		case <-t.quit:
			return
		}
	}
}

// Stop implements Service.
func (t *TxnService) Stop(ctx context.Context) error {
	for _, s := range t.subs {
		_ = drainSub(ctx, s)
	}
	t.once.Do(func() { close(t.quit) })
	if t.cancel != nil {
		t.cancel()
	}
	t.loops.Wait()
	done := make(chan struct{})
	go func() { t.work.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// async hands each request to an idle worker, else to a new worker while
// fewer than txnWorkers live, else to a goroutine of its own, so that a slow JetStream write does not hold up the
// requests behind it; at most txnMaxInFlight at once.
func (t *TxnService) async(handler apiHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		job := txnJob{handle: handler, m: m}
		select {
		case t.jobs <- job:
			return
		default:
		}
		if t.workers.Add(1) <= txnWorkers {
			t.work.Add(1)
			go t.worker(job)
			return
		}
		t.workers.Add(-1)
		t.sem <- struct{}{}
		t.work.Add(1)
		go func() {
			defer t.work.Done()
			defer func() { <-t.sem }()
			answer(handler, m)
		}()
	}
}

// superviseDrivers keeps one check driver per topic running as a cluster
// singleton, starting drivers for new topics and stopping those of deleted
// ones.
func (t *TxnService) superviseDrivers(ctx context.Context) {
	defer t.loops.Done()
	running := map[string]context.CancelFunc{}
	defer func() {
		for _, stop := range running {
			stop()
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		seen := map[string]bool{}
		for _, ti := range t.topics.List() {
			seen[ti.Name] = true
			if _, ok := running[ti.Name]; !ok {
				dctx, stop := context.WithCancel(ctx)
				running[ti.Name] = stop
				topic := ti.Name
				t.h.RunSingleton(dctx, "txn."+topic, func(ctx context.Context) { t.drive(ctx, topic) })
			}
		}
		for name, stop := range running {
			if !seen[name] {
				stop()
				delete(running, name)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *TxnService) sweepCache(ctx context.Context) {
	defer t.loops.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.cache.sweep(t.now().Add(-cacheTTL(t.cfg)))
		}
	}
}

// cacheTTL keeps a prepared transaction in memory until its first check is
// due: after that the check driver rewrites it and the copy is stale.
func cacheTTL(cfg core.TxnConfig) time.Duration {
	return min(max(cfg.CheckImmunity, time.Second), time.Minute)
}
