package rocketmq

import (
	"context"
	"fmt"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
)

const (
	maxBatch        = 64
	maxInvisible    = 12 * time.Hour
	minInvisible    = 100 * time.Millisecond
	pushHandleLife  = 24 * time.Hour
	maxLongPolling  = 60 * time.Second
	responseHeadway = 500 * time.Millisecond // answer before the client's own timeout
)

// receive is one ReceiveMessage call, decoded.
type receive struct {
	c         *client
	topic     string
	group     string
	cfg       core.GroupConfig
	batch     int
	push      bool
	invisible time.Duration
	wait      time.Duration
}

// ReceiveMessage hands out messages of the group: the client is a member
// of jetmq group <group>, pulling from the same durable as NATS members.
// The queue in the request is ignored (any node serves the whole group).
func (e *Endpoint) ReceiveMessage(req *v2.ReceiveMessageRequest, stream grpc.ServerStreamingServer[v2.ReceiveMessageResponse]) error {
	ctx := stream.Context()
	r, st := e.decodeReceive(ctx, req)
	if st != nil {
		return stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: st}})
	}
	var msgs []*v2.Message
	if r.cfg.Ordered {
		msgs, st = e.ordered.receive(ctx, r)
	} else {
		msgs, st = e.receivePlain(ctx, r)
	}
	if st == nil && len(msgs) == 0 && !r.push {
		// Push consumers get OK with no messages instead: the Go client
		// v5.1.4 never decrements its in-flight receive count on
		// MESSAGE_NOT_FOUND, and its graceful stop then waits 30 s.
		st = status(v2.Code_MESSAGE_NOT_FOUND, "no new message")
	}
	if st == nil {
		st = ok()
	}
	if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: st}}); err != nil {
		e.release(msgs)
		return err
	}
	if len(msgs) > 0 {
		if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_DeliveryTimestamp{DeliveryTimestamp: timestamp(time.Now())}}); err != nil {
			e.release(msgs)
			return err
		}
	}
	for i, m := range msgs {
		if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Message{Message: m}}); err != nil {
			e.release(msgs[i:])
			return err
		}
	}
	return nil
}

func (e *Endpoint) decodeReceive(ctx context.Context, req *v2.ReceiveMessageRequest) (*receive, *v2.Status) {
	r := &receive{c: e.clients.touch(ctx), group: req.GetGroup().GetName(), topic: req.GetMessageQueue().GetTopic().GetName(), push: req.GetAutoRenew()}
	tags, st := parseFilter(req.GetFilterExpression())
	if st != nil {
		return nil, st
	}
	cfg, st := e.groups.config(ctx, r.topic, r.group, tags)
	if st != nil {
		return nil, st
	}
	if st := checkFilter(req.GetFilterExpression(), cfg); st != nil {
		return nil, st
	}
	r.cfg = cfg
	r.batch = int(req.GetBatchSize())
	if r.batch < 1 || r.batch > maxBatch {
		return nil, status(v2.Code_BAD_REQUEST, fmt.Sprintf("batch size %d is not in 1-%d", r.batch, maxBatch))
	}
	if !r.push {
		d := req.GetInvisibleDuration()
		if d == nil || d.CheckValid() != nil || d.AsDuration() < minInvisible || d.AsDuration() > maxInvisible {
			return nil, status(v2.Code_ILLEGAL_INVISIBLE_TIME, fmt.Sprintf("invisible duration must be %s-%s", minInvisible, maxInvisible))
		}
		r.invisible = d.AsDuration()
	}
	// The configured long polling is the longest wait: the clients ask for
	// 30 s, and a push consumer's graceful stop waits out its polls.
	r.wait = e.opts.LongPolling
	if lp := req.GetLongPollingTimeout(); lp != nil {
		if lp.CheckValid() != nil || lp.AsDuration() < 0 || lp.AsDuration() > maxLongPolling {
			return nil, status(v2.Code_ILLEGAL_POLLING_TIME, fmt.Sprintf("long polling timeout must be 0-%s", maxLongPolling))
		}
		r.wait = min(r.wait, lp.AsDuration())
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - responseHeadway; left < r.wait {
			r.wait = max(left, 0)
		}
	}
	if r.c != nil {
		e.clients.join(ctx, r.c, r.topic, r.group)
	}
	return r, nil
}

