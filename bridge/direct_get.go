package bridge

import (
	"context"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// The count in Nats-Num-Pending of a batch direct get (jsapi.DirectGet)
// makes per-partition lag one request per partition (countFrom) instead of
// one consumer per partition.

// countFrom is the number of messages of stream on filter at or after seq:
// a batch of one reports the rest in Nats-Num-Pending.
func countFrom(ctx context.Context, nc *nats.Conn, stream, filter string, seq uint64) (uint64, error) {
	page, err := jsapi.DirectGet(ctx, nc, stream, jsapi.MsgGetRequest{Seq: max(seq, 1), NextBySubj: filter, Batch: 1, MaxBytes: 1})
	if err != nil {
		return 0, err
	}
	return uint64(len(page.Msgs)) + page.Pending, nil
}

// topicMsg reads a direct-get reply of a topic stream; ok is false for a
// message that is not on a stored subject.
func topicMsg(m *nats.Msg) (wire.TopicMsg, bool) {
	subj := m.Header.Get("Nats-Subject")
	sm, err := wire.ParseStoredSubject(subj)
	if err != nil {
		return wire.TopicMsg{}, false
	}
	seq, _ := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	at, _ := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
	h := jsapi.OwnHeaders(m.Header)
	out := wire.TopicMsg{Seq: seq, Subject: subj, Partition: sm.Partition, Key: sm.Key, Tag: sm.Tag,
		Time: at, Data: m.Data, Size: len(m.Data)}
	if len(h) > 0 {
		out.Headers = h
		out.Size += headerSize(h)
	}
	if out.Data == nil {
		out.Data = []byte{}
	}
	return out, true
}
