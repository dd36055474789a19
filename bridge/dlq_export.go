package bridge

import (
	"context"

	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
)

// dlqExport reads one page of a group's dead letters, bodies included,
// with one batch direct get (DLQ.LIST leaves the bodies out, and SHOW
// reads one at a time): what an NDJSON export walks through.
func (s *GroupService) dlqExport(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req wire.DLQExportRequest
	if err := decodeRequest("request", body, &req); err != nil {
		return nil, err
	}
	limit := wire.DefaultMsgPage
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > wire.MaxMsgPage {
			return nil, errBadRequest("limit: %d is outside 1 to %d", *req.Limit, wire.MaxMsgPage)
		}
		limit = *req.Limit
	}
	if _, err := s.dlqStream(ctx, topic); err != nil {
		return nil, err
	}
	// Bodies travel in base64 (4/3) with their headers repeated as JSON.
	budget := (int(s.nc.MaxPayload()) - replyReserve) / 2
	page, err := jsapi.DirectGet(ctx, s.nc, wire.DLQStream(topic), jsapi.MsgGetRequest{
		Seq: max(req.From, 1), NextBySubj: wire.DLQSubject(topic, group), Batch: limit, MaxBytes: budget})
	if err != nil {
		return nil, errUnavailable("read DLQ of %q: %v", topic, err)
	}
	out := wire.DLQExport{Messages: []wire.DeadLetter{}}
	for _, m := range page.Msgs {
		d, err := wire.ParseDeadLetter(jsapi.OwnHeaders(m.Header), m.Data, jsapi.Seq(m))
		if err != nil {
			continue // not a dead letter jetmq wrote; LIST skips it too
		}
		out.Messages = append(out.Messages, d)
	}
	if page.Pending > 0 && len(page.Msgs) > 0 {
		out.Next = jsapi.Seq(page.Msgs[len(page.Msgs)-1]) + 1
	}
	return out, nil
}
