package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Dead-letter queue layout. Each topic has one DLQ stream, %DLQ%<topic>
// ('%' cannot occur in a topic name, so it never collides with a topic),
// holding the dead letters of all its groups on $MQ.DLQ.<topic>.<group>.
// Any NATS client can read it like any stream.
const (
	DLQStreamPrefix = "%DLQ%"
	DLQPrefix       = "$MQ.DLQ."
	// HeaderOrigMsgID keeps the original Nats-Msg-Id of a dead letter; the
	// DLQ copy carries its own for de-duplication.
	HeaderOrigMsgID = "Mq-Orig-Msg-Id"
	// HeaderReplayOf marks a replayed message with the DLQ sequence it
	// came from.
	HeaderReplayOf = "Mq-Replay-Of"
)

// DLQStream is the name of topic's dead-letter stream.
func DLQStream(topic string) string { return DLQStreamPrefix + topic }

// DLQSubject is the subject group's dead letters are stored on.
func DLQSubject(topic, group string) string { return DLQPrefix + topic + "." + group }

// DLQStreamSubjects are the subjects of topic's dead-letter stream.
func DLQStreamSubjects(topic string) []string { return []string{DLQPrefix + topic + ".*"} }

// DLQMsgID is the Nats-Msg-Id of the DLQ copy of the message at stream
// sequence seq for group (and broadcasting member): whoever copies it —
// the member, a member that takes over after a crash, or the broker's
// mover — writes the same id, so the DLQ stores it once.
func DLQMsgID(topic, group, member string, seq uint64) string {
	return "dlq:" + topic + ":" + group + ":" + member + ":" + strconv.FormatUint(seq, 10)
}

// ReplayMsgID is the Nats-Msg-Id of the replay of DLQ message dlqSeq: a
// replay that is repeated after a crash is stored once by the topic.
func ReplayMsgID(topic string, dlqSeq uint64) string {
	return "replay:" + DLQStream(topic) + ":" + strconv.FormatUint(dlqSeq, 10)
}

// DeadLetter is one message in a dead-letter queue.
type DeadLetter struct {
	Topic     string      `json:"topic"`
	Group     string      `json:"group"`
	Member    string      `json:"member,omitempty"` // broadcasting groups
	Subject   string      `json:"subject"`          // original stored subject
	Partition int         `json:"partition"`
	Key       string      `json:"key"`
	Tag       string      `json:"tag,omitempty"`
	Seq       uint64      `json:"seq"` // original stream sequence
	Attempts  int         `json:"attempts"`
	Error     string      `json:"last_error"`
	DeadAt    time.Time   `json:"dead_at"`
	Headers   nats.Header `json:"headers,omitempty"` // original headers
	Data      []byte      `json:"data,omitempty"`
	// DLQSeq is the sequence in the DLQ stream (set when read back).
	DLQSeq uint64 `json:"dlq_seq,omitempty"`
}

// dlqHeaders are the headers a DLQ copy adds; a replay removes them.
var dlqHeaders = []string{HeaderTopic, HeaderGroup, HeaderMember, HeaderOrigSubject, HeaderOrigSeq,
	HeaderPartition, HeaderKey, HeaderTag, HeaderAttempt, HeaderError, HeaderDeadAt}

// maxErrorText bounds the error text kept in a header.
const maxErrorText = 1024

// NewDeadLetter builds the dead letter of a message stored on subject at
// seq that failed attempts times, the last time with errText.
func NewDeadLetter(group, member, subject string, seq uint64, attempts int, errText string, hdr nats.Header, data []byte, now time.Time) (DeadLetter, error) {
	sm, err := ParseStoredSubject(subject)
	if err != nil {
		return DeadLetter{}, err
	}
	return DeadLetter{Topic: sm.Topic, Group: group, Member: member, Subject: subject, Partition: sm.Partition,
		Key: sm.Key, Tag: sm.Tag, Seq: seq, Attempts: attempts, Error: errText, DeadAt: now.UTC(), Headers: hdr, Data: data}, nil
}

// MsgID is the de-duplication id of the DLQ copy.
func (d DeadLetter) MsgID() string { return DLQMsgID(d.Topic, d.Group, d.Member, d.Seq) }

