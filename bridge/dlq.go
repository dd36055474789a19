package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// dlqDuplicates is the de-duplication window of a DLQ stream: a member
// that dies between copying a dead letter and terminating it, and the
// member or mover that copies it again later, write the same Nats-Msg-Id
// well within it.
const dlqDuplicates = time.Hour

// dlqConfig is the dead-letter stream of topic ti, replicated like it.
func dlqConfig(ti TopicInfo) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        wire.DLQStream(ti.Name),
		Description: "jetmq dead-letter queue of topic " + ti.Name,
		Subjects:    wire.DLQStreamSubjects(ti.Name),
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    ti.Replicas,
		Duplicates:  dlqDuplicates,
		AllowDirect: true,
		Metadata:    map[string]string{"jetmq.dlq": ti.Name},
	}
}

// ensureDLQ creates topic's DLQ stream if it does not exist.
func (s *GroupService) ensureDLQ(ctx context.Context, ti TopicInfo) error {
	_, err := s.js.Stream(ctx, wire.DLQStream(ti.Name))
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	_, err = s.js.CreateStream(ctx, dlqConfig(ti))
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil
	}
	return err
}

// onDLQAPI serves $MQ.API.DLQ.LIST|SHOW|REPLAY|PURGE.<topic>.<group>.
func (s *GroupService) onDLQAPI(ctx context.Context, m *nats.Msg) (any, error) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, wire.DLQAPIPrefix), ".")
	if len(toks) != 3 {
		return nil, errBadRequest("want %s<OP>.<topic>.<group>", wire.DLQAPIPrefix)
	}
	op, topic, group := toks[0], toks[1], toks[2]
	if err := validateGroupRef(topic, group); err != nil {
		return nil, err
	}
	if _, err := s.mustGroup(ctx, topic, group); err != nil {
		// A deleted group's dead letters stay readable.
		if n, cerr := s.dlqCount(ctx, topic, group); cerr != nil || n == 0 {
			return nil, err
		}
	}
	var v any
	var err error
	switch op {
	case "LIST":
		v, err = s.dlqList(ctx, topic, group, m.Data)
	case "SHOW":
		v, err = s.dlqShow(ctx, topic, group, m.Data)
	case "REPLAY":
		v, err = s.dlqReplay(ctx, topic, group, m.Data)
	case "PURGE":
		v, err = s.dlqPurge(ctx, topic, group)
	case "EXPORT":
		v, err = s.dlqExport(ctx, topic, group, m.Data)
	default:
		err = errBadRequest("unknown DLQ operation %q: want LIST, SHOW, EXPORT, REPLAY or PURGE", op)
	}
	return v, err
}

// dlqStream opens topic's DLQ stream (404 when there is none).
func (s *GroupService) dlqStream(ctx context.Context, topic string) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, wire.DLQStream(topic))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errNotFound("topic %q has no dead-letter queue", topic)
	}
	if err != nil {
		return nil, errUnavailable("%v", err)
	}
	return st, nil
}

// nextDeadLetter reads the group's first dead letter at or after seq; ok
// is false when there is none.
func nextDeadLetter(ctx context.Context, st jetstream.Stream, topic, group string, seq uint64) (wire.DeadLetter, bool, error) {
	if seq == 0 {
		seq = 1
	}
	raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(wire.DLQSubject(topic, group)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return wire.DeadLetter{}, false, nil
	}
	if err != nil {
		return wire.DeadLetter{}, false, err
	}
	d, err := wire.ParseDeadLetter(raw.Header, raw.Data, raw.Sequence)
	return d, err == nil, err
}

func (s *GroupService) dlqList(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req wire.DLQListRequest
	if err := decodeRequest("request", body, &req); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		req.Limit = 100
	}
	st, err := s.dlqStream(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := wire.DLQList{Messages: []wire.DeadLetter{}}
	if out.Total, err = s.dlqCount(ctx, topic, group); err != nil {
		return nil, errUnavailable("%v", err)
	}
	seq := req.From
	for len(out.Messages) < req.Limit {
		d, ok, err := nextDeadLetter(ctx, st, topic, group, seq)
		if err != nil {
			return nil, errUnavailable("read DLQ: %v", err)
		}
		if !ok {
			return out, nil
		}
		d.Data, d.Headers = nil, nil
		out.Messages = append(out.Messages, d)
		seq = d.DLQSeq + 1
	}
	if _, more, _ := nextDeadLetter(ctx, st, topic, group, seq); more {
		out.Next = seq
	}
	return out, nil
}

