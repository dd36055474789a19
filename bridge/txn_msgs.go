package bridge

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// Broker bookkeeping headers that never leave a half message.
var halfOnlyHeaders = []string{
	wire.HeaderTxnChecks, wire.HeaderTxnPreparedAt, wire.HeaderTxnState,
	wire.HeaderCheckImmunity, wire.HeaderDelay, wire.HeaderDeliverAt,
	wire.HeaderKey, wire.HeaderTag, wire.HeaderTopic,
	wire.HeaderTxnBy, // set by the broker on commit, never by a producer
}

// userHeaders copies h without JetStream's headers (Nats-*, including
// those a direct get adds) and without the names in drop.
func userHeaders(h nats.Header, drop ...string) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		if len(k) >= 5 && strings.EqualFold(k[:5], "nats-") || k == "Status" || k == "Description" {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	for _, k := range drop {
		out.Del(k)
	}
	return out
}

// halfMsg is the half message of a prepare: the client's message plus the
// broker's bookkeeping, stored as a repeating schedule whose firing (a
// notice on the transaction's notice subject) is the check-back timer.
func halfMsg(req wire.PrepareRequest, in *nats.Msg, now time.Time, immunity time.Duration) *nats.Msg {
	out := nats.NewMsg(wire.TxnHalfSubject(req.Topic, req.TxnID, req.Part))
	out.Header = userHeaders(in.Header)
	out.Header.Set(wire.HeaderTopic, req.Topic)
	out.Header.Set(wire.HeaderTxnID, req.TxnID)
	out.Header.Set(wire.HeaderProducerGroup, req.Group)
	if req.Key != "" {
		out.Header.Set(wire.HeaderKey, req.Key)
	}
	if req.Tag != "" {
		out.Header.Set(wire.HeaderTag, req.Tag)
	}
	out.Header.Set(wire.HeaderTxnPreparedAt, now.UTC().Format(time.RFC3339Nano))
	out.Header.Set(wire.HeaderTxnChecks, "0")
	setTimer(out, req.Topic, req.TxnID, immunity)
	out.Data = in.Data
	return out
}

// setTimer makes half message m fire a check notice every period. The
// notices are not rolled up: a rollup purges the notice subject on every
// firing, and each purge makes JetStream re-check every pending message of
// the check consumer and rewrite its state. The check driver removes
// handled notices in bulk instead (checkDriver.trimNotices).
//
// A notice takes its content from the topic's notice source, an empty
// message, rather than from the half message (the scheduler's default):
// the driver only needs the notice's subject, and a storm of large half
// messages would otherwise be stored again with every firing. Without the
// source message the notice falls back to a full copy, which is only
// slower.
func setTimer(m *nats.Msg, topic, txid string, period time.Duration) {
	m.Header.Set(hdrSchedule, wire.TimerPattern(period))
	m.Header.Set(hdrScheduleTarget, wire.TxnNoticeSubject(topic, txid))
	m.Header.Set(hdrScheduleSource, wire.TxnNoticeSource(topic))
}

// rewrittenHalf is half h again with new bookkeeping: checks sent so far,
// parked or not, and the timer's next period.
func rewrittenHalf(topic, txid string, h txnMsg, checks int, parked bool, period time.Duration) *nats.Msg {
	out := nats.NewMsg(h.Subject)
	out.Header = userHeaders(h.Header, wire.HeaderTxnState)
	out.Header.Set(wire.HeaderTxnChecks, strconv.Itoa(checks))
	if parked {
		out.Header.Set(wire.HeaderTxnState, core.TxnStateParked)
	}
	setTimer(out, topic, txid, period)
	out.Data = h.Data
	return out
}

// commitMsgs are the committed forms of rec's half messages (committedMsg),
// the first guarded by the transaction's last sequence rather than its own
// half message's: so the commit also fails when anything else changed the
// transaction since rec was read (a part prepared meanwhile, a rollback),
// and the caller reads again.
func commitMsgs(ti TopicInfo, rec *txnRecord, by string, now time.Time) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, 0, len(rec.Halves))
	for _, h := range rec.Halves {
		m, err := committedMsg(ti, rec.ID, h, now)
		if err != nil {
			return nil, fmt.Errorf("half message %s: %w", h.Subject, err)
		}
		if by != "" && by != wire.TxnByProducer {
			// Consumers (and jetmq txn info) can tell a message that
			// check-back or an operator committed.
			m.Header.Set(wire.HeaderTxnBy, by)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		guard(msgs[0], ti.Name, rec.ID, rec.Last)
	}
	return msgs, nil
}

