package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
)

// maxReplaySelected bounds the dead letters one "replay selected" sends
// (one DLQ.REPLAY request each).
const maxReplaySelected = 100

// maxExport bounds the dead letters one export writes.
const maxExport = 100_000

// replayRequest replays the dead letters Seqs, or up to Limit of the
// oldest (the page's "replay all" calls it once a second with its rate).
type replayRequest struct {
	Seqs  []uint64 `json:"seqs,omitempty"`
	Limit int      `json:"limit,omitempty"`
}

type replayResult struct {
	Replayed  int             `json:"replayed"`
	Remaining json.RawMessage `json:"remaining,omitempty"`
	Failed    []replayFailure `json:"failed,omitempty"`
}

type replayFailure struct {
	Seq   uint64    `json:"seq"`
	Error *apiError `json:"error"`
}

func replayDLQ(ctx context.Context, s *session, r *http.Request) (any, error) {
	t, g := r.PathValue("topic"), r.PathValue("group")
	if !subjectToken(t) || !subjectToken(g) {
		return nil, errBadRequest("bad topic or group name")
	}
	var req replayRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return nil, err
	}
	subject := dlqAPI + "REPLAY." + t + "." + g
	if len(req.Seqs) == 0 {
		if req.Limit <= 0 {
			return nil, errBadRequest("give seqs, or a limit of 1 or more")
		}
		return s.call(ctx, subject, map[string]int{"limit": req.Limit})
	}
	if len(req.Seqs) > maxReplaySelected {
		return nil, errBadRequest("at most %d dead letters at once (got %d)", maxReplaySelected, len(req.Seqs))
	}
	var out replayResult
	for _, seq := range req.Seqs {
		raw, err := s.call(ctx, subject, map[string]uint64{"seq": seq})
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || ae.Kind == "permission" {
				return nil, err
			}
			out.Failed = append(out.Failed, replayFailure{Seq: seq, Error: ae})
			continue
		}
		var rr struct {
			Replayed  int             `json:"replayed"`
			Remaining json.RawMessage `json:"remaining"`
		}
		_ = json.Unmarshal(raw, &rr)
		out.Replayed += rr.Replayed
		out.Remaining = rr.Remaining
	}
	return out, nil
}

// exportDLQ writes a group's dead letters as NDJSON, one per line, with
// headers and base64 bodies, walking DLQ.EXPORT pages (at most maxExport
// letters). An error after the first line ends the file with an
// {"error":…} line.
func exportDLQ(ctx context.Context, s *session, r *http.Request) (any, error) {
	t, g := r.PathValue("topic"), r.PathValue("group")
	if !subjectToken(t) || !subjectToken(g) {
		return nil, errBadRequest("bad topic or group name")
	}
	subject := dlqAPI + "EXPORT." + t + "." + g
	first, err := s.call(ctx, subject, map[string]any{"limit": 1000})
	if err != nil {
		return nil, err
	}
	w := r.Context().Value(responseKey{}).(http.ResponseWriter)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+t+"-"+g+`-dlq.ndjson"`)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	page, written := first, 0
	for {
		var p struct {
			Messages []json.RawMessage `json:"messages"`
			Next     uint64            `json:"next"`
		}
		if err := json.Unmarshal(page, &p); err != nil {
			writeLineErr(bw, err)
			return nil, nil
		}
		for _, m := range p.Messages {
			_, _ = bw.Write(m)
			_ = bw.WriteByte('\n')
			written++
		}
		if p.Next == 0 || written >= maxExport {
			return nil, nil
		}
		if page, err = s.call(ctx, subject, map[string]any{"from": p.Next, "limit": 1000}); err != nil {
			writeLineErr(bw, err)
			return nil, nil
		}
	}
}

func writeLineErr(bw *bufio.Writer, err error) {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	_, _ = bw.Write(append(b, '\n'))
}

// responseKey puts the ResponseWriter in the request context for the
// endpoints that stream (export).
type responseKey struct{}

// sendRequest is a test message: keyed or not, tagged or not, delayed or
// in a transaction (prepared only: it waits in Transactions to be ended).
type sendRequest struct {
	Key       string            `json:"key,omitempty"`
	Tag       string            `json:"tag,omitempty"`
	Data      string            `json:"data"`
	Headers   map[string]string `json:"headers,omitempty"`
	Delay     string            `json:"delay,omitempty"`
	DeliverAt string            `json:"deliver_at,omitempty"`
	Txn       *struct {
		ID            string `json:"id"`
		ProducerGroup string `json:"producer_group"`
	} `json:"txn,omitempty"`
}

// sendTest sends one test message: a JetStream publish to the topic's
// input subject (a request, so the stream's ack or error comes back), a
// $MQ.DELAY request, or a $MQ.TXN.PREPARE.
func sendTest(ctx context.Context, s *session, r *http.Request) (any, error) {
	t := r.PathValue("topic")
	var req sendRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"topic": t, "key": req.Key, "tag": req.Tag} {
		if (v != "" || name == "topic") && !subjectToken(v) {
			return nil, errBadRequest("%s %q is not one subject token", name, v)
		}
	}
	tail := ""
	switch {
	case req.Key != "" && req.Tag != "":
		tail = "." + req.Key + "." + req.Tag
	case req.Key != "":
		tail = "." + req.Key
	case req.Tag != "":
		tail = "._." + req.Tag
	}
	m := nats.NewMsg(t + tail)
	m.Data = []byte(req.Data)
	for k, v := range req.Headers {
		m.Header.Set(strings.TrimSpace(k), v)
	}
	if req.Delay != "" {
		m.Header.Set("Mq-Delay", req.Delay)
	}
	if req.DeliverAt != "" {
		m.Header.Set("Mq-Deliver-At", req.DeliverAt)
	}
	switch {
	case req.Txn != nil:
		m.Subject = txnEndPrefix + "PREPARE." + t + tail
		m.Header.Set("Mq-Txn-Id", req.Txn.ID)
		m.Header.Set("Mq-Producer-Group", req.Txn.ProducerGroup)
	case req.Delay != "" || req.DeliverAt != "":
		m.Subject = "$MQ.DELAY." + t + tail
	}
	return s.request(ctx, m)
}
