package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// txnListMax bounds the transactions one listing reads.
const txnListMax = 1000

func (t *TxnService) onAPI(ctx context.Context, m *nats.Msg) (any, error) {
	rest := strings.TrimPrefix(m.Subject, wire.TxnAPIPrefix)
	toks := strings.Split(rest, ".")
	switch {
	case len(toks) == 2 && toks[0] == "LIST":
		return t.apiList(ctx, m, toks[1])
	case len(toks) == 3 && toks[0] == "INFO":
		return t.apiInfo(ctx, m, toks[1], toks[2])
	default:
		return nil, errBadRequest("unknown transaction API request %q: want %sLIST.<topic> or %sINFO.<topic>.<txid>", m.Subject, wire.TxnAPIPrefix, wire.TxnAPIPrefix)
	}
}

func (t *TxnService) apiList(ctx context.Context, m *nats.Msg, topic string) (any, error) {
	var req wire.TxnListRequest
	if err := decodeRequest("transaction list request", m.Data, &req); err != nil {
		return nil, err
	}
	if req.Limit <= 0 || req.Limit > txnListMax {
		req.Limit = txnListMax
	}
	if _, ok := t.topics.Lookup(topic); !ok {
		return nil, errTopicNotFound(topic)
	}
	kind := wire.TxnKindHalf
	if req.Parked {
		kind = wire.TxnKindParked
	}
	ids, err := t.store.txnIDs(ctx, topic, kind)
	if err != nil {
		return nil, storeError("list transactions", err)
	}
	reply := wire.TxnListReply{Topic: topic, Total: len(ids), Transactions: []wire.TxnSummary{}}
	if len(ids) > req.Limit {
		ids, reply.Truncated = ids[:req.Limit], true
	}
	for _, id := range ids {
		rec, err := t.store.read(ctx, topic, id)
		if err != nil {
			return nil, storeError("read transaction", err)
		}
		v := rec.view(t.cfg)
		if len(rec.Halves) == 0 || (req.Parked && !v.Parked) {
			continue // ended since the subjects were listed
		}
		reply.Transactions = append(reply.Transactions, wire.TxnSummary{
			TxnID: id, State: v.State(), Group: rec.Halves[0].Header.Get(wire.HeaderProducerGroup),
			Messages: len(rec.Halves), Checks: v.Checks, PreparedAt: v.PreparedAt,
		})
	}
	return reply, nil
}

func (t *TxnService) apiInfo(ctx context.Context, m *nats.Msg, topic, txid string) (any, error) {
	if err := core.ValidateTxnID(txid); err != nil {
		return nil, errBadRequest("%v", err)
	}
	if _, ok := t.topics.Lookup(topic); !ok {
		return nil, errTopicNotFound(topic)
	}
	rec, err := t.store.read(ctx, topic, txid)
	if err != nil {
		return nil, storeError("read transaction", err)
	}
	v := rec.view(t.cfg)
	if v.State() == "" {
		return nil, errNotFound("transaction %q of topic %q not found", txid, topic)
	}
	reply := wire.TxnInfoReply{Topic: topic, TxnID: txid, State: v.State(), Checks: v.Checks}
	if rec.End != nil {
		var e txnEnd
		if json.Unmarshal(rec.End.Data, &e) == nil {
			reply.EndedBy, reply.EndedAt = e.By, &e.At
		}
		reply.Group = rec.End.Header.Get(wire.HeaderProducerGroup)
	} else if rec.committed() {
		reply.EndedBy, reply.EndedAt, reply.Group = cmp.Or(rec.EndedBy, wire.TxnByProducer), &rec.EndedAt, rec.Group
	}
	for _, h := range rec.Halves {
		reply.Group = h.Header.Get(wire.HeaderProducerGroup)
		reply.Messages = append(reply.Messages, halfInfo(topic, h))
	}
	if !v.PreparedAt.IsZero() {
		reply.PreparedAt = &v.PreparedAt
	}
	if len(rec.Halves) == 0 {
		reply.Messages, reply.PreparedAt = endedParts(topic, rec)
	}
	return reply, nil
}

// halfInfo describes half message h of topic.
func halfInfo(topic string, h txnMsg) wire.TxnMessageInfo {
	_, _, part, _ := wire.ParseTxnSubject(topic, h.Subject)
	return wire.TxnMessageInfo{
		Part: part, Key: h.Header.Get(wire.HeaderKey), Tag: h.Header.Get(wire.HeaderTag),
		Size: len(h.Data), Headers: userHeaders(h.Header, halfOnlyHeaders...),
	}
}

// endedParts is what remains of an ended transaction's messages and its
// prepare time: the committed parts, or what the rollback's end record
// kept.
func endedParts(topic string, rec *txnRecord) ([]wire.TxnMessageInfo, *time.Time) {
	var e txnEnd
	if rec.End != nil && json.Unmarshal(rec.End.Data, &e) == nil {
		return e.Parts, e.PreparedAt
	}
	var out []wire.TxnMessageInfo
	for _, m := range rec.Parts {
		out = append(out, committedInfo(topic, m))
	}
	return out, earliestPrepare(rec.Parts)
}

// committedInfo describes a committed part: an outbox message
// ($MQ.INT.T.O.<txid>.<part>.<p>.<key>[.<tag>]) or one waiting for its
// delay, whose schedule targets that outbox subject.
func committedInfo(topic string, m txnMsg) wire.TxnMessageInfo {
	kind, txid, part, _ := wire.ParseTxnSubject(topic, m.Subject)
	outbox := m.Subject
	if kind == wire.TxnKindDelayed {
		outbox = m.Header.Get(hdrScheduleTarget)
	}
	info := wire.TxnMessageInfo{Part: part, Size: len(m.Data), Headers: userHeaders(m.Header, halfOnlyHeaders...)}
	for _, k := range []string{wire.HeaderTxnID, wire.HeaderProducerGroup, wire.HeaderTxnPreparedAt} {
		info.Headers.Del(k) // the broker's, as on a half message
	}
	stored := topic + strings.TrimPrefix(outbox, wire.InternalPrefix+topic+"."+wire.TxnKindOutbox+"."+txid+"."+part)
	if sm, err := wire.ParseStoredSubject(stored); err == nil {
		info.Tag = sm.Tag
		if sm.Key != wire.KeylessKey {
			info.Key = sm.Key
		}
	}
	return info
}

// earliestPrepare is the earliest Mq-Txn-Prepared-At of msgs (nil when
// none has one): when the transaction was prepared.
func earliestPrepare(msgs []txnMsg) *time.Time {
	var first *time.Time
	for _, m := range msgs {
		if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(wire.HeaderTxnPreparedAt)); err == nil && (first == nil || t.Before(*first)) {
			first = &t
		}
	}
	return first
}
