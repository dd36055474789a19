package bridge

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// onDelay serves $MQ.API.DELAY.LIST.<topic> and DELAY.CANCEL.<topic>.
func (s *Inspect) onDelay(ctx context.Context, m *nats.Msg) (any, error) {
	op, ti, err := s.opAndTopic(m, wire.DelayAPIPrefix)
	if err != nil {
		return nil, err
	}
	switch op {
	case "LIST":
		req, err := wire.ParseDelayListRequest(m.Data)
		if err != nil {
			return nil, errBadRequest("DELAY.LIST: %v", err)
		}
		return s.listDelayed(ctx, ti.Name, req)
	case "CANCEL":
		req, err := wire.ParseDelayCancelRequest(m.Data)
		if err != nil {
			return nil, errBadRequest("DELAY.CANCEL: %v", err)
		}
		return s.cancelDelayed(ctx, ti.Name, req.ID)
	}
	return nil, errBadRequest("unknown delay operation %q: want LIST or CANCEL", op)
}

// listDelayed reads one page of topic's waiting schedules, in the order
// they were stored, with one batch direct get.
func (s *Inspect) listDelayed(ctx context.Context, topic string, req wire.DelayListRequest) (wire.DelayList, error) {
	limit := wire.PageLimit(req.Limit)
	out := wire.DelayList{Delayed: []wire.DelayedMsg{}}
	page, err := jsapi.DirectGet(ctx, s.nc, wire.InternalStream(topic), jsapi.MsgGetRequest{Seq: max(req.From, 1),
		NextBySubj: wire.DelayFilter(topic), Batch: limit, MaxBytes: int(s.nc.MaxPayload())})
	if err != nil {
		return out, errUnavailable("read the internal stream of %q: %v", topic, err)
	}
	out.Total = uint64(len(page.Msgs)) + page.Pending
	for _, m := range page.Msgs {
		out.Delayed = append(out.Delayed, delayedMsg(topic, m))
	}
	if page.Pending > 0 && len(page.Msgs) > 0 {
		out.Next = out.Delayed[len(out.Delayed)-1].Seq + 1
	}
	return out, nil
}

// delayedMsg describes a waiting schedule from its subject and headers.
func delayedMsg(topic string, m *nats.Msg) wire.DelayedMsg {
	d := wire.DelayedMsg{
		ID:   strings.TrimPrefix(m.Header.Get("Nats-Subject"), wire.DelaySubject(topic, "")),
		Seq:  jsapi.Seq(m),
		Size: len(m.Data) + headerSize(jsapi.OwnHeaders(m.Header)),
	}
	d.DeliverAt, _ = time.Parse(time.RFC3339Nano, m.Header.Get(wire.HeaderDeliverAt))
	// The target is $MQ.INT.<topic>.O.~.~.<p>.<key>[.<tag>]: the stored
	// subject follows the two transaction tokens.
	target := strings.TrimPrefix(m.Header.Get(hdrScheduleTarget), wire.InternalPrefix+topic+".O.")
	if _, rest, ok := strings.Cut(target, "."); ok {
		if _, rest, ok = strings.Cut(rest, "."); ok {
			d.Subject = topic + "." + rest
		}
	}
	if sm, err := wire.ParseStoredSubject(d.Subject); err == nil {
		d.Partition, d.Key, d.Tag = sm.Partition, sm.Key, sm.Tag
	}
	return d
}

// cancelDelayed deletes the schedule of id, so that it never fires; a
// schedule already fired, or never stored, is a 404. The stream leader
// fires a schedule by proposing its message, which when applied also
// purges the schedule; a delete applied between that proposal and its
// application succeeds and the message is delivered all the same, so a
// cancel within milliseconds of the due time can lose (docs/PROTOCOL.md).
func (s *Inspect) cancelDelayed(ctx context.Context, topic, id string) (wire.DelayCancelReply, error) {
	stream := wire.InternalStream(topic)
	page, err := jsapi.DirectGet(ctx, s.nc, stream, jsapi.MsgGetRequest{LastBySubj: wire.DelaySubject(topic, id)})
	if err != nil {
		return wire.DelayCancelReply{}, errUnavailable("read the internal stream of %q: %v", topic, err)
	}
	if len(page.Msgs) == 0 {
		return wire.DelayCancelReply{}, errNotFound("no delayed message %q waits in topic %q: it was delivered, cancelled, or never stored", id, topic)
	}
	d := delayedMsg(topic, page.Msgs[0])
	err = jsapi.DeleteMsg(ctx, s.nc, stream, d.Seq, true)
	var je *jetstream.APIError
	if errors.As(err, &je) && je.ErrorCode == jsapi.ErrCodeNoMessageFound {
		return wire.DelayCancelReply{}, errNotFound("delayed message %q of topic %q was delivered or cancelled meanwhile", id, topic)
	}
	if err != nil {
		return wire.DelayCancelReply{}, errUnavailable("delete delayed message %q: %v", id, err)
	}
	return wire.DelayCancelReply{Cancelled: true, ID: id, Seq: d.Seq, DeliverAt: d.DeliverAt}, nil
}
