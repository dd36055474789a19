package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/nats-io/nats.go"
)

// Transaction subjects. A transaction of topic T with id X keeps everything
// inside T's stream, outside T.> (docs/PROTOCOL.md, "Transactions"):
//
//	$MQ.INT.T.H.X.<part>  one half message per part, a repeating NATS message
//	                      schedule (the transaction's durable timer)
//	$MQ.INT.T.O.X.<part>.<p>.<key>[.<tag>]
//	                      a committed part (the outbox the topic sources):
//	                      written in the same guarded write that purges its
//	                      half message, it is also the proof of the commit
//	$MQ.INT.T.E.X.end     the end record of a rollback (who, when)
//	$MQ.INT.T.TD.X.<part> a committed message that waits for its delay (a
//	                      schedule targeting its O subject)
//	$MQ.INT.T.C.X         check-due notices the timers fire
//	$MQ.INT.T.N           the empty message every notice copies
//	$MQ.INT.T.P.X         the parked marker
//
// Every prepare, rewrite and end is guarded by the last sequence over
// $MQ.INT.T.*.X.> (TxnFilter) — a commit's first message is, the others by
// their own half messages — so writers of one transaction are serialised
// by the stream and it ends once.
const (
	TxnKindHalf    = "H"
	TxnKindOutbox  = "O"
	TxnKindEnd     = "E"
	TxnKindDelayed = "TD"
	TxnKindNotice  = "C"
	TxnKindParked  = "P"
	txnEndToken    = "end"

	// TxnAPIPrefix is the admin API of transactions:
	// $MQ.API.TXN.LIST.<topic> and $MQ.API.TXN.INFO.<topic>.<txid>.
	TxnAPIPrefix = APIPrefix + "TXN."

	// MaxTxnMessages bounds the messages of one transaction (one atomic
	// batch on commit).
	MaxTxnMessages = 100
	// MaxCheckImmunity bounds Mq-Check-Immunity.
	MaxCheckImmunity = 24 * time.Hour
	// TxnParkPeriod is the period of a parked half message's schedule: it
	// never fires within the life of a topic's messages.
	TxnParkPeriod = 87600 * time.Hour
	// TxnByProducer, TxnByCheck and TxnByOperator say who ended a
	// transaction (Mq-Txn-By on end requests and in end records).
	TxnByProducer = "producer"
	TxnByCheck    = "check"
	TxnByOperator = "operator"
)

func txnInternal(topic, kind string) string { return InternalPrefix + topic + "." + kind + "." }

// TxnHalfSubject is where part of transaction txid waits for its end.
func TxnHalfSubject(topic, txid, part string) string {
	return txnInternal(topic, TxnKindHalf) + txid + "." + part
}

// TxnEndSubject holds the end record of transaction txid.
func TxnEndSubject(topic, txid string) string {
	return txnInternal(topic, TxnKindEnd) + txid + "." + txnEndToken
}

// TxnDelayedSubject holds a committed part of txid that waits for its delay.
func TxnDelayedSubject(topic, txid, part string) string {
	return txnInternal(topic, TxnKindDelayed) + txid + "." + part
}

// TxnNoticeSubject receives the check-due notices of txid's timers.
func TxnNoticeSubject(topic, txid string) string { return txnInternal(topic, TxnKindNotice) + txid }

// TxnNoticeSource holds the one empty message whose content every check
// notice of topic takes (Nats-Schedule-Source), so that a timer firing
// stores a few bytes, not a copy of the half message.
func TxnNoticeSource(topic string) string { return InternalPrefix + topic + ".N" }

// TxnParkedSubject marks txid as parked.
func TxnParkedSubject(topic, txid string) string { return txnInternal(topic, TxnKindParked) + txid }

// TxnFilter matches every half, committed, end and delayed subject of txid
// (not its notices or parked marker): the subject whose last sequence
// guards each write of the transaction.
func TxnFilter(topic, txid string) string { return InternalPrefix + topic + ".*." + txid + ".>" }

// TxnKindFilter matches the subjects of one kind of every transaction.
func TxnKindFilter(topic, kind string) string { return txnInternal(topic, kind) + ">" }

