package bridge

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// inspectSlots bounds the MSG and DELAY requests served at once.
const inspectSlots = 16

// replyReserve is what a page reply keeps free of its max_payload for the
// JSON around the messages.
const replyReserve = 8 << 10

// Inspect serves the read side of an operator's tools:
// $MQ.API.MSG.GET|LIST|TRACE.<topic> and $MQ.API.DELAY.LIST|CANCEL.<topic>
// (GROUP.LAG is the group service's). Every read is a JetStream direct get
// (direct_get.go), so a page costs one or two requests, not one per
// message.
type Inspect struct {
	topics   *Topics
	groups   *GroupService
	nc       *nats.Conn
	subs     []*nats.Subscription
	requests requestPool
	wg       sync.WaitGroup
}

// NewInspect returns the message and delayed-message inspection service.
func NewInspect(topics *Topics, groups *GroupService) *Inspect {
	s := &Inspect{topics: topics, groups: groups}
	s.requests = newRequestPool(inspectSlots, &s.wg)
	return s
}

// Name implements Service.
func (s *Inspect) Name() string { return "inspect" }

// Start implements Service.
func (s *Inspect) Start(_ context.Context, h Host) error {
	s.nc = h.Conn()
	for subj, f := range map[string]apiHandler{
		wire.MsgAPIPrefix + ">":   s.onMsg,
		wire.DelayAPIPrefix + ">": s.onDelay,
	} {
		sub, err := s.nc.QueueSubscribe(subj, wire.ServiceQueue, s.requests.serve(f))
		if err != nil {
			return err
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}

// Stop implements Service.
func (s *Inspect) Stop(ctx context.Context) error {
	for _, sub := range s.subs {
		_ = drainSub(ctx, sub)
	}
	return waitCtx(ctx, &s.wg)
}

// opAndTopic splits $MQ.API.<KIND>.<OP>.<topic> and finds the topic.
func (s *Inspect) opAndTopic(m *nats.Msg, prefix string) (string, TopicInfo, error) {
	op, topic, _ := strings.Cut(strings.TrimPrefix(m.Subject, prefix), ".")
	if err := core.ValidateTopicName(topic); err != nil {
		return op, TopicInfo{}, errBadRequest("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	ti, ok, err := s.groups.topicInfo(ctx, topic)
	if err != nil {
		return op, ti, errUnavailable("read topic %q: %v", topic, err)
	}
	if !ok {
		return op, ti, errTopicNotFound(topic)
	}
	return op, ti, nil
}

func (s *Inspect) onMsg(ctx context.Context, m *nats.Msg) (any, error) {
	op, ti, err := s.opAndTopic(m, wire.MsgAPIPrefix)
	if err != nil {
		return nil, err
	}
	switch op {
	case "GET":
		req, err := wire.ParseMsgGetRequest(m.Data)
		if err != nil {
			return nil, errBadRequest("MSG.GET: %v", err)
		}
		tm, err := s.getMsg(ctx, ti.Name, req.Seq)
		fitData(&tm, int(s.nc.MaxPayload())-replyReserve)
		return tm, err
	case "LIST":
		req, err := wire.ParseMsgListRequest(m.Data)
		if err != nil {
			return nil, errBadRequest("MSG.LIST: %v", err)
		}
		return s.listMsgs(ctx, ti.Name, req)
	case "TRACE":
		req, err := wire.ParseMsgGetRequest(m.Data)
		if err != nil {
			return nil, errBadRequest("MSG.TRACE: %v", err)
		}
		return s.trace(ctx, ti, req.Seq)
	case "RESEND":
		return s.resend(ctx, ti, m.Data)
	}
	return nil, errBadRequest("unknown message operation %q: want GET, LIST, TRACE or RESEND", op)
}

// getMsg reads the message at seq of topic's stream.
func (s *Inspect) getMsg(ctx context.Context, topic string, seq uint64) (wire.TopicMsg, error) {
	page, err := jsapi.DirectGet(ctx, s.nc, topic, jsapi.MsgGetRequest{Seq: seq})
	if err != nil {
		return wire.TopicMsg{}, errUnavailable("read stream %q: %v", topic, err)
	}
	if len(page.Msgs) == 0 {
		return wire.TopicMsg{}, errNotFound("topic %q has no message %d (never stored, deleted, or expired)", topic, seq)
	}
	tm, ok := topicMsg(page.Msgs[0])
	if !ok {
		return tm, errInternal("message %d of %q is on %q, not a stored subject", seq, topic, page.Msgs[0].Header.Get("Nats-Subject"))
	}
	return tm, nil
}

// listMsgs reads one page: by key (two filters, merged by sequence), by
// sequence or by time.
func (s *Inspect) listMsgs(ctx context.Context, topic string, req wire.MsgListRequest) (wire.MsgList, error) {
	limit := wire.PageLimit(req.Limit)
	budget := int(s.nc.MaxPayload()) - replyReserve
	q := jsapi.MsgGetRequest{Seq: max(req.StartSeq, req.Next), Batch: limit, MaxBytes: budget}
	// Stream T holds only T.> (docs/PROTOCOL.md), so by sequence or time
	// no filter is needed, and none is cheaper: JetStream counts the rest
	// of an unfiltered stream without walking its subjects.
	filters := []string{""}
	switch {
	case req.Key != "":
		// <topic>.*.<key> and <topic>.*.<key>.* (every partition: a key
		// moves when partitions are raised).
		filters = []string{topic + ".*." + req.Key, topic + ".*." + req.Key + ".*"}
	case req.StartTime != nil && req.Next == 0:
		q.StartTime, q.Seq = req.StartTime, 0
	}
	var msgs []*nats.Msg
	more, cut := false, uint64(0)
	for _, f := range filters {
		q.NextBySubj = f
		if q.Seq == 0 && q.StartTime == nil {
			q.Seq = 1
		}
		page, err := jsapi.DirectGet(ctx, s.nc, topic, q)
		if err != nil {
			return wire.MsgList{}, errUnavailable("read stream %q: %v", topic, err)
		}
		msgs = append(msgs, page.Msgs...)
		if page.Pending > 0 && len(page.Msgs) > 0 {
			// This filter's page ends here: a later message of another
			// filter must wait for the next page, or this filter's rest
			// would be skipped.
			more, cut = true, minCut(cut, jsapi.Seq(page.Msgs[len(page.Msgs)-1]))
		}
	}
	sort.Slice(msgs, func(i, j int) bool { return jsapi.Seq(msgs[i]) < jsapi.Seq(msgs[j]) })
	if cut != 0 {
		n := sort.Search(len(msgs), func(i int) bool { return jsapi.Seq(msgs[i]) > cut })
		msgs = msgs[:n]
	}
	return fillPage(msgs, limit, budget, req.EndTime, more), nil
}

func minCut(cut, seq uint64) uint64 {
	if cut == 0 || seq < cut {
		return seq
	}
	return cut
}

// fillPage turns sorted direct-get replies into a page of at most limit
// messages and about budget bytes; more says messages follow the ones
// given.
func fillPage(msgs []*nats.Msg, limit, budget int, end *time.Time, more bool) wire.MsgList {
	out := wire.MsgList{Messages: []wire.TopicMsg{}}
	used := 0
	for i, m := range msgs {
		tm, ok := topicMsg(m)
		if !ok {
			// A misfiled message is not listed, but the cursor moves past
			// it: the page must not end early because it came last.
			if i == len(msgs)-1 && more {
				out.Next = jsapi.Seq(m) + 1
			}
			continue
		}
		if end != nil && tm.Time.After(*end) {
			return out
		}
		size := encodedSize(tm)
		if len(out.Messages) == limit || (used+size > budget && len(out.Messages) > 0) {
			out.Next = tm.Seq
			return out
		}
		used += fitData(&tm, budget)
		out.Messages = append(out.Messages, tm)
		if i == len(msgs)-1 && more {
			out.Next = tm.Seq + 1
		}
	}
	return out
}

// encodedSize is about what tm takes in a JSON reply (the body in base64).
func encodedSize(tm wire.TopicMsg) int {
	return len(tm.Subject) + tm.Size + len(tm.Data)/3 + 256
}

// fitData leaves out tm's body when tm alone would not fit budget, and
// returns what tm then takes.
func fitData(tm *wire.TopicMsg, budget int) int {
	if encodedSize(*tm) > budget {
		tm.Data, tm.DataOmitted = []byte{}, true
	}
	return encodedSize(*tm)
}
