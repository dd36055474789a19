package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetmq/jetmq/semantics"
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
		Name:        semantics.DLQStream(ti.Name),
		Description: "jetmq dead-letter queue of topic " + ti.Name,
		Subjects:    semantics.DLQStreamSubjects(ti.Name),
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
	_, err := s.js.Stream(ctx, semantics.DLQStream(ti.Name))
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
func (s *GroupService) onDLQAPI(m *nats.Msg) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, semantics.DLQAPIPrefix), ".")
	if len(toks) != 3 {
		respondError(m, 400, "want %s<OP>.<topic>.<group>", semantics.DLQAPIPrefix)
		return
	}
	op, topic, group := toks[0], toks[1], toks[2]
	if err := validateGroupRef(topic, group); err != nil {
		respondAPIError(m, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	if _, err := s.mustGroup(ctx, topic, group); err != nil {
		// A deleted group's dead letters stay readable.
		if n, cerr := s.dlqCount(ctx, topic, group); cerr != nil || n == 0 {
			respondAPIError(m, err)
			return
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
		err = apiErr(400, "unknown DLQ operation %q: want LIST, SHOW, EXPORT, REPLAY or PURGE", op)
	}
	reply(m, v, err)
}

func decodeBody(data []byte, v any) error {
	if err := semantics.DecodeStrict(data, v); err != nil {
		return errBadRequest("request: %v", err)
	}
	return nil
}

// dlqStream opens topic's DLQ stream (404 when there is none).
func (s *GroupService) dlqStream(ctx context.Context, topic string) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, semantics.DLQStream(topic))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, apiErr(404, "topic %q has no dead-letter queue", topic)
	}
	if err != nil {
		return nil, apiErr(503, "%v", err)
	}
	return st, nil
}

// nextDeadLetter reads the group's first dead letter at or after seq; ok
// is false when there is none.
func nextDeadLetter(ctx context.Context, st jetstream.Stream, topic, group string, seq uint64) (semantics.DeadLetter, bool, error) {
	if seq == 0 {
		seq = 1
	}
	raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(semantics.DLQSubject(topic, group)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return semantics.DeadLetter{}, false, nil
	}
	if err != nil {
		return semantics.DeadLetter{}, false, err
	}
	d, err := semantics.ParseDeadLetter(raw.Header, raw.Data, raw.Sequence)
	return d, err == nil, err
}

func (s *GroupService) dlqList(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req semantics.DLQListRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		req.Limit = 100
	}
	st, err := s.dlqStream(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := semantics.DLQList{Messages: []semantics.DeadLetter{}}
	if out.Total, err = s.dlqCount(ctx, topic, group); err != nil {
		return nil, apiErr(503, "%v", err)
	}
	seq := req.From
	for len(out.Messages) < req.Limit {
		d, ok, err := nextDeadLetter(ctx, st, topic, group, seq)
		if err != nil {
			return nil, apiErr(503, "read DLQ: %v", err)
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
	var req semantics.DLQShowRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if req.Seq == 0 {
		return nil, apiErr(400, "show: give the DLQ sequence (seq)")
	}
	st, err := s.dlqStream(ctx, topic)
	if err != nil {
		return nil, err
	}
	d, ok, err := nextDeadLetter(ctx, st, topic, group, req.Seq)
	if err != nil {
		return nil, apiErr(503, "read DLQ: %v", err)
	}
	if !ok || d.DLQSeq != req.Seq {
		return nil, apiErr(404, "no dead letter %d of group %q", req.Seq, group)
	}
	return d, nil
}

// dlqReplay republishes dead letters to the topic, oldest first, and
// deletes each from the DLQ once the topic has stored it. The replay
// carries a Nats-Msg-Id derived from the DLQ sequence, so a replay
// repeated after a crash between the two steps is stored once.
func (s *GroupService) dlqReplay(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req semantics.DLQReplayRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		req.Limit = 1000
	}
	st, err := s.dlqStream(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := semantics.DLQReplayReply{}
	seq := req.Seq
	for out.Replayed < req.Limit {
		d, ok, err := nextDeadLetter(ctx, st, topic, group, seq)
		if err != nil {
			return nil, apiErr(503, "read DLQ: %v", err)
		}
		if !ok || (req.Seq != 0 && d.DLQSeq != req.Seq) {
			break
		}
		if _, err := s.js.PublishMsg(ctx, d.ReplayMsg()); err != nil {
			return nil, apiErr(503, "replay DLQ message %d to %q: %v", d.DLQSeq, topic, err)
		}
		if err := st.DeleteMsg(ctx, d.DLQSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, apiErr(503, "remove replayed DLQ message %d: %v", d.DLQSeq, err)
		}
		out.Replayed++
		seq = d.DLQSeq + 1
		if req.Seq != 0 {
			break
		}
	}
	if req.Seq != 0 && out.Replayed == 0 {
		return nil, apiErr(404, "no dead letter %d of group %q", req.Seq, group)
	}
	if out.Remaining, err = s.dlqCount(ctx, topic, group); err != nil {
		return nil, apiErr(503, "%v", err)
	}
	return out, nil
}

func (s *GroupService) dlqPurge(ctx context.Context, topic, group string) (any, error) {
	if _, err := s.dlqStream(ctx, topic); err != nil {
		return nil, err
	}
	req, _ := json.Marshal(map[string]string{"filter": semantics.DLQSubject(topic, group)})
	msg, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE."+semantics.DLQStream(topic), req)
	if err != nil {
		return nil, apiErr(503, "purge: %v", err)
	}
	var resp struct {
		Purged uint64 `json:"purged"`
		Error  *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, apiErr(500, "purge reply: %v", err)
	}
	if resp.Error != nil {
		return nil, apiErr(503, "purge: %s", resp.Error.Description)
	}
	return semantics.DLQPurgeReply{Purged: resp.Purged}, nil
}

// advisoryStream captures the max-deliveries advisories of every topic
// that has groups, so that the dead-letter mover sees them even when it
// was down when they were sent (JetStream only sends advisories while
// someone listens; a stream is always listening).
const advisoryStream = "%MQ%MAX_DELIVERIES"

func maxDeliveriesSubject(topic string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + topic + ".*"
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
