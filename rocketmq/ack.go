package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// ackTimeout bounds JetStream's confirmation of an ack.
const ackTimeout = 3 * time.Second

// handleFor parses a receipt handle and checks it belongs to the group and
// topic the request names.
func (e *Endpoint) handleFor(raw, topic, group string) (Handle, *v2.Status) {
	h, err := e.signer.Parse(raw, time.Now())
	if err != nil {
		msg := "invalid receipt handle: " + err.Error()
		if errors.Is(err, ErrHandleExpired) {
			msg = "receipt handle expired: its invisible duration is over and the message may have gone to another consumer"
		}
		return h, status(v2.Code_INVALID_RECEIPT_HANDLE, msg)
	}
	if h.Topic != topic || h.Group != group {
		return h, status(v2.Code_INVALID_RECEIPT_HANDLE, fmt.Sprintf("receipt handle belongs to group %q of topic %q, not group %q of topic %q", h.Group, h.Topic, group, topic))
	}
	return h, nil
}

// AckMessage acknowledges deliveries by their receipt handles, on any node.
func (e *Endpoint) AckMessage(ctx context.Context, req *v2.AckMessageRequest) (*v2.AckMessageResponse, error) {
	e.clients.touch(ctx)
	resp := &v2.AckMessageResponse{Status: ok()}
	if len(req.GetEntries()) == 0 {
		resp.Status = status(v2.Code_BAD_REQUEST, "no entries to acknowledge")
		return resp, nil
	}
	for _, en := range req.GetEntries() {
		st := e.ackOne(ctx, en.GetReceiptHandle(), req.GetTopic().GetName(), req.GetGroup().GetName())
		if st == nil {
			st = ok()
		} else if resp.Status.GetCode() == v2.Code_OK {
			resp.Status = st
		}
		resp.Entries = append(resp.Entries, &v2.AckMessageResultEntry{MessageId: en.GetMessageId(), ReceiptHandle: en.GetReceiptHandle(), Status: st})
	}
	return resp, nil
}

func (e *Endpoint) ackOne(ctx context.Context, raw, topic, group string) *v2.Status {
	h, st := e.handleFor(raw, topic, group)
	if st != nil {
		return st
	}
	if h.Node != "" {
		return e.ordered.settleAnywhere(ctx, h, settleAck)
	}
	e.inflight.remove(h.Reply)
	return ackStatus(requestWatched(ctxTimeout(ctx, ackTimeout), e.nc, &nats.Msg{Subject: h.Reply, Data: []byte("+ACK")}))
}

func ctxTimeout(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	time.AfterFunc(d, cancel)
	return c
}

func ackStatus(_ *nats.Msg, err error) *v2.Status {
	if err == nil {
		return nil
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return status(v2.Code_INVALID_RECEIPT_HANDLE, "the group's consumer no longer exists (group deleted?)")
	}
	return statusOf(err, v2.Code_NOT_FOUND, "acknowledge")
}

// ChangeInvisibleDuration hides a delivery for the given time with a
// delayed nak; a push consumer's failure on its last attempt sends the
// message to the DLQ instead, as the group's retry policy says.
func (e *Endpoint) ChangeInvisibleDuration(ctx context.Context, req *v2.ChangeInvisibleDurationRequest) (*v2.ChangeInvisibleDurationResponse, error) {
	e.clients.touch(ctx)
	topic, group := req.GetTopic().GetName(), req.GetGroup().GetName()
	h, st := e.handleFor(req.GetReceiptHandle(), topic, group)
	if st != nil {
		return &v2.ChangeInvisibleDurationResponse{Status: st}, nil
	}
	d := req.GetInvisibleDuration()
	if d == nil || d.CheckValid() != nil || d.AsDuration() < 0 || d.AsDuration() > maxInvisible {
		return &v2.ChangeInvisibleDurationResponse{Status: status(v2.Code_ILLEGAL_INVISIBLE_TIME, fmt.Sprintf("invisible duration must be 0-%s", maxInvisible))}, nil
	}
	cfg, st := e.groups.config(ctx, topic, group, nil)
	if st != nil {
		return &v2.ChangeInvisibleDurationResponse{Status: st}, nil
	}
	if h.Node != "" {
		return &v2.ChangeInvisibleDurationResponse{Status: e.ordered.settleAnywhere(ctx, h, settleRetry), ReceiptHandle: req.GetReceiptHandle()}, nil
	}
	e.inflight.remove(h.Reply)
	if h.Push && h.Attempt >= cfg.MaxReconsume {
		st := e.deadLetterHandle(ctx, cfg, h, fmt.Sprintf("consumption failed %d times (RocketMQ push consumer)", h.Attempt))
		return &v2.ChangeInvisibleDurationResponse{Status: orOK(st), ReceiptHandle: req.GetReceiptHandle()}, nil
	}
	delay := d.AsDuration()
	if h.Push {
		// A push consumer's nack is a failed attempt: the group's ladder
		// decides when it comes again, as for NATS members.
		delay = core.PolicyOf(cfg).Delay(h.Attempt)
	}
	body := []byte(fmt.Sprintf(`-NAK {"delay":%d}`, delay.Nanoseconds()))
	if st := ackStatus(requestWatched(ctxTimeout(ctx, ackTimeout), e.nc, &nats.Msg{Subject: h.Reply, Data: body})); st != nil {
		return &v2.ChangeInvisibleDurationResponse{Status: st}, nil
	}
	h.Push = false
	h.Deadline = time.Now().Add(delay).UnixMilli()
	return &v2.ChangeInvisibleDurationResponse{Status: ok(), ReceiptHandle: e.signer.Sign(h)}, nil
}