// TxnPrepareSubject is where a producer prepares a message.
func TxnPrepareSubject(topic, key, tag string) string {
	return TxnPrefix + "PREPARE." + InputSubject(topic, key, tag)
}

// TxnCommitSubject and TxnRollbackSubject end transaction txid.
func TxnCommitSubject(topic, txid string) string { return TxnPrefix + "COMMIT." + topic + "." + txid }

// TxnRollbackSubject rolls transaction txid back.
func TxnRollbackSubject(topic, txid string) string {
	return TxnPrefix + "ROLLBACK." + topic + "." + txid
}

// TxnCheckSubject is where the broker asks producer group for the state of
// a transaction.
func TxnCheckSubject(group string) string { return TxnPrefix + "CHECK." + group }

// ParseTxnSubject takes "<kind>.<txid>[.<part>]" (and a committed part's
// "O.<txid>.<part>.<p>.<key>[.<tag>]") after $MQ.INT.<topic>. apart; ok is
// false for subjects that are not transaction subjects.
func ParseTxnSubject(topic, subject string) (kind, txid, part string, ok bool) {
	rest, found := strings.CutPrefix(subject, InternalPrefix+topic+".")
	if !found {
		return "", "", "", false
	}
	toks := strings.Split(rest, ".")
	maxToks := 3
	if toks[0] == TxnKindOutbox {
		maxToks = 6
	}
	if len(toks) < 2 || len(toks) > maxToks || core.ValidateTxnID(toks[1]) != nil {
		return "", "", "", false
	}
	if len(toks) >= 3 {
		part = toks[2]
	}
	return toks[0], toks[1], part, true
}

// PrepareRequest is a validated prepare.
type PrepareRequest struct {
	Topic string
	Key   string // "" for a keyless message
	Tag   string
	TxnID string
	Group string
	// Immunity is the per-message Mq-Check-Immunity; HasImmunity says it
	// was given (0 is a legal value: check at the first chance).
	Immunity    time.Duration
	HasImmunity bool
	// Part names the message inside its transaction: the same message
	// prepared twice has the same part, so a repeated prepare is harmless.
	Part string
}

func badRequest(format string, args ...any) *APIError {
	return &APIError{Code: 400, Description: fmt.Sprintf(format, args...)}
}

// ParsePrepare validates a prepare request: its subject
// ($MQ.TXN.PREPARE.<topic>[.<key>[.<tag>]]) and headers. It checks neither
// that the topic exists nor the delay against the topic's limit.
func ParsePrepare(subject string, h nats.Header, data []byte) (PrepareRequest, *APIError) {
	rest, ok := strings.CutPrefix(subject, TxnPrefix+"PREPARE.")
	if !ok {
		return PrepareRequest{}, badRequest("subject %q: want %sPREPARE.<topic>.<key>[.<tag>]", subject, TxnPrefix)
	}
	r := PrepareRequest{}
	var aerr *APIError
	if r.Topic, r.Key, r.Tag, aerr = parseInput(rest, TxnPrefix+"PREPARE.<topic>[.<key>[.<tag>]]"); aerr != nil {
		return r, aerr
	}
	r.TxnID = strings.TrimSpace(h.Get(HeaderTxnID))
	if r.TxnID == "" {
		return r, badRequest("missing header %s", HeaderTxnID)
	}
	if err := core.ValidateTxnID(r.TxnID); err != nil {
		return r, badRequest("%s: %v", HeaderTxnID, err)
	}
	r.Group = strings.TrimSpace(h.Get(HeaderProducerGroup))
	if r.Group == "" {
		return r, badRequest("missing header %s", HeaderProducerGroup)
	}
	if err := core.ValidateGroupName(r.Group); err != nil {
		return r, badRequest("%s: %v", HeaderProducerGroup, err)
	}
	if v := h.Get(HeaderCheckImmunity); v != "" {
		d, err := ParseCheckImmunity(v)
		if err != nil {
			return r, badRequest("%v", err)
		}
		r.Immunity, r.HasImmunity = d, true
	}
	if aerr := CheckClientHeaders(h, HeaderTxnID, HeaderProducerGroup); aerr != nil {
		return r, aerr
	}
	r.Part = TxnPart(rest, h, data)
	return r, nil
}