// Header is the DLQ copy's header: the original headers (JetStream's
// Nats-* publish controls left out, the original Nats-Msg-Id kept as
// Mq-Orig-Msg-Id) plus what the dead letter records.
func (d DeadLetter) Header() nats.Header {
	h := nats.Header{}
	for k, vs := range d.Headers {
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	if id := d.Headers.Get(HeaderNatsMsgID); id != "" {
		h.Set(HeaderOrigMsgID, id)
	}
	h.Set(HeaderTopic, d.Topic)
	h.Set(HeaderGroup, d.Group)
	if d.Member != "" {
		h.Set(HeaderMember, d.Member)
	}
	h.Set(HeaderOrigSubject, d.Subject)
	h.Set(HeaderOrigSeq, strconv.FormatUint(d.Seq, 10))
	h.Set(HeaderPartition, strconv.Itoa(d.Partition))
	h.Set(HeaderKey, d.Key)
	if d.Tag != "" {
		h.Set(HeaderTag, d.Tag)
	}
	h.Set(HeaderAttempt, strconv.Itoa(d.Attempts))
	h.Set(HeaderError, oneLineText(d.Error, maxErrorText))
	h.Set(HeaderDeadAt, d.DeadAt.Format(time.RFC3339Nano))
	h.Set(HeaderNatsMsgID, d.MsgID())
	return h
}

// Msg is the DLQ copy as a NATS message ready to publish.
func (d DeadLetter) Msg() *nats.Msg {
	return &nats.Msg{Subject: DLQSubject(d.Topic, d.Group), Header: d.Header(), Data: d.Data}
}

// ParseDeadLetter reads a message of a DLQ stream back.
func ParseDeadLetter(h nats.Header, data []byte, dlqSeq uint64) (DeadLetter, error) {
	d := DeadLetter{Topic: h.Get(HeaderTopic), Group: h.Get(HeaderGroup), Member: h.Get(HeaderMember),
		Subject: h.Get(HeaderOrigSubject), Key: h.Get(HeaderKey), Tag: h.Get(HeaderTag), Error: h.Get(HeaderError),
		Data: data, DLQSeq: dlqSeq}
	if d.Topic == "" || d.Subject == "" {
		return DeadLetter{}, fmt.Errorf("DLQ message %d lacks %s or %s", dlqSeq, HeaderTopic, HeaderOrigSubject)
	}
	d.Seq, _ = strconv.ParseUint(h.Get(HeaderOrigSeq), 10, 64)
	d.Partition, _ = strconv.Atoi(h.Get(HeaderPartition))
	d.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempt))
	d.DeadAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderDeadAt))
	d.Headers = nats.Header{}
	for k, vs := range h {
		if k == HeaderNatsMsgID || isDLQHeader(k) {
			continue
		}
		d.Headers[k] = append([]string(nil), vs...)
	}
	return d, nil
}

// ReplayMsg is the message a replay publishes: to the topic's input
// subject with the original key and tag (the broker maps it to the
// partition again), the original headers, and a Nats-Msg-Id derived from
// the DLQ sequence so a repeated replay is stored once.
func (d DeadLetter) ReplayMsg() *nats.Msg {
	h := nats.Header{}
	for k, vs := range d.Headers {
		if k == HeaderOrigMsgID {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	h.Set(HeaderReplayOf, strconv.FormatUint(d.DLQSeq, 10))
	h.Set(HeaderNatsMsgID, ReplayMsgID(d.Topic, d.DLQSeq))
	key := d.Key
	if key == KeylessKey {
		key = "" // keyless: spread again
	}
	subj := InputSubject(d.Topic, key, d.Tag)
	if key == "" && d.Tag != "" {
		// A keyless tagged message keeps its tag under the keyless key.
		subj = InputSubject(d.Topic, KeylessKey, d.Tag)
	}
	return &nats.Msg{Subject: subj, Header: h, Data: d.Data}
}

func isDLQHeader(k string) bool {
	for _, h := range dlqHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// oneLineText makes s fit a header: one line, at most n bytes.
func oneLineText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n]
	}
	return s
}