func (s *GroupService) dlqShow(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req wire.DLQShowRequest
	if err := decodeRequest("request", body, &req); err != nil {
		return nil, err
	}
	if req.Seq == 0 {
		return nil, errBadRequest("show: give the DLQ sequence (seq)")
	}
	st, err := s.dlqStream(ctx, topic)
	if err != nil {
		return nil, err
	}
	d, ok, err := nextDeadLetter(ctx, st, topic, group, req.Seq)
	if err != nil {
		return nil, errUnavailable("read DLQ: %v", err)
	}
	if !ok || d.DLQSeq != req.Seq {
		return nil, errNotFound("no dead letter %d of group %q", req.Seq, group)
	}
	return d, nil
}

// dlqReplay republishes dead letters to the topic, oldest first, and
// deletes each from the DLQ once the topic has stored it. The replay
// carries a Nats-Msg-Id derived from the DLQ sequence, so a replay
// repeated after a crash between the two steps is stored once.
func (s *GroupService) dlqReplay(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req wire.DLQReplayRequest
	if err := decodeRequest("request", body, &req); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		req.Limit = 1000
	}
	st, err := s.dlqStream(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := wire.DLQReplayReply{}
	seq := req.Seq
	for out.Replayed < req.Limit {
		d, ok, err := nextDeadLetter(ctx, st, topic, group, seq)
		if err != nil {
			return nil, errUnavailable("read DLQ: %v", err)
		}
		if !ok || (req.Seq != 0 && d.DLQSeq != req.Seq) {
			break
		}
		if _, err := s.js.PublishMsg(ctx, d.ReplayMsg()); err != nil {
			return nil, errUnavailable("replay DLQ message %d to %q: %v", d.DLQSeq, topic, err)
		}
		if err := st.DeleteMsg(ctx, d.DLQSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, errUnavailable("remove replayed DLQ message %d: %v", d.DLQSeq, err)
		}
		out.Replayed++
		seq = d.DLQSeq + 1
		if req.Seq != 0 {
			break
		}
	}
	if req.Seq != 0 && out.Replayed == 0 {
		return nil, errNotFound("no dead letter %d of group %q", req.Seq, group)
	}
	if out.Remaining, err = s.dlqCount(ctx, topic, group); err != nil {
		return nil, errUnavailable("%v", err)
	}
	return out, nil
}

func (s *GroupService) dlqPurge(ctx context.Context, topic, group string) (any, error) {
	if _, err := s.dlqStream(ctx, topic); err != nil {
		return nil, err
	}
	purged, err := jsapi.Purge(ctx, s.nc, wire.DLQStream(topic), jsapi.PurgeRequest{Filter: wire.DLQSubject(topic, group)})
	if err != nil {
		return nil, errUnavailable("purge: %v", err)
	}
	return wire.DLQPurgeReply{Purged: purged}, nil
}

// advisoryStream captures the max-deliveries advisories of every topic
// that has groups, so that the dead-letter mover sees them even when it
// was down when they were sent (JetStream only sends advisories while
// someone listens; a stream is always listening).
const advisoryStream = "%MQ%MAX_DELIVERIES"

func maxDeliveriesSubject(topic string) string {
	return jsapi.AdvisoryMaxDeliveries(topic)
}

// ensureAdvisoryCapture makes the advisory stream capture topic's
// max-deliveries advisories.
func (s *GroupService) ensureAdvisoryCapture(ctx context.Context, topic string) error {
	subj := maxDeliveriesSubject(topic)
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.js.Stream(ctx, advisoryStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = createReplicated(s.h, func(r int) (jetstream.Stream, error) {
				return s.js.CreateStream(ctx, jetstream.StreamConfig{Name: advisoryStream, Description: "jetmq: max-deliveries advisories of group consumers, for the dead-letter mover",
					Subjects: []string{subj}, Retention: jetstream.WorkQueuePolicy, MaxAge: 7 * 24 * time.Hour, Replicas: r})
			})
			if err == nil {
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
		cfg := st.CachedInfo().Config
		if slices.Contains(cfg.Subjects, subj) {
			return nil
		}
		cfg.Subjects = append(cfg.Subjects, subj)
		if _, err = s.js.UpdateStream(ctx, cfg); err == nil {
			return nil
		}
	}
	return fmt.Errorf("could not add %s to stream %s", subj, advisoryStream)
}
