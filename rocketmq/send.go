package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SendMessage stores each message as a NATS producer would: a publish on
// the topic's input subject, a $MQ.DELAY request, or a $MQ.TXN.PREPARE.
func (e *Endpoint) SendMessage(ctx context.Context, req *v2.SendMessageRequest) (*v2.SendMessageResponse, error) {
	c := e.clients.touch(ctx)
	if len(req.GetMessages()) == 0 {
		return &v2.SendMessageResponse{Status: status(v2.Code_BAD_REQUEST, "no messages to send")}, nil
	}
	resp := &v2.SendMessageResponse{Status: ok()}
	for _, m := range req.GetMessages() {
		entry := e.sendOne(ctx, c, m)
		resp.Entries = append(resp.Entries, entry)
		if entry.GetStatus().GetCode() != v2.Code_OK && resp.Status.GetCode() == v2.Code_OK {
			resp.Status = entry.GetStatus()
		}
	}
	return resp, nil
}

func (e *Endpoint) sendOne(ctx context.Context, c *client, m *v2.Message) *v2.SendResultEntry {
	out, cerr := ToNATS(m, int(e.nc.MaxPayload()))
	if cerr != nil {
		return &v2.SendResultEntry{Status: status(cerr.Code, cerr.Msg), MessageId: m.GetSystemProperties().GetMessageId()}
	}
	entry := &v2.SendResultEntry{MessageId: out.MessageID}
	if _, st := e.topics.partitions(ctx, out.Topic); st != nil {
		entry.Status = st
		return entry
	}
	var st *v2.Status
	switch out.Type {
	case v2.MessageType_DELAY:
		st = e.sendDelayed(ctx, out, entry)
	case v2.MessageType_TRANSACTION:
		if c != nil {
			e.clients.addTopic(c, out.Topic)
		}
		st = e.prepare(ctx, out, entry)
	default:
		st = e.publish(ctx, out, entry)
	}
	if st == nil {
		st = ok()
	}
	entry.Status = st
	return entry
}

func (o *Outgoing) key() string {
	if o.Tag != "" || o.Key != wire.KeylessKey {
		return o.Key
	}
	return ""
}

func (e *Endpoint) publish(ctx context.Context, o *Outgoing, entry *v2.SendResultEntry) *v2.Status {
	msg := &nats.Msg{Subject: wire.InputSubject(o.Topic, o.key(), o.Tag), Header: o.Header, Data: o.Data}
	pctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	pctx, release := watchPublish(pctx, e.nc, msg.Subject)
	defer release()
	for {
		actx, acancel := context.WithTimeout(pctx, publishAttempt)
		ack, err := e.js.PublishMsg(actx, msg)
		acancel()
		if err == nil {
			entry.Offset = int64(ack.Sequence)
			return nil
		}
		// Without a message id a retry could store the message twice.
		if pctx.Err() != nil || !retryablePublish(err) || msg.Header.Get(wire.HeaderNatsMsgID) == "" {
			return publishStatus(denied(pctx, err), o.Topic)
		}
	}
}

// publishAttempt bounds one JetStream publish of a send. A stream whose
// leader died answers nothing until a new leader is elected (2-5 s); the
// send retries within its own deadline, so that it lands as soon as there
// is one, instead of waiting out one long publish the dead leader will
// never answer (a RocketMQ client times out first and retries on the same
// queue). A retry is deduplicated by the message's Nats-Msg-Id.
const publishAttempt = time.Second

// retryablePublish says whether err means "no stream leader answered".
func retryablePublish(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse)
}

func publishStatus(err error, topic string) *v2.Status {
	s := err.Error()
	switch {
	case strings.Contains(s, "no responders"), strings.Contains(s, "no response from stream"):
		return status(v2.Code_HA_NOT_AVAILABLE, fmt.Sprintf("topic %q is not accepting messages on this node yet (no responders); retry", topic))
	case strings.Contains(s, "maximum payload"), strings.Contains(s, "message size"):
		return status(v2.Code_MESSAGE_BODY_TOO_LARGE, "message too large: "+s)
	}
	return statusOf(err, v2.Code_TOPIC_NOT_FOUND, fmt.Sprintf("publish to topic %q", topic))
}

