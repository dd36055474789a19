package bridge

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Headers of NATS message schedules (ADR-51).
const (
	hdrSchedule       = "Nats-Schedule"
	hdrScheduleTarget = "Nats-Schedule-Target"
)

// Delay serves $MQ.DELAY.<topic>.<key>[.<tag>]: it stores the message in the
// topic's internal stream as a NATS message schedule on its own subject
// $MQ.INT.<topic>.D.<id>, targeting the outbox subject of its partition.
// The schedule is a durable, replicated timer: the stream leader fires it
// (after restarts and leader moves too), which writes the message to the
// outbox and purges the schedule; the topic stream sources the outbox, so
// the message appears once on its partition subject.
type Delay struct {
	topics  *Topics
	js      jetstream.JetStream
	log     *slog.Logger
	sub     *nats.Subscription
	now     func() time.Time
	pending chan delayedPublish // stored asynchronously, answered in order
	done    chan struct{}
}

// delayedPublish is a delayed message being stored.
type delayedPublish struct {
	req *nats.Msg
	ack jetstream.PubAckFuture
	p   int
	at  time.Time
}

// delayWindow bounds the delayed publishes stored concurrently; the request
// handler blocks (and NATS buffers requests) while it is full.
const delayWindow = 4096

// DelayReply answers a delayed publish.
type DelayReply struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Partition int       `json:"partition"`
	DeliverAt time.Time `json:"deliver_at"`
	Duplicate bool      `json:"duplicate,omitempty"`
}

// NewDelay returns the delayed-delivery service.
func NewDelay(topics *Topics) *Delay { return &Delay{topics: topics, now: time.Now} }

// Name implements Service.
func (d *Delay) Name() string { return "delay" }

// Start implements Service.
func (d *Delay) Start(ctx context.Context, h Host) error {
	js, err := jetstream.New(h.Conn(), jetstream.WithPublishAsyncMaxPending(delayWindow))
	if err != nil {
		return err
	}
	d.js, d.log = js, h.Logger().With("service", "delay")
	d.pending, d.done = make(chan delayedPublish, delayWindow), make(chan struct{})
	go d.answer()
	sub, err := h.Conn().QueueSubscribe(semantics.DelayPrefix+">", semantics.ServiceQueue, d.onDelay)
	d.sub = sub
	return err
}

// Stop implements Service: it stops intake and answers what is in flight.
func (d *Delay) Stop(ctx context.Context) error {
	err := drainSub(ctx, d.sub)
	if d.pending != nil {
		close(d.pending)
		<-d.done
	}
	return err
}

// answer replies to each delayed publish once JetStream acknowledged it.
func (d *Delay) answer() {
	defer close(d.done)
	for p := range d.pending {
		select {
		case ack := <-p.ack.Ok():
			respondJSON(p.req, DelayReply{Stream: ack.Stream, Seq: ack.Sequence, Partition: p.p, DeliverAt: p.at.UTC(), Duplicate: ack.Duplicate})
		case err := <-p.ack.Err():
			respondError(p.req, 503, "store delayed message: %v", err)
		}
	}
}

func (d *Delay) onDelay(m *nats.Msg) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, semantics.DelayPrefix), ".")
	if len(toks) < 2 || len(toks) > 3 {
		respondError(m, 400, "subject %q: want $MQ.DELAY.<topic>.<key>[.<tag>]", m.Subject)
		return
	}
	topic, key, tag := toks[0], toks[1], ""
	if len(toks) == 3 {
		tag = toks[2]
	}
	ti, ok := d.topics.Lookup(topic)
	if !ok {
		respondError(m, 404, "topic %q not found", topic)
		return
	}
	now := d.now()
	at, err := semantics.DeliveryTime(m.Header.Get(semantics.HeaderDeliverAt), m.Header.Get(semantics.HeaderDelay), now, ti.MaxDelay)
	if err != nil {
		respondError(m, 400, "%v", err)
		return
	}
	p := semantics.Partition(key, ti.Partitions)
	out := nats.NewMsg(semantics.InternalPrefix + topic + ".D." + nuid.Next())
	for k, v := range m.Header {
		if k != semantics.HeaderDelay {
			out.Header[k] = v
		}
	}
	out.Header.Set(semantics.HeaderDeliverAt, at.UTC().Format(time.RFC3339Nano))
	out.Header.Set(hdrSchedule, semantics.ScheduleAt(at))
	out.Header.Set(hdrScheduleTarget, semantics.OutboxSubject(topic, p, key, tag))
	out.Data = m.Data
	ack, err := d.js.PublishMsgAsync(out)
	if err != nil {
		respondError(m, 503, "store delayed message: %v", err)
		return
	}
	d.pending <- delayedPublish{req: m, ack: ack, p: p, at: at}
}
