package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// The inspection APIs (MSG, DELAY, GROUP.LAG) read streams with JetStream
// direct get rather than with an ephemeral ordered consumer. Why: a direct
// get is one request answered by any replica from its store, with no Raft
// proposal and no state left behind, and its batch form returns up to
// `batch` messages matching a wildcard subject plus an end-of-batch
// message carrying Nats-Num-Pending (the matching messages after the
// batch). An ephemeral consumer costs a create (a meta-layer proposal in
// a cluster), a pull and a delete for the same page. Measured on this
// machine, one node, a page of 100 small messages, median of 31
// (TestDirectGetCheaperThanConsumer): batch direct get 2.5 ms, ephemeral
// ordered consumer 4.1 ms, MSG.LIST (direct get plus this service's hop
// and JSON) 5.2 ms; in a cluster the consumer's create also waits for the
// meta leader, which direct get never does.
// The count in Nats-Num-Pending also makes per-partition lag one request
// per partition (countFrom) instead of one consumer per partition.

// directGet is one $JS.API.DIRECT.GET request (JSApiMsgGetRequest).
type directGet struct {
	Seq       uint64     `json:"seq,omitempty"`
	LastFor   string     `json:"last_by_subj,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	Batch     int        `json:"batch,omitempty"`
	MaxBytes  int        `json:"max_bytes,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	UpToSeq   uint64     `json:"up_to_seq,omitempty"`
}

// directPage is what a direct get returned: the messages and, for a batch,
// how many matching messages follow the last one.
type directPage struct {
	Msgs    []*nats.Msg
	Pending uint64
}

// Headers direct get adds to each message it returns.
var directHeaders = []string{"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Num-Pending", "Nats-Last-Sequence"}

// errNoStream: no server answered the direct get (the stream is gone, or
// has no replica that serves direct gets yet).
var errNoStream = errors.New("stream not found or not available")

// directRequest sends req to stream and collects the replies: one message
// (or a 404, an empty page) without Batch; with Batch, messages up to the
// end-of-batch marker.
func directRequest(ctx context.Context, nc *nats.Conn, stream string, req directGet) (directPage, error) {
	var page directPage
	body, err := json.Marshal(req)
	if err != nil {
		return page, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return page, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, body); err != nil {
		return page, err
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return page, err
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			page.Msgs = append(page.Msgs, m)
			if req.Batch == 0 {
				return page, nil
			}
		case "204": // end of batch
			page.Pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return page, nil
		case "404":
			return page, nil
		case "503":
			return page, errNoStream
		default:
			return page, errors.New("direct get: " + status + " " + m.Header.Get("Description"))
		}
	}
}

// countFrom is the number of messages of stream on filter at or after seq:
// a batch of one reports the rest in Nats-Num-Pending.
func countFrom(ctx context.Context, nc *nats.Conn, stream, filter string, seq uint64) (uint64, error) {
	page, err := directRequest(ctx, nc, stream, directGet{Seq: max(seq, 1), NextFor: filter, Batch: 1, MaxBytes: 1})
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
	h := ownHeaders(m.Header)
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

// ownHeaders are a direct-get reply's headers without those direct get
// added.
func ownHeaders(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		out[k] = v
	}
	for _, k := range directHeaders {
		delete(out, k)
	}
	return out
}

// directSeq is the stream sequence of a direct-get reply.
func directSeq(m *nats.Msg) uint64 {
	seq, _ := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	return seq
}

// jsRequest sends a JetStream API request and decodes its reply into out;
// a JetStream error comes back as *jsError.
func jsRequest(ctx context.Context, nc *nats.Conn, subject string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	m, err := nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		return err
	}
	var e struct {
		Error *jsError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return err
	}
	if e.Error != nil {
		return e.Error
	}
	return json.Unmarshal(m.Data, out)
}

// jsError is a JetStream API error reply.
type jsError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *jsError) Error() string { return e.Description }
