package semantics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// partitionRunner consumes one granted partition at one epoch: it pulls
// from the partition's consumer (prefetching, so throughput does not fall
// to one message per round trip) and hands the messages to a
// partitionWorker in stream order, checking the lease before each one.
//
// Fencing on the data side: the coordinator reset the consumer right
// before the grant, so the deliveries of this epoch carry consumer
// sequences 1, 2, 3, … A jump means a delivery went to somebody else (a
// pull left over from a previous owner): the runner stops and asks for
// the partition to be fenced again, rather than handing out a message
// whose predecessor it never saw.
type partitionRunner struct {
	m         *orderedMember
	partition int
	epoch     uint64
	revoked   bool // guarded by m.mu
	// validUntil is the lease end in Unix nanoseconds (0: revoked or
	// dropped); the worker checks it before every message.
	validUntil atomic.Int64

	buf     chan jetstream.Msg
	held    *heldSet
	quit    chan struct{} // closed: stop after the message in hand
	hctx    context.Context
	hcancel context.CancelFunc
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex
	cc      jetstream.ConsumeContext
	nextSeq uint64 // after the last message acked or dead-lettered
	gap     bool
}

func newPartitionRunner(m *orderedMember, p int, epoch uint64) *partitionRunner {
	r := &partitionRunner{m: m, partition: p, epoch: epoch, buf: make(chan jetstream.Msg, m.prefetch()),
		held: newHeldSet(), quit: make(chan struct{}), done: make(chan struct{})}
	r.hctx, r.hcancel = context.WithCancel(m.hctx)
	return r
}

// prefetch is how many messages a runner asks for ahead of its handler.
func (m *orderedMember) prefetch() int { return min(m.cfg.prefetch, wire.OrderedMaxAckPending) }

func (r *partitionRunner) start() {
	go r.run()
}

// run pulls and works until the runner is stopped, or until it cannot go
// on: the lease ran out, the pull ended by itself (JetStream closes it
// when the consumer is deleted), binding kept failing, or a delivery gap.
// Then it gives the partition up instead of holding a lease nobody pulls.
func (r *partitionRunner) run() {
	defer close(r.done)
	defer r.stopPulling()
	defer r.signalQuit() // unblocks a Consume callback waiting in receive
	cc, err := r.consume()
	if err != nil {
		r.m.log.Warn("jetmq: cannot pull a partition; giving it up", "topic", r.m.topic, "group", r.m.group, "partition", r.partition, "err", err)
		r.giveUp(true)
		return
	}
	r.mu.Lock()
	r.cc = cc
	r.mu.Unlock()
	go r.held.keepAlive(r.m.join.AckWaitMs, r.done)
	if pullEnded := r.work(cc.Closed()); pullEnded {
		r.m.log.Warn("jetmq: the pull of a partition ended; giving it up to be fenced again", "topic", r.m.topic, "group", r.m.group, "partition", r.partition)
		r.giveUp(true)
		return
	}
	r.giveUp(false) // a no-op when stopped through finish or abandon
}

// Pull timing of a partition runner: JetStream sends an idle heartbeat on
// a waiting pull every orderedPullHeartbeat, so a pull lost with a dead
// consumer leader is noticed and renewed after two of them instead of
// the client's default 30 s.
const (
	orderedPullExpiry    = 5 * time.Second
	orderedPullHeartbeat = time.Second
)

