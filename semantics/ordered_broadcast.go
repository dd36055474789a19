package semantics

import (
	"context"
	"fmt"
	"sync"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// orderedBroadcast is a broadcasting member of an ordered group: it reads
// every message from its own durable and processes each partition in
// order (one worker per partition, so a suspended partition holds up only
// itself until its queue is full). No ownership is needed: nobody else
// reads this durable. The broker resets the durable to its ack floor when
// the member joins again, so messages it held unacked come back in order.
type orderedBroadcast struct {
	m       *orderedMember
	cc      jetstream.ConsumeContext
	held    *heldSet
	quit    chan struct{}
	mu      sync.Mutex
	queues  map[int]chan jetstream.Msg
	workers sync.WaitGroup
	done    chan struct{}
}

// broadcastQueue bounds the messages queued for one partition.
const broadcastQueue = 256

func startOrderedBroadcast(ctx context.Context, m *orderedMember) (*orderedBroadcast, error) {
	cons, err := m.js.Consumer(ctx, m.join.Stream, m.join.Consumer)
	if err != nil {
		return nil, fmt.Errorf("jetmq: bind to consumer %s on %s: %w", m.join.Consumer, m.join.Stream, err)
	}
	b := &orderedBroadcast{m: m, held: newHeldSet(), quit: make(chan struct{}), queues: map[int]chan jetstream.Msg{}, done: make(chan struct{})}
	b.cc, err = cons.Consume(b.receive, jetstream.PullMaxMessages(m.cfg.prefetch),
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
	if err != nil {
		return nil, err
	}
	go b.held.keepAlive(m.join.AckWaitMs, b.done)
	return b, nil
}

func (b *orderedBroadcast) receive(msg jetstream.Msg) {
	sm, err := wire.ParseStoredSubject(msg.Subject())
	if err != nil {
		_ = msg.TermWithReason("not a topic subject")
		return
	}
	b.held.add(msg)
	select {
	case b.queue(sm.Partition) <- msg:
	case <-b.quit:
		b.held.done(msg)
	}
}

func (b *orderedBroadcast) queue(p int) chan jetstream.Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[p]
	if q == nil {
		q = make(chan jetstream.Msg, broadcastQueue)
		b.queues[p] = q
		b.workers.Add(1)
		go b.work(p, q)
	}
	return q
}

func (b *orderedBroadcast) work(p int, q chan jetstream.Msg) {
	defer b.workers.Done()
	w := &partitionWorker{m: b.m, partition: p,
		allowed: func() bool {
			select {
			case <-b.quit:
				return false
			default:
				return true
			}
		},
		suspended: func(on bool) { b.m.setSuspended(p, on) }}
	for {
		select {
		case <-b.quit:
			return
		case msg := <-q:
			md, err := msg.Metadata()
			if err != nil {
				b.held.done(msg)
				continue
			}
			out := w.process(b.m.hctx, msg, md, b.quit)
			b.held.done(msg)
			if out == outcomeStop {
				return
			}
		}
	}
}

// stop ends pulling and lets every worker finish the message in hand.
func (b *orderedBroadcast) stop() {
	close(b.quit)
	b.cc.Stop()
	<-b.cc.Closed()
	b.workers.Wait()
	close(b.done)
}