// receivePlain pulls from the clustering durable: a no-wait fetch, then a
// waiting fetch of one message, then whatever else is there at once.
func (e *Endpoint) receivePlain(ctx context.Context, r *receive) ([]*v2.Message, *v2.Status) {
	cons, err := e.consumer(ctx, r.topic, r.group)
	if err != nil {
		return nil, statusOf(err, v2.Code_CONSUMER_GROUP_NOT_FOUND, fmt.Sprintf("consumer of group %q of topic %q", r.group, r.topic))
	}
	got := Fetch(cons, r.batch, 0)
	if len(got) == 0 && r.wait > 0 {
		got = Fetch(cons, 1, r.wait)
		if len(got) > 0 && r.batch > 1 {
			got = append(got, Fetch(cons, r.batch-1, 0)...)
		}
	}
	out := make([]*v2.Message, 0, len(got))
	for _, m := range got {
		if ctx.Err() != nil {
			_ = m.Nak()
			continue
		}
		if v := e.deliver(r, m); v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// pullHeartbeat is how often the server shows a waiting pull is alive. A
// pull sent to a consumer leader that then died is lost; nats.go notices
// after two missed heartbeats (its own default is 5 s for pulls of 10 s or
// more), so a long poll ends within 2 s instead of 10 and the client's next
// receive finds the new leader.
const pullHeartbeat = time.Second

// Fetch pulls up to n messages, waiting up to wait (0: no wait). The
// bench's plain reference proxy pulls with it too, so that the two pull
// alike.
func Fetch(cons jetstream.Consumer, n int, wait time.Duration) []jetstream.Msg {
	var batch jetstream.MessageBatch
	var err error
	if wait <= 0 {
		batch, err = cons.FetchNoWait(n)
	} else {
		opts := []jetstream.FetchOpt{jetstream.FetchMaxWait(wait)}
		if wait >= 2*pullHeartbeat {
			opts = append(opts, jetstream.FetchHeartbeat(pullHeartbeat))
		}
		batch, err = cons.Fetch(n, opts...)
	}
	if err != nil {
		return nil
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// deliver turns one pulled message into what the client gets: it is
// dead-lettered instead when its attempts are used up, made invisible for
// the simple consumer's duration, or kept alive for a push consumer.
func (e *Endpoint) deliver(r *receive, m jetstream.Msg) *v2.Message {
	md, err := m.Metadata()
	if err != nil {
		_ = m.Nak()
		return nil
	}
	if wire.ResentForAnother(m.Headers(), r.group) {
		_ = m.Ack() // an operator's resend for another group
		return nil
	}
	attempt := int(md.NumDelivered)
	if d := core.PolicyOf(r.cfg).OnDelivery(attempt); d.Action == core.ActionDeadLetter {
		e.deadLetter(context.Background(), r.cfg, m.Subject(), md.Sequence.Stream, attempt, d.Reason, m.Headers(), m.Data(), m.Reply())
		return nil
	}
	h := Handle{Topic: r.topic, Group: r.group, Consumer: md.Consumer, Reply: m.Reply(), Subject: m.Subject(), Seq: md.Sequence.Stream, Attempt: attempt, Push: r.push}
	if r.push {
		h.Deadline = time.Now().Add(pushHandleLife).UnixMilli()
		clientID := ""
		if r.c != nil {
			clientID = r.c.id
		}
		e.inflight.add(m.Reply(), clientID, time.Duration(r.cfg.SessionTimeout))
	} else {
		h.Deadline = time.Now().Add(r.invisible).UnixMilli()
		// A delayed nak is an exact invisibility: JetStream redelivers
		// after it unless an ack (which still works) comes first.
		if err := m.NakWithDelay(r.invisible); err != nil {
			return nil
		}
	}
	v, err := FromNATS(Incoming{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Seq: md.Sequence.Stream, Stored: md.Timestamp,
		Attempt: attempt, FIFO: r.cfg.Ordered, Handle: e.signer.Sign(h), Invisible: r.invisible})
	if err != nil {
		e.log.Warn("rocketmq: message not on a stored subject, terminated for the group", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return nil
	}
	return v
}

// release puts back messages a client did not get (its stream broke).
func (e *Endpoint) release(msgs []*v2.Message) {
	now := time.Now()
	for _, m := range msgs {
		h, err := e.signer.Parse(m.GetSystemProperties().GetReceiptHandle(), now)
		if err != nil {
			continue
		}
		if h.Node != "" {
			e.ordered.settle(h, settleRetry)
			continue
		}
		e.inflight.remove(h.Reply)
		_ = e.nc.Publish(h.Reply, []byte("-NAK"))
	}
}

// consumer returns the group durable's handle, cached briefly.
func (e *Endpoint) consumer(ctx context.Context, topic, group string) (jetstream.Consumer, error) {
	key := topic + "." + group
	e.consMu.Lock()
	c, ok := e.cons[key]
	e.consMu.Unlock()
	if ok && time.Since(c.at) < cacheTTL {
		return c.c, nil
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	cons, err := e.js.Consumer(cctx, topic, wire.ClusteringConsumer(group))
	if err != nil {
		return nil, err
	}
	e.consMu.Lock()
	e.cons[key] = cachedConsumer{c: cons, at: time.Now()}
	e.consMu.Unlock()
	return cons, nil
}

type cachedConsumer struct {
	c  jetstream.Consumer
	at time.Time
}

// consumerCache is embedded in Endpoint.
type consumerCache struct {
	consMu sync.Mutex
	cons   map[string]cachedConsumer
}