func orOK(st *v2.Status) *v2.Status {
	if st == nil {
		return ok()
	}
	return st
}

// ForwardMessageToDeadLetterQueue dead-letters a delivery at once (FIFO
// push consumers do this after their local retries).
func (e *Endpoint) ForwardMessageToDeadLetterQueue(ctx context.Context, req *v2.ForwardMessageToDeadLetterQueueRequest) (*v2.ForwardMessageToDeadLetterQueueResponse, error) {
	e.clients.touch(ctx)
	topic, group := req.GetTopic().GetName(), req.GetGroup().GetName()
	h, st := e.handleFor(req.GetReceiptHandle(), topic, group)
	if st != nil {
		return &v2.ForwardMessageToDeadLetterQueueResponse{Status: st}, nil
	}
	if h.Node != "" {
		return &v2.ForwardMessageToDeadLetterQueueResponse{Status: e.ordered.settleAnywhere(ctx, h, settleDeadLetter)}, nil
	}
	cfg, st := e.groups.config(ctx, topic, group, nil)
	if st != nil {
		return &v2.ForwardMessageToDeadLetterQueueResponse{Status: st}, nil
	}
	e.inflight.remove(h.Reply)
	attempts := max(h.Attempt, int(req.GetDeliveryAttempt()))
	st = e.deadLetterHandle(ctx, cfg, h, fmt.Sprintf("forwarded to the DLQ by the RocketMQ client after %d attempts", attempts))
	return &v2.ForwardMessageToDeadLetterQueueResponse{Status: orOK(st)}, nil
}

// deadLetterHandle reads the message a handle names and dead-letters it.
func (e *Endpoint) deadLetterHandle(ctx context.Context, cfg core.GroupConfig, h Handle, reason string) *v2.Status {
	sm, err := e.js.Stream(ctxTimeout(ctx, requestTimeout), h.Topic)
	if err != nil {
		return statusOf(err, v2.Code_TOPIC_NOT_FOUND, "read the message for the DLQ")
	}
	raw, err := sm.GetMsg(ctxTimeout(ctx, requestTimeout), h.Seq)
	if err != nil {
		return statusOf(err, v2.Code_MESSAGE_NOT_FOUND, fmt.Sprintf("message %d of topic %q", h.Seq, h.Topic))
	}
	if !e.deadLetter(ctx, cfg, h.Subject, h.Seq, h.Attempt, reason, raw.Header, raw.Data, h.Reply) {
		return status(v2.Code_INTERNAL_SERVER_ERROR, "the DLQ did not store the message; it will be delivered again")
	}
	return nil
}

// deadLetter copies a message to the group's DLQ and only then terminates
// it (docs/PROTOCOL.md, "Dead-letter queue"); if the copy fails it is
// naked to come again soon.
func (e *Endpoint) deadLetter(ctx context.Context, cfg core.GroupConfig, subject string, seq uint64, attempts int, reason string, hdr nats.Header, data []byte, reply string) bool {
	dl, err := wire.NewDeadLetter(cfg.Name, "", subject, seq, attempts, reason, hdr, data, time.Now())
	if err == nil {
		_, err = e.js.PublishMsg(ctxTimeout(ctx, requestTimeout), dl.Msg())
	}
	if err != nil {
		e.log.Warn("rocketmq: dead letter not stored, message will come again", "topic", cfg.Topic, "group", cfg.Name, "seq", seq, "err", err)
		_ = e.nc.Publish(reply, []byte(`-NAK {"delay":1000000000}`))
		return false
	}
	_, err = e.nc.RequestWithContext(ctxTimeout(ctx, ackTimeout), reply, []byte("+TERM"))
	return err == nil
}
