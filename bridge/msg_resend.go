package bridge

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// resend publishes a copy of message seq to the topic's input subject (its
// key and tag, so it lands in the key's partition), with its own headers
// (JetStream's Nats-* ones dropped) plus Mq-Resend-Of and, when a group
// is named, Mq-Resend-For. JetStream cannot deliver a message to one
// consumer only, so every group of the topic whose tags select it gets
// the copy; the group named is checked to exist and recorded, and every
// other group's members ack the copy unhandled (wire.ResentForAnother).
func (s *Inspect) resend(ctx context.Context, ti TopicInfo, body []byte) (any, error) {
	var req wire.MsgResendRequest
	if err := decodeRequest("request", body, &req); err != nil {
		return nil, err
	}
	if req.Seq == 0 {
		return nil, errBadRequest("seq: give the stream sequence of the message (1 or more)")
	}
	if req.Group != "" {
		if err := core.ValidateGroupName(req.Group); err != nil {
			return nil, errBadRequest("group: %v", err)
		}
		if _, found, err := s.groups.loadGroup(ctx, ti.Name, req.Group); err != nil {
			return nil, errUnavailable("read group %q: %v", req.Group, err)
		} else if !found {
			return nil, errNotFound("group %q of topic %q not found", req.Group, ti.Name)
		}
	}
	tm, err := s.getMsg(ctx, ti.Name, req.Seq)
	if err != nil {
		return nil, err
	}
	h := nats.Header{}
	for k, vs := range tm.Headers {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = vs
		}
	}
	h.Set(wire.HeaderResendOf, strconv.FormatUint(tm.Seq, 10))
	if req.Group != "" {
		h.Set(wire.HeaderResendFor, req.Group)
	}
	key := tm.Key
	subj := wire.InputSubject(ti.Name, "", "")
	switch {
	case key != wire.KeylessKey:
		subj = wire.InputSubject(ti.Name, key, tm.Tag)
	case tm.Tag != "":
		subj = wire.InputSubject(ti.Name, wire.KeylessKey, tm.Tag)
	}
	ack, err := jetstream.New(s.nc)
	if err != nil {
		return nil, errInternal("%v", err)
	}
	pa, err := ack.PublishMsg(ctx, &nats.Msg{Subject: subj, Header: h, Data: tm.Data})
	var jae *jetstream.APIError
	switch {
	case errors.As(err, &jae) && jae.Code < 500:
		return nil, apiErr(jae.Code, "resend message %d of %q: %s", tm.Seq, ti.Name, jae.Description)
	case err != nil:
		return nil, errUnavailable("resend message %d of %q: %v", tm.Seq, ti.Name, err)
	}
	return wire.MsgResendReply{Stream: pa.Stream, Seq: pa.Sequence, ResendOf: tm.Seq, Group: req.Group, Duplicate: pa.Duplicate}, nil
}