// ParseCheckImmunity reads Mq-Check-Immunity: seconds, decimals allowed.
func ParseCheckImmunity(v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s %q is not a number of seconds", HeaderCheckImmunity, v)
	}
	if f < 0 || f > MaxCheckImmunity.Seconds() {
		return 0, fmt.Errorf("%s %q is out of range 0-%d seconds", HeaderCheckImmunity, v, int(MaxCheckImmunity.Seconds()))
	}
	return time.Duration(f * float64(time.Second)), nil
}

// TxnPart names one message of a transaction: a hash of its Nats-Msg-Id
// when it has one, else of its input subject, headers and body. Two
// prepares of the same message are one part; to put two identical messages
// in one transaction, give them different Nats-Msg-Id headers.
func TxnPart(input string, h nats.Header, data []byte) string {
	sum := sha256.New()
	if id := h.Get(HeaderNatsMsgID); id != "" {
		sum.Write([]byte("id\x00" + id))
	} else {
		sum.Write([]byte(input + "\x00"))
		keys := make([]string, 0, len(h))
		for k := range h {
			if k != HeaderCheckImmunity {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			sum.Write([]byte(k + "\x00" + strings.Join(h[k], "\x01") + "\x00"))
		}
		sum.Write(data)
	}
	return hex.EncodeToString(sum.Sum(nil)[:8])
}

// EndRequest is a parsed commit or rollback.
type EndRequest struct {
	Topic string
	TxnID string
	State string // TxnStateCommit or TxnStateRollback
	By    string // TxnByProducer or TxnByOperator
}

// ParseEnd validates $MQ.TXN.COMMIT|ROLLBACK.<topic>.<txid>.
func ParseEnd(subject string, h nats.Header) (EndRequest, *APIError) {
	rest, ok := strings.CutPrefix(subject, TxnPrefix)
	if !ok {
		return EndRequest{}, badRequest("subject %q is not a transaction subject", subject)
	}
	toks := strings.Split(rest, ".")
	if len(toks) != 3 || (toks[0] != "COMMIT" && toks[0] != "ROLLBACK") {
		return EndRequest{}, badRequest("subject %q: want %sCOMMIT.<topic>.<txid> or %sROLLBACK.<topic>.<txid>", subject, TxnPrefix, TxnPrefix)
	}
	r := EndRequest{State: toks[0], Topic: toks[1], TxnID: toks[2], By: TxnByProducer}
	if err := core.ValidateTopicName(r.Topic); err != nil {
		return r, badRequest("%v", err)
	}
	if err := core.ValidateTxnID(r.TxnID); err != nil {
		return r, badRequest("%v", err)
	}
	switch by := strings.TrimSpace(h.Get(HeaderTxnBy)); by {
	case "", TxnByProducer:
	case TxnByOperator:
		r.By = by
	default:
		return r, badRequest("%s %q is not one of %s, %s", HeaderTxnBy, by, TxnByProducer, TxnByOperator)
	}
	return r, nil
}

// ParseCheckAnswer reads a producer's answer to a check: Mq-Txn-State, or
// else the body alone (surrounding white space and letter case ignored).
// ok is false for a malformed answer, which the broker treats as UNKNOWN.
func ParseCheckAnswer(h nats.Header, data []byte) (state string, ok bool) {
	v := ""
	if h != nil {
		v = h.Get(HeaderTxnState)
	}
	if v == "" {
		if len(data) > 64 {
			return core.TxnStateUnknown, false
		}
		v = string(data)
	}
	switch s := strings.ToUpper(strings.TrimSpace(v)); s {
	case core.TxnStateCommit, core.TxnStateRollback, core.TxnStateUnknown:
		return s, true
	}
	return core.TxnStateUnknown, false
}

// TimerPattern is the Nats-Schedule of a half message whose next check is
// d away: a repeating schedule (it fires without moving the half message),
// whole seconds, at least one.
func TimerPattern(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return "@every " + strconv.FormatInt(s, 10) + "s"
}