// consume binds to the partition's consumer and starts pulling, retrying
// with backoff while the lease lasts (during a JetStream leader election
// binding fails for a few seconds).
func (r *partitionRunner) consume() (jetstream.ConsumeContext, error) {
	backoff := 50 * time.Millisecond
	for {
		cc, err := r.tryConsume()
		if err == nil {
			return cc, nil
		}
		if !r.leaseValid(time.Now().Add(backoff)) {
			return nil, err
		}
		select {
		case <-r.quit:
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (r *partitionRunner) tryConsume() (jetstream.ConsumeContext, error) {
	ctx, cancel := context.WithDeadline(r.hctx, time.Unix(0, r.validUntil.Load()))
	defer cancel()
	cons, err := r.m.js.Consumer(ctx, r.m.join.Stream, r.m.join.Consumers[r.partition])
	if err != nil {
		return nil, err
	}
	return cons.Consume(r.receive, jetstream.PullMaxMessages(r.m.prefetch()),
		jetstream.PullExpiry(orderedPullExpiry), jetstream.PullHeartbeat(orderedPullHeartbeat),
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
}

// leaseValid reports whether the runner's lease still holds at t.
func (r *partitionRunner) leaseValid(t time.Time) bool { return t.UnixNano() < r.validUntil.Load() }

// receive is the Consume callback: it queues the message for work.
func (r *partitionRunner) receive(msg jetstream.Msg) {
	r.held.add(msg)
	select {
	case r.buf <- msg:
	case <-r.quit:
		r.held.done(msg)
	}
}

// work hands the queued messages to the worker, in order. It reports
// true when it ended because the pull ended (pullClosed).
func (r *partitionRunner) work(pullClosed <-chan struct{}) (pullEnded bool) {
	w := &partitionWorker{m: r.m, partition: r.partition,
		allowed:   func() bool { return r.leaseValid(time.Now()) },
		suspended: func(on bool) { r.m.setSuspended(r.partition, on) }}
	var lastDelivery uint64
	for {
		var msg jetstream.Msg
		select {
		case <-r.quit:
			return false
		case <-pullClosed:
			return true
		case msg = <-r.buf:
		}
		md, err := msg.Metadata()
		if err != nil {
			r.held.done(msg)
			continue
		}
		dseq := md.Sequence.Consumer
		if dseq > lastDelivery+1 {
			r.markGap()
			return false
		}
		lastDelivery = dseq
		if w.process(r.hctx, msg, md, r.quit) == outcomeStop {
			return false
		}
		r.held.done(msg)
		r.mu.Lock()
		r.nextSeq = w.lastSeq + 1
		r.mu.Unlock()
	}
}

// markGap gives the partition up and asks for a fresh fence.
func (r *partitionRunner) markGap() { r.giveUp(true) }

// giveUp releases the partition when the runner ended by itself while
// the member still lists it (a graceful revoke or a drop already took
// it off the list): the coordinator then fences it and grants it again.
// refence says the consumer's deliveries can no longer be trusted.
func (r *partitionRunner) giveUp(refence bool) {
	if refence {
		r.mu.Lock()
		r.gap = true
		r.mu.Unlock()
	}
	r.m.mu.Lock()
	if r.m.runners[r.partition] == r {
		r.m.revokeLocked(r.partition, r)
	}
	r.m.mu.Unlock()
}

// stopPulling ends the pull subscription and waits until its inbox is
// gone, so no pull of this runner is left at the server.
func (r *partitionRunner) stopPulling() {
	r.mu.Lock()
	cc := r.cc
	r.cc = nil
	r.mu.Unlock()
	if cc == nil {
		return
	}
	cc.Stop()
	select {
	case <-cc.Closed():
	case <-time.After(5 * time.Second):
	}
	_ = r.m.nc.FlushTimeout(5 * time.Second)
}

func (r *partitionRunner) signalQuit() { r.once.Do(func() { close(r.quit) }) }

// finish stops the runner after the message in hand (acked or
// abandoned), flushes its acks and returns where the next owner starts
// and whether the partition needs a fresh fence.
func (r *partitionRunner) finish() (nextSeq uint64, gap bool) {
	r.signalQuit()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextSeq, r.gap
}

// abandon stops the runner at once: the handler's context is cancelled.
func (r *partitionRunner) abandon() {
	r.hcancel()
	r.signalQuit()
	<-r.done
}
