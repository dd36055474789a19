package semantics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

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
func (m *orderedMember) prefetch() int { return min(m.cfg.prefetch, OrderedMaxAckPending) }

func (r *partitionRunner) start() {
	go r.run()
}

func (r *partitionRunner) run() {
	defer close(r.done)
	defer r.stopPulling()
	ctx, cancel := context.WithTimeout(r.hctx, r.m.cfg.joinTimeout)
	cons, err := r.m.js.Consumer(ctx, r.m.join.Stream, r.m.join.Consumers[r.partition])
	cancel()
	if err != nil {
		r.m.log.Warn("jetmq: cannot bind to a partition consumer; it will be re-granted", "partition", r.partition, "err", err)
		r.markGap()
		return
	}
	cc, err := cons.Consume(r.receive, jetstream.PullMaxMessages(r.m.prefetch()),
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
	if err != nil {
		r.markGap()
		return
	}
	r.mu.Lock()
	r.cc = cc
	r.mu.Unlock()
	go r.progress()
	r.work()
}

// receive is the Consume callback: it queues the message for work.
func (r *partitionRunner) receive(msg jetstream.Msg) {
	r.held.add(msg)
	select {
	case r.buf <- msg:
	case <-r.quit:
		r.held.done(msg)
	}
}

// work hands the queued messages to the worker, in order.
func (r *partitionRunner) work() {
	w := &partitionWorker{m: r.m, partition: r.partition,
		allowed:   func() bool { return time.Now().UnixNano() < r.validUntil.Load() },
		suspended: func(on bool) { r.m.setSuspended(r.partition, on) }}
	var lastDelivery uint64
	for {
		var msg jetstream.Msg
		select {
		case <-r.quit:
			return
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
			return
		}
		lastDelivery = dseq
		if w.process(r.hctx, msg, md, r.quit) == outcomeStop {
			return
		}
		r.held.done(msg)
		r.mu.Lock()
		r.nextSeq = w.lastSeq + 1
		r.mu.Unlock()
	}
}

func (r *partitionRunner) markGap() {
	r.mu.Lock()
	r.gap = true
	r.mu.Unlock()
	r.m.mu.Lock()
	if r.m.runners[r.partition] == r {
		r.m.revokeLocked(r.partition, r)
	}
	r.m.mu.Unlock()
}

// progress keeps prefetched messages from being redelivered while the
// partition is suspended.
func (r *partitionRunner) progress() {
	every := time.Duration(r.m.join.AckWaitMs) * time.Millisecond / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case now := <-t.C:
			for _, msg := range r.held.older(now.Add(-every), now) {
				_ = msg.InProgress()
			}
		}
	}
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
