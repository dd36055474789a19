package bridge

import (
	"context"
	"errors"
	"strings"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// casRetries bounds how often a write guarded by the transaction's last
// sequence is retried after reading what changed.
const casRetries = 6

func (t *TxnService) onPrepare(ctx context.Context, m *nats.Msg) (any, error) {
	req, aerr := wire.ParsePrepare(m.Subject, m.Header, m.Data)
	if aerr != nil {
		return nil, aerr
	}
	ti, ok := t.topics.Lookup(req.Topic)
	if !ok {
		return nil, errTopicNotFound(req.Topic)
	}
	now := t.now()
	if d, at := m.Header.Get(wire.HeaderDelay), m.Header.Get(wire.HeaderDeliverAt); d != "" || at != "" {
		if _, err := wire.DeliveryTime(at, d, now, ti.MaxDelay); err != nil {
			return nil, errBadRequest("%v", err)
		}
	}
	if err := checkStoredSize(m, t.nc.MaxPayload(), "transactional message"); err != nil {
		return nil, err
	}
	immunity := t.cfg.CheckImmunity
	if req.HasImmunity {
		immunity = req.Immunity
	}
	reply, err := t.prepare(ctx, req, halfMsg(req, m, now, immunity))
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// prepare stores half (a fresh half message of req) unless the transaction
// has ended or already holds this part.
func (t *TxnService) prepare(ctx context.Context, req wire.PrepareRequest, half *nats.Msg) (wire.PrepareReply, error) {
	rec := t.cache.get(req.Topic, req.TxnID)
	for range casRetries {
		var last uint64
		if rec != nil {
			if end := rec.view(t.cfg).End; end != "" {
				return wire.PrepareReply{}, errConflict("transaction %q of topic %q is already %s", req.TxnID, req.Topic, end)
			}
			if h, ok := rec.half(req.Part); ok {
				return wire.PrepareReply{Stream: req.Topic, Seq: h.Seq, TxnID: req.TxnID, Part: req.Part, Duplicate: true}, nil
			}
			if len(rec.Halves) >= wire.MaxTxnMessages {
				return wire.PrepareReply{}, errBadRequest("transaction %q already holds %d messages, the most one transaction may have", req.TxnID, wire.MaxTxnMessages)
			}
			if len(rec.Halves) > 0 {
				if g := rec.Halves[0].Header.Get(wire.HeaderProducerGroup); g != req.Group {
					return wire.PrepareReply{}, errConflict("transaction %q belongs to producer group %q, not %q", req.TxnID, g, req.Group)
				}
			}
			last = rec.Last
		}
		guard(half, req.Topic, req.TxnID, last)
		ack, err := t.store.publish(ctx, half)
		if err == nil {
			t.cache.put(withHalf(rec, req, half, ack.Sequence), t.now())
			return wire.PrepareReply{Stream: req.Topic, Seq: ack.Sequence, TxnID: req.TxnID, Part: req.Part}, nil
		}
		if !isWrongLast(err) {
			return wire.PrepareReply{}, storeError("store half message", err)
		}
		if rec, err = t.store.readLeader(ctx, req.Topic, req.TxnID); err != nil {
			return wire.PrepareReply{}, storeError("read transaction", err)
		}
		t.cache.put(rec, t.now())
	}
	return wire.PrepareReply{}, errUnavailable("transaction %q changed %d times during the prepare; try again", req.TxnID, casRetries)
}

// withHalf is rec (nil for a new transaction) plus the stored half.
func withHalf(rec *txnRecord, req wire.PrepareRequest, half *nats.Msg, seq uint64) *txnRecord {
	out := &txnRecord{Topic: req.Topic, ID: req.TxnID}
	if rec != nil {
		out.Halves = append(out.Halves, rec.Halves...)
	}
	out.Halves = append(out.Halves, txnMsg{Subject: half.Subject, Seq: seq, Header: half.Header, Data: half.Data})
	out.Last = seq
	return out
}

// storeError turns a JetStream failure into an API error: an *APIError
// in err keeps its code; too large is 413; no answer, or JetStream saying
// it is unavailable (no leader yet), is 503; anything else is 500.
func storeError(what string, err error) error {
	var ae *jetstream.APIError
	var own *wire.APIError
	switch {
	case errors.As(err, &own):
		return apiErr(own.Code, "%s: %s", what, own.Description)
	case errors.Is(err, nats.ErrMaxPayload), errors.As(err, &ae) && ae.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum,
		err != nil && strings.Contains(err.Error(), "maximum payload"):
		return errTooLarge("%s: %v", what, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.As(err, &ae) && ae.Code == wire.CodeUnavailable:
		return errUnavailable("%s: %v", what, err)
	}
	return errInternal("%s: %v", what, err)
}
