package bridge

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The safety net for messages a topic holds on a subject that is not one of
// its stored forms. The current layout stores none (topicStreamConfig); an
// older jetmq could, for keyed publishes that reached a node before it had
// installed its mappings (stored as <topic>.<key> or <topic>.<key>.<tag>).
// Topic info counts them ("misfiled"); TOPIC.REPAIR moves them.

// repairBatch bounds how many messages one REPAIR request moves; the reply
// says how many remain.
const repairBatch = 10000

// misplaced is one misfiled message to move.
type misplaced struct {
	seq      uint64
	key, tag string
}

// isStoredForm reports whether subj is one of topic's stored forms:
// <topic>.<p>.<key>[.<tag>] with p a partition of the topic.
func isStoredForm(topic, subj string, partitions int) (int, bool) {
	sm, err := wire.ParseStoredSubject(subj)
	if err != nil || sm.Topic != topic || sm.Partition >= partitions || !strings.HasPrefix(subj, topic+"."+strconv.Itoa(sm.Partition)+".") {
		return 0, false
	}
	return sm.Partition, true
}

// misfiledInput takes a misfiled subject for the input form it was
// published on: <topic>.<key> or <topic>.<key>.<tag>.
func misfiledInput(topic, subj string) (key, tag string, ok bool) {
	toks := strings.Split(strings.TrimPrefix(subj, topic+"."), ".")
	switch len(toks) {
	case 1:
		return toks[0], "", core.ValidateToken("key", toks[0]) == nil
	case 2:
		return toks[0], toks[1], core.ValidateToken("key", toks[0]) == nil && core.ValidateToken("tag", toks[1]) == nil
	}
	return "", "", false
}

// repair moves up to repairBatch misfiled messages of topic ti to their
// partitions, oldest first, so the moved messages of one key keep their
// order. Each is written to the outbox under a subject named after its
// old sequence and only then deleted, so a repair that stops half-way and
// is run again neither loses nor doubles a message.
func (t *Topics) repair(ctx context.Context, ti TopicInfo) (*wire.RepairReply, error) {
	s, err := t.js.Stream(ctx, ti.Name)
	if err != nil {
		return nil, errUnavailable("read stream %q: %v", ti.Name, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(ti.Name+".>"))
	if err != nil {
		return nil, errUnavailable("stream info %q: %v", ti.Name, err)
	}
	out := &wire.RepairReply{Topic: ti.Name}
	var todo []misplaced
	for subj, n := range info.State.Subjects {
		if _, ok := isStoredForm(ti.Name, subj, ti.Partitions); ok {
			continue
		}
		key, tag, ok := misfiledInput(ti.Name, subj)
		if !ok {
			out.Unplaced += int(n)
			continue
		}
		seqs, err := subjectSeqs(ctx, s, subj, repairBatch-len(todo))
		if err != nil {
			return nil, errUnavailable("read messages of %q: %v", subj, err)
		}
		for _, seq := range seqs {
			todo = append(todo, misplaced{seq: seq, key: key, tag: tag})
		}
		out.Remaining += n - uint64(len(seqs))
		if len(todo) >= repairBatch {
			break
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].seq < todo[j].seq })
	for _, m := range todo {
		if err := t.moveMisfiled(ctx, s, ti, m); err != nil {
			return nil, errUnavailable("move message %d: %v (moved %d so far; run the repair again)", m.seq, err, out.Moved)
		}
		out.Moved++
	}
	return out, nil
}

// subjectSeqs lists up to limit sequences of the messages on subj.
func subjectSeqs(ctx context.Context, s jetstream.Stream, subj string, limit int) ([]uint64, error) {
	var out []uint64
	for next := uint64(1); len(out) < limit; {
		m, err := s.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m.Sequence)
		next = m.Sequence + 1
	}
	return out, nil
}

// moveMisfiled writes one message to the outbox bound for its partition,
// unless an earlier repair already did, then deletes the original.
func (t *Topics) moveMisfiled(ctx context.Context, s jetstream.Stream, ti TopicInfo, m misplaced) error {
	orig, err := s.GetMsg(ctx, m.seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // moved by a repair running at the same time
	}
	if err != nil {
		return err
	}
	subj := wire.RepairOutboxSubject(ti.Name, m.seq, core.Partition(m.key, ti.Partitions), m.key, m.tag)
	is, err := t.js.Stream(ctx, wire.InternalStream(ti.Name))
	if err != nil {
		return err
	}
	if _, err := is.GetLastMsgForSubject(ctx, subj); errors.Is(err, jetstream.ErrMsgNotFound) {
		msg := &nats.Msg{Subject: subj, Header: nats.Header{}, Data: orig.Data}
		for k, v := range orig.Header {
			if !strings.HasPrefix(k, "Nats-") {
				msg.Header[k] = v
			}
		}
		msg.Header.Set(wire.HeaderRepairedFrom, strconv.FormatUint(m.seq, 10))
		if _, err := t.js.PublishMsg(ctx, msg); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, m.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}

// handleRepair serves TOPIC.REPAIR.
func (t *Topics) handleRepair(ctx context.Context, m *nats.Msg, name string) (any, error) {
	st, err := t.status(ctx, name)
	if err != nil {
		return nil, err
	}
	r, err := t.repair(ctx, st.Config)
	if err != nil {
		return nil, err
	}
	return r, nil
}
