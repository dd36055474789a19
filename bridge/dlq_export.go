package bridge

import (
	"context"

	"github.com/jetmq/jetmq/semantics"
)

// DLQExportRequest is the body of $MQ.API.DLQ.EXPORT.<topic>.<group>.
type DLQExportRequest struct {
	From  uint64 `json:"from,omitempty"`
	Limit *int   `json:"limit,omitempty"`
}

// DLQExport is one page of dead letters with their headers and bodies.
type DLQExport struct {
	Messages []semantics.DeadLetter `json:"messages"`
	// Next is the "from" of the next page; 0 when this page is the last.
	Next uint64 `json:"next,omitempty"`
}

// dlqExport reads one page of a group's dead letters, bodies included,
// with one batch direct get (DLQ.LIST leaves the bodies out, and SHOW
// reads one at a time): what an NDJSON export walks through.
func (s *GroupService) dlqExport(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req DLQExportRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	limit := semantics.DefaultMsgPage
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > semantics.MaxMsgPage {
			return nil, errBadRequest("limit: %d is outside 1 to %d", *req.Limit, semantics.MaxMsgPage)
		}
		limit = *req.Limit
	}
	if _, err := s.dlqStream(ctx, topic); err != nil {
		return nil, err
	}
	// Bodies travel in base64 (4/3) with their headers repeated as JSON.
	budget := (int(s.nc.MaxPayload()) - replyReserve) / 2
	page, err := directRequest(ctx, s.nc, semantics.DLQStream(topic), directGet{
		Seq: max(req.From, 1), NextFor: semantics.DLQSubject(topic, group), Batch: limit, MaxBytes: budget})
	if err != nil {
		return nil, errUnavailable("read DLQ of %q: %v", topic, err)
	}
	out := DLQExport{Messages: []semantics.DeadLetter{}}
	for _, m := range page.Msgs {
		d, err := semantics.ParseDeadLetter(ownHeaders(m.Header), m.Data, directSeq(m))
		if err != nil {
			continue // not a dead letter jetmq wrote; LIST skips it too
		}
		out.Messages = append(out.Messages, d)
	}
	if page.Pending > 0 && len(page.Msgs) > 0 {
		out.Next = directSeq(page.Msgs[len(page.Msgs)-1]) + 1
	}
	return out, nil
}
