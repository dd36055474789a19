package jsapi

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// jetmq's inspection APIs (MSG, DELAY, GROUP.LAG) and transaction reads use
// JetStream direct get rather than an ephemeral ordered consumer. Why: a
// direct get is one request answered by any replica from its store, with no
// Raft proposal and no state left behind, and its batch form returns up to
// `batch` messages matching a wildcard subject plus an end-of-batch message
// carrying Nats-Num-Pending (the matching messages after the batch). An
// ephemeral consumer costs a create (a meta-layer proposal in a cluster), a
// pull and a delete for the same page. Measured on this machine, one node,
// a page of 100 small messages, median of 31 (TestDirectGetCheaperThanConsumer):
// batch direct get 2.5 ms, ephemeral ordered consumer 4.1 ms, MSG.LIST
// (direct get plus the service's hop and JSON) 5.2 ms; in a cluster the
// consumer's create also waits for the meta leader, which direct get never
// does.

// MsgGetRequest is a $JS.API.DIRECT.GET or $JS.API.STREAM.MSG.GET request
// (JSApiMsgGetRequest).
type MsgGetRequest struct {
	Seq        uint64     `json:"seq,omitempty"`
	LastBySubj string     `json:"last_by_subj,omitempty"`
	NextBySubj string     `json:"next_by_subj,omitempty"`
	MultiLast  []string   `json:"multi_last,omitempty"`
	Batch      int        `json:"batch,omitempty"`
	MaxBytes   int        `json:"max_bytes,omitempty"`
	StartTime  *time.Time `json:"start_time,omitempty"`
	UpToSeq    uint64     `json:"up_to_seq,omitempty"`
}

// Page is what a direct get returned: the messages and, for a batch, how
// many matching messages follow the last one.
type Page struct {
	Msgs    []*nats.Msg
	Pending uint64
}

// directHeaders are the headers direct get adds to each message it returns.
var directHeaders = []string{"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Num-Pending", "Nats-Last-Sequence"}

// ErrNoStream: no server answered the direct get (the stream is gone, or
// has no replica that serves direct gets yet).
var ErrNoStream = errors.New("stream not found or not available")

// DirectGet sends req to stream and collects the replies: one message (or
// a 404, an empty page) without a batch; with Batch or MultiLast, messages
// up to the end-of-batch marker.
func DirectGet(ctx context.Context, nc *nats.Conn, stream string, req MsgGetRequest) (Page, error) {
	var page Page
	body, err := json.Marshal(req)
	if err != nil {
		return page, err
	}
	batched := req.Batch > 0 || len(req.MultiLast) > 0
	// A channel just large enough for the batch and its end marker: a
	// SubscribeSync would allocate the client's default 64k-slot channel
	// (512 KiB) for every read, which under a transaction check storm was
	// most of the garbage the process made.
	inbox := nc.NewRespInbox()
	replies := make(chan *nats.Msg, req.Batch+2)
	sub, err := nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return page, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(apiPrefix+"DIRECT.GET."+stream, inbox, body); err != nil {
		return page, err
	}
	for {
		var m *nats.Msg
		select {
		case m = <-replies:
		case <-ctx.Done():
			return page, ctx.Err()
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			page.Msgs = append(page.Msgs, m)
			if !batched {
				return page, nil
			}
		case "204": // end of batch
			page.Pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return page, nil
		case "404":
			return page, nil
		case "503":
			return page, ErrNoStream
		default:
			return page, errors.New("direct get: " + status + " " + m.Header.Get("Description"))
		}
	}
}

// OwnHeaders are a direct-get reply's headers without those direct get
// added.
func OwnHeaders(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		out[k] = v
	}
	for _, k := range directHeaders {
		delete(out, k)
	}
	return out
}
