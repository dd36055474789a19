package bridge

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
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
	topics *Topics
	js     jetstream.JetStream
	nc     *nats.Conn
	log    *slog.Logger
	sub    *nats.Subscription
	// maxPayload is the server's max_payload (messages that do not fit
	// with the schedule's headers are refused with 413).
	maxPayload int64
	now        func() time.Time
	pending    chan *delayedPublish // stored asynchronously, answered in order (pointers: the window's buffer is 32 KiB per tenant, not 4096 structs)
	done       chan struct{}
}

// delayedPublish is a delayed message being stored.
type delayedPublish struct {
	req   *nats.Msg
	topic string
	ack   jetstream.PubAckFuture
	p     int
	at    time.Time
	id    string
}

// delayWindow bounds the delayed publishes stored concurrently; the request
// handler blocks (and NATS buffers requests) while it is full.
const delayWindow = 4096

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
	d.js, d.nc, d.log, d.maxPayload = js, h.Conn(), h.Logger().With("service", "delay"), h.Conn().MaxPayload()
	d.pending, d.done = make(chan *delayedPublish, delayWindow), make(chan struct{})
	go d.answer()
	sub, err := h.Conn().QueueSubscribe(wire.DelayPrefix+">", wire.ServiceQueue, d.onDelay)
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
			if ack.Duplicate {
				p.id = d.storedID(p.topic, ack.Sequence)
			}
			// The reply names the topic: the schedule's own stream (%INT%T)
			// is jetmq's business, and the message will be on stream T.
			respondJSON(p.req, wire.DelayReply{Stream: p.topic, Seq: ack.Sequence, Partition: p.p, DeliverAt: p.at.UTC(), Duplicate: ack.Duplicate, ID: p.id})
		case err := <-p.ack.Err():
			respondAPIError(p.req, storeError("store delayed message", err))
		}
	}
}

func (d *Delay) onDelay(m *nats.Msg) {
	req, aerr := wire.ParseDelay(m.Subject, m.Header)
	if aerr != nil {
		respondAPIError(m, aerr)
		return
	}
	ti, ok := d.topics.Lookup(req.Topic)
	if !ok {
		respondAPIError(m, errTopicNotFound(req.Topic))
		return
	}
	if err := checkStoredSize(m, d.maxPayload, "delayed message"); err != nil {
		respondAPIError(m, err)
		return
	}
	now := d.now()
	at, err := wire.DeliveryTime(m.Header.Get(wire.HeaderDeliverAt), m.Header.Get(wire.HeaderDelay), now, ti.MaxDelay)
	if err != nil {
		respondAPIError(m, errBadRequest("%v", err))
		return
	}
	p := core.Partition(req.Key, ti.Partitions)
	id := nuid.Next()
	ack, err := d.js.PublishMsgAsync(scheduledMsg(req, m, id, p, at))
	if err != nil {
		respondAPIError(m, storeError("store delayed message", err))
		return
	}
	d.pending <- &delayedPublish{req: m, topic: req.Topic, ack: ack, p: p, at: at, id: id}
}

// scheduledMsg is the schedule id that delivers in (a delayed publish of
// req) to partition p at its time.
func scheduledMsg(req wire.DelayRequest, in *nats.Msg, id string, p int, at time.Time) *nats.Msg {
	out := nats.NewMsg(wire.DelaySubject(req.Topic, id))
	for k, v := range in.Header {
		if k != wire.HeaderDelay {
			out.Header[k] = v
		}
	}
	out.Header.Set(wire.HeaderDeliverAt, at.UTC().Format(time.RFC3339Nano))
	out.Header.Set(hdrSchedule, wire.ScheduleAt(at))
	out.Header.Set(hdrScheduleTarget, wire.OutboxSubject(req.Topic, p, req.Key, req.Tag))
	out.Data = in.Data
	return out
}

// storedID is the id of the schedule stored at seq of topic's internal
// stream: a duplicate publish answers with the first one's id.
func (d *Delay) storedID(topic string, seq uint64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	page, err := jsapi.DirectGet(ctx, d.nc, wire.InternalStream(topic), jsapi.MsgGetRequest{Seq: seq})
	if err != nil || len(page.Msgs) == 0 {
		return "" // fired already, or not readable: no id to cancel by
	}
	return strings.TrimPrefix(page.Msgs[0].Header.Get("Nats-Subject"), wire.DelaySubject(topic, ""))
}