// committedMsg is the committed form of half h: written to the outbox of
// the topic's internal stream on its transaction's own subject (the topic
// stream sources it exactly once, onto its partition), or, when it carries
// a delay counted from the commit at now, as a schedule that targets that
// outbox subject. Either way it is guarded by h's sequence and purges h in
// the same write, so it is stored at most once, and it stays in the
// internal stream as the proof that the transaction committed.
func committedMsg(ti TopicInfo, txid string, h txnMsg, now time.Time) (*nats.Msg, error) {
	key, tag := h.Header.Get(wire.HeaderKey), h.Header.Get(wire.HeaderTag)
	deliverAt, delay := h.Header.Get(wire.HeaderDeliverAt), h.Header.Get(wire.HeaderDelay)
	// PREPARE wrote valid tokens; a half message written by anyone else
	// must not put junk subjects into the outbox and the topic.
	for what, v := range map[string]string{"key": key, "tag": tag} {
		if err := core.ValidateToken(what, v); v != "" && err != nil {
			return nil, err
		}
	}
	p, k := 0, key
	if key == "" {
		p, k = rand.IntN(max(ti.Partitions, 1)), wire.KeylessKey
	} else {
		p = core.Partition(key, ti.Partitions)
	}
	_, _, part, _ := wire.ParseTxnSubject(ti.Name, h.Subject)
	outbox := wire.TxnOutboxSubject(ti.Name, txid, part, p, k, tag)
	out := nats.NewMsg(outbox)
	out.Header = userHeaders(h.Header, halfOnlyHeaders...)
	out.Header.Set(wire.HeaderTxnID, txid)
	if pa := h.Header.Get(wire.HeaderTxnPreparedAt); pa != "" {
		out.Header.Set(wire.HeaderTxnPreparedAt, pa) // TXN.INFO of the ended transaction
	}
	out.Data = h.Data
	if deliverAt != "" || delay != "" {
		at, err := wire.DeliveryTime(deliverAt, delay, now, ti.MaxDelay)
		if err != nil {
			return nil, err
		}
		out.Subject = wire.TxnDelayedSubject(ti.Name, txid, part)
		out.Header.Set(wire.HeaderDeliverAt, at.UTC().Format(time.RFC3339Nano))
		out.Header.Set(hdrSchedule, wire.ScheduleAt(at))
		out.Header.Set(hdrScheduleTarget, outbox)
	}
	out.Header.Set(hdrExpectedLastSubjSeq, strconv.FormatUint(h.Seq, 10))
	out.Header.Set(hdrExpectedLastSubjSeqSubj, h.Subject)
	out.Header.Set(hdrScheduler, h.Subject)
	out.Header.Set(hdrScheduleNext, "purge")
	return out, nil
}

// txnEnd is the body of an end record.
type txnEnd struct {
	State    string    `json:"state"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Messages int       `json:"messages"`
	// PreparedAt and Parts keep what TXN.INFO shows of the rolled-back
	// transaction once its half messages are purged.
	PreparedAt *time.Time            `json:"prepared_at,omitempty"`
	Parts      []wire.TxnMessageInfo `json:"parts,omitempty"`
}

// endMsg records the end of rec, a rollback (a commit is recorded by its
// committed messages), guarded by the transaction's last sequence so that
// exactly one end is ever recorded. It purges the first half message in
// the same write.
func endMsg(rec *txnRecord, state, by string, now time.Time) *nats.Msg {
	m := nats.NewMsg(wire.TxnEndSubject(rec.Topic, rec.ID))
	m.Header.Set(wire.HeaderTopic, rec.Topic)
	m.Header.Set(wire.HeaderTxnID, rec.ID)
	m.Header.Set(wire.HeaderTxnState, state)
	m.Header.Set(wire.HeaderTxnBy, by)
	if len(rec.Halves) > 0 {
		m.Header.Set(wire.HeaderProducerGroup, rec.Halves[0].Header.Get(wire.HeaderProducerGroup))
		m.Header.Set(hdrScheduler, rec.Halves[0].Subject)
		m.Header.Set(hdrScheduleNext, "purge")
	}
	e := txnEnd{State: state, By: by, At: now.UTC(), Messages: len(rec.Halves)}
	for _, h := range rec.Halves {
		info := halfInfo(rec.Topic, h)
		info.Headers = nil
		e.Parts = append(e.Parts, info)
	}
	e.PreparedAt = earliestPrepare(rec.Halves)
	m.Data, _ = json.Marshal(e)
	guard(m, rec.Topic, rec.ID, rec.Last)
	return m
}

// checkMsg is the check request for rec: its first half message as the
// producer sent it, plus Mq-Txn-Id, Mq-Topic, Mq-Producer-Group and the
// attempt number.
func checkMsg(rec *txnRecord, attempt int) *nats.Msg {
	h := rec.Halves[0]
	group := h.Header.Get(wire.HeaderProducerGroup)
	m := nats.NewMsg(wire.TxnCheckSubject(group))
	m.Header = userHeaders(h.Header, wire.HeaderTxnChecks, wire.HeaderTxnPreparedAt, wire.HeaderTxnState)
	m.Header.Set(wire.HeaderTxnID, rec.ID)
	m.Header.Set(wire.HeaderTopic, rec.Topic)
	m.Header.Set(wire.HeaderAttempt, strconv.Itoa(attempt))
	m.Data = h.Data
	return m
}

// headerSize estimates the wire size of h.
func headerSize(h nats.Header) int {
	n := 12
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