// delayReply is the reply of $MQ.DELAY.
type delayReply struct {
	Seq uint64 `json:"seq"`
	ID  string `json:"id"`
}

func (e *Endpoint) sendDelayed(ctx context.Context, o *Outgoing, entry *v2.SendResultEntry) *v2.Status {
	h := o.Header
	h.Set(wire.HeaderDeliverAt, o.DeliverAt.UTC().Format(time.RFC3339Nano))
	var r delayReply
	subject := wire.DelayPrefix + wire.InputSubject(o.Topic, o.Key, o.Tag)
	if err := requestMsg(ctx, e.nc, &nats.Msg{Subject: subject, Header: h, Data: o.Data}, &r); err != nil {
		return statusOf(err, v2.Code_TOPIC_NOT_FOUND, fmt.Sprintf("delayed send to topic %q", o.Topic))
	}
	entry.Offset = int64(r.Seq)
	entry.RecallHandle = r.ID
	return nil
}

// TxnID makes a jetmq transaction id of a RocketMQ message id (the
// official clients' ids are hex); anything else gets its invalid
// characters replaced.
func TxnID(messageID string) string {
	var b strings.Builder
	for _, r := range messageID {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() == 128 {
			break
		}
	}
	return b.String()
}

func (e *Endpoint) prepare(ctx context.Context, o *Outgoing, entry *v2.SendResultEntry) *v2.Status {
	txid := TxnID(o.MessageID)
	if core.ValidateTxnID(txid) != nil {
		return status(v2.Code_ILLEGAL_MESSAGE_ID, fmt.Sprintf("message id %q cannot name a transaction", o.MessageID))
	}
	h := o.Header
	h.Set(wire.HeaderTxnID, txid)
	// RocketMQ 5 uses the topic as the producer group: checks of the
	// topic's transactions go to its producers.
	h.Set(wire.HeaderProducerGroup, o.Topic)
	if o.Immunity > 0 {
		h.Set(wire.HeaderCheckImmunity, strconv.FormatFloat(o.Immunity.Seconds(), 'f', 3, 64))
	}
	subject := wire.TxnPrefix + "PREPARE." + wire.InputSubject(o.Topic, o.key(), o.Tag)
	var r struct {
		Seq uint64 `json:"seq"`
	}
	if err := requestMsg(ctx, e.nc, &nats.Msg{Subject: subject, Header: h, Data: o.Data}, &r); err != nil {
		return statusOf(err, v2.Code_TOPIC_NOT_FOUND, fmt.Sprintf("transactional send to topic %q", o.Topic))
	}
	entry.TransactionId = txid
	entry.Offset = int64(r.Seq)
	return nil
}

func requestMsg(ctx context.Context, nc *nats.Conn, m *nats.Msg, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	reply, err := requestWatched(ctx, nc, m)
	if err != nil {
		return err
	}
	return wire.DecodeReply(reply.Data, out)
}

// RecallMessage cancels a delayed message that has not fired, through
// $MQ.API.DELAY.CANCEL; the recall handle is the delayed message's id.
func (e *Endpoint) RecallMessage(ctx context.Context, req *v2.RecallMessageRequest) (*v2.RecallMessageResponse, error) {
	e.clients.touch(ctx)
	topic, id := req.GetTopic().GetName(), req.GetRecallHandle()
	if err := core.ValidateTopicName(topic); err != nil {
		return &v2.RecallMessageResponse{Status: status(v2.Code_ILLEGAL_TOPIC, err.Error())}, nil
	}
	if core.ValidateToken("recall handle", id) != nil || len(id) > 64 {
		return &v2.RecallMessageResponse{Status: status(v2.Code_BAD_REQUEST, fmt.Sprintf("recall handle %q is not one jetmq returned", id))}, nil
	}
	body := fmt.Sprintf(`{"id":%q}`, id)
	var r wire.DelayCancelReply
	if err := request(ctx, e.nc, wire.APIPrefix+"DELAY.CANCEL."+topic, []byte(body), &r); err != nil {
		return &v2.RecallMessageResponse{Status: statusOf(err, v2.Code_NOT_FOUND, fmt.Sprintf("recall of %q in topic %q (delivered already, recalled before, or unknown)", id, topic))}, nil
	}
	return &v2.RecallMessageResponse{Status: ok(), MessageId: id}, nil
}
