package rocketmq

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// Headers the endpoint writes so that a RocketMQ message survives the trip
// through NATS unchanged (docs/ROCKETMQ.md). NATS consumers see them too.
const (
	HeaderKeys         = "Mq-Rmq-Keys"          // every key, one header value each
	HeaderTag          = "Mq-Rmq-Tag"           // the original tag when its subject token is encoded
	HeaderMessageGroup = "Mq-Rmq-Message-Group" // a FIFO message's group
	HeaderMessageID    = "Mq-Rmq-Msg-Id"        // the client's message id
	HeaderBornAt       = "Mq-Rmq-Born-At"       // RFC 3339 time the client made it
	HeaderBornHost     = "Mq-Rmq-Born-Host"
)

// Outgoing is a RocketMQ message translated for jetmq.
type Outgoing struct {
	Type      v2.MessageType
	Topic     string
	Key       string // subject token; wire.KeylessKey when keyless
	Tag       string // subject token; "" when untagged
	Header    nats.Header
	Data      []byte
	DeliverAt time.Time     // DELAY
	Immunity  time.Duration // TRANSACTION: orphaned_transaction_recovery_duration
	MessageID string
}

// ConvError is a conversion failure with the RocketMQ status code it
// answers with.
type ConvError struct {
	Code v2.Code
	Msg  string
}

func (e *ConvError) Error() string { return e.Msg }

func convErr(code v2.Code, format string, args ...any) *ConvError {
	return &ConvError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// maxBodyHeadroom is what a message must leave of max_payload for the
// headers jetmq itself adds (a delayed or half message gets more).
const maxBodyHeadroom = 2048

// ToNATS translates one message of a SendMessageRequest. maxPayload is the
// server's max_payload.
func ToNATS(m *v2.Message, maxPayload int) (*Outgoing, *ConvError) {
	if m == nil || m.GetTopic() == nil || m.GetSystemProperties() == nil {
		return nil, convErr(v2.Code_BAD_REQUEST, "message without topic or system properties")
	}
	sp := m.GetSystemProperties()
	o := &Outgoing{Type: sp.GetMessageType(), Topic: m.GetTopic().GetName(), Key: wire.KeylessKey, Header: nats.Header{}, MessageID: sp.GetMessageId()}
	if err := core.ValidateTopicName(o.Topic); err != nil {
		return nil, convErr(v2.Code_ILLEGAL_TOPIC, "topic %q: %v", o.Topic, err)
	}
	body, cerr := decodeBody(m.GetBody(), sp.GetBodyEncoding())
	if cerr != nil {
		return nil, cerr
	}
	o.Data = body
	if cerr := o.setType(sp); cerr != nil {
		return nil, cerr
	}
	if cerr := o.setKeys(sp); cerr != nil {
		return nil, cerr
	}
	if cerr := o.setProperties(m.GetUserProperties()); cerr != nil {
		return nil, cerr
	}
	o.setSystemHeaders(sp)
	size := len(o.Data)
	for k, vs := range o.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	if limit := maxPayload - maxBodyHeadroom; size > limit {
		return nil, convErr(v2.Code_MESSAGE_BODY_TOO_LARGE, "message of %d bytes (body and properties) exceeds the limit of %d bytes", size, limit)
	}
	return o, nil
}

func decodeBody(b []byte, enc v2.Encoding) ([]byte, *ConvError) {
	switch enc {
	case v2.Encoding_IDENTITY, v2.Encoding_ENCODING_UNSPECIFIED:
		return b, nil
	case v2.Encoding_GZIP:
		// The clients compress with gzip (Java) or zlib; accept both.
		var r io.Reader
		if gz, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			r = gz
		} else if zr, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
			r = zr
		} else {
			return nil, convErr(v2.Code_MESSAGE_CORRUPTED, "body is marked GZIP but is not gzip or zlib data")
		}
		out, err := io.ReadAll(io.LimitReader(r, 64<<20))
		if err != nil {
			return nil, convErr(v2.Code_MESSAGE_CORRUPTED, "body does not decompress: %v", err)
		}
		return out, nil
	}
	return nil, convErr(v2.Code_BAD_REQUEST, "unknown body encoding %v", enc)
}

func (o *Outgoing) setType(sp *v2.SystemProperties) *ConvError {
	hasGroup, hasDelay := sp.MessageGroup != nil, sp.GetDeliveryTimestamp() != nil
	switch o.Type {
	case v2.MessageType_NORMAL:
		if hasGroup || hasDelay {
			return convErr(v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, "a NORMAL message has no message group or delivery time")
		}
	case v2.MessageType_FIFO:
		if !hasGroup || hasDelay {
			return convErr(v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, "a FIFO message needs a message group and no delivery time")
		}
	case v2.MessageType_DELAY:
		if !hasDelay || hasGroup {
			return convErr(v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, "a DELAY message needs a delivery time and no message group")
		}
		if err := sp.GetDeliveryTimestamp().CheckValid(); err != nil {
			return convErr(v2.Code_ILLEGAL_DELIVERY_TIME, "delivery time: %v", err)
		}
		o.DeliverAt = sp.GetDeliveryTimestamp().AsTime()
	case v2.MessageType_TRANSACTION:
		if hasGroup || hasDelay {
			return convErr(v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, "a TRANSACTION message has no message group or delivery time")
		}
		if d := sp.GetOrphanedTransactionRecoveryDuration(); d != nil {
			if d.CheckValid() != nil || d.AsDuration() < 0 || d.AsDuration() > 24*time.Hour {
				return convErr(v2.Code_BAD_REQUEST, "orphaned_transaction_recovery_duration must be 0-24h")
			}
			o.Immunity = d.AsDuration()
		}
	default:
		return convErr(v2.Code_UNSUPPORTED, "message type %v is not supported by jetmq (NORMAL, FIFO, DELAY and TRANSACTION are)", o.Type)
	}
	if sp.Priority != nil || sp.LiteTopic != nil {
		return convErr(v2.Code_UNSUPPORTED, "priority and lite-topic messages are not supported by jetmq")
	}
	return nil
}

func (o *Outgoing) setKeys(sp *v2.SystemProperties) *ConvError {
	for _, k := range sp.GetKeys() {
		if strings.TrimSpace(k) == "" || len(k) > maxTokenSource {
			return convErr(v2.Code_ILLEGAL_MESSAGE_KEY, "message key %q must be 1-%d bytes and not blank", k, maxTokenSource)
		}
		o.Header.Add(HeaderKeys, k)
	}
	shard := ""
	if o.Type == v2.MessageType_FIFO {
		shard = sp.GetMessageGroup()
		if strings.TrimSpace(shard) == "" {
			return convErr(v2.Code_ILLEGAL_MESSAGE_GROUP, "empty message group")
		}
		o.Header.Set(HeaderMessageGroup, shard)
	} else if len(sp.GetKeys()) > 0 {
		shard = sp.GetKeys()[0]
	}
	if shard != "" {
		tok, err := EncodeToken(shard)
		if err != nil {
			return convErr(v2.Code_ILLEGAL_MESSAGE_GROUP, "sharding key %q: %v", shard, err)
		}
		o.Key = tok
	}
	if sp.Tag != nil {
		tok, err := EncodeToken(sp.GetTag())
		if err != nil || strings.Contains(sp.GetTag(), "||") {
			return convErr(v2.Code_ILLEGAL_MESSAGE_TAG, "tag %q must be 1-%d bytes without '||'", sp.GetTag(), maxTokenSource)
		}
		o.Tag = tok
		if tok != sp.GetTag() {
			o.Header.Set(HeaderTag, sp.GetTag())
		}
	}
	return nil
}

func (o *Outgoing) setProperties(props map[string]string) *ConvError {
	for k, v := range props {
		if !validHeaderName(k) {
			return convErr(v2.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "property key %q is not a valid header name (no white space, ':' or control characters)", k)
		}
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "nats-") || strings.HasPrefix(lk, "mq-") {
			return convErr(v2.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "property key %q is reserved (Nats-* and Mq-* belong to NATS and jetmq)", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return convErr(v2.Code_BAD_REQUEST, "property %q has a line break in its value", k)
		}
		o.Header.Set(k, v)
	}
	return nil
}

func validHeaderName(k string) bool {
	if k == "" || len(k) > 256 {
		return false
	}
	for _, r := range k {
		if r <= ' ' || r == ':' || r >= 0x7f {
			return false
		}
	}
	return true
}

func (o *Outgoing) setSystemHeaders(sp *v2.SystemProperties) {
	if id := sp.GetMessageId(); id != "" && validHeaderValue(id) {
		o.Header.Set(HeaderMessageID, id)
		// The client resends a message with the same id after a timeout:
		// JetStream's de-duplication stores it once.
		o.Header.Set(wire.HeaderNatsMsgID, "rmq:"+id)
	}
	if ts := sp.GetBornTimestamp(); ts != nil && ts.CheckValid() == nil {
		o.Header.Set(HeaderBornAt, ts.AsTime().UTC().Format(time.RFC3339Nano))
	}
	if h := sp.GetBornHost(); h != "" && validHeaderValue(h) {
		o.Header.Set(HeaderBornHost, h)
	}
}

func validHeaderValue(v string) bool { return len(v) <= 256 && !strings.ContainsAny(v, "\r\n") }

// Incoming describes a stored message for FromNATS.
type Incoming struct {
	Subject   string // stored subject T.<p>.<key>[.<tag>]
	Header    nats.Header
	Data      []byte
	Seq       uint64
	Stored    time.Time
	Attempt   int
	FIFO      bool // delivered to a FIFO group: the key is the message group
	Handle    string
	Invisible time.Duration
}

// FromNATS translates a stored message into the RocketMQ message a
// consumer receives.
func FromNATS(in Incoming) (*v2.Message, error) {
	sm, err := wire.ParseStoredSubject(in.Subject)
	if err != nil {
		return nil, err
	}
	h := in.Header
	key := ""
	if sm.Key != wire.KeylessKey {
		key = DecodeToken(sm.Key)
	}
	sp := &v2.SystemProperties{
		MessageId:    h.Get(HeaderMessageID),
		BodyEncoding: v2.Encoding_IDENTITY,
		BodyDigest:   &v2.Digest{Type: v2.DigestType_CRC32, Checksum: strings.ToUpper(strconv.FormatInt(int64(crc32.ChecksumIEEE(in.Data)), 16))},
		MessageType:  v2.MessageType_NORMAL,
		QueueId:      int32(sm.Partition),
		BornHost:     h.Get(HeaderBornHost),
		StoreHost:    "jetmq",
	}
	if sp.MessageId == "" {
		sp.MessageId = fmt.Sprintf("JETMQ%s%016X", strings.ToUpper(strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(sm.Topic))), 16)), in.Seq)
	}
	if vs := h.Values(HeaderKeys); len(vs) > 0 {
		sp.Keys = append([]string(nil), vs...)
	} else if key != "" {
		sp.Keys = []string{key}
	}
	if sm.Tag != "" {
		tag := h.Get(HeaderTag)
		if tag == "" {
			tag = DecodeToken(sm.Tag)
		}
		sp.Tag = &tag
	}
	setTimes(sp, h, in)
	if in.FIFO {
		sp.MessageType = v2.MessageType_FIFO
		if g := h.Get(HeaderMessageGroup); g != "" {
			sp.MessageGroup = &g
		} else if key != "" {
			sp.MessageGroup = &key
		}
	} else if h.Get(wire.HeaderTxnID) != "" {
		sp.MessageType = v2.MessageType_TRANSACTION
	} else if sp.DeliveryTimestamp != nil {
		sp.MessageType = v2.MessageType_DELAY
	}
	return &v2.Message{Topic: &v2.Resource{Name: sm.Topic}, SystemProperties: sp, UserProperties: userProperties(h), Body: in.Data}, nil
}

func setTimes(sp *v2.SystemProperties, h nats.Header, in Incoming) {
	sp.StoreTimestamp = timestamp(in.Stored)
	sp.BornTimestamp = sp.StoreTimestamp
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderBornAt)); err == nil {
		sp.BornTimestamp = timestamp(t)
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(wire.HeaderDeliverAt)); err == nil {
		sp.DeliveryTimestamp = timestamp(t)
	}
	if in.Seq > 0 {
		off := int64(in.Seq)
		sp.QueueOffset = &off
	}
	if in.Attempt > 0 {
		a := int32(in.Attempt)
		sp.DeliveryAttempt = &a
	}
	if in.Handle != "" {
		sp.ReceiptHandle = &in.Handle
	}
	if in.Invisible > 0 {
		sp.InvisibleDuration = duration(in.Invisible)
	}
}

// userProperties are the headers that are neither NATS's nor jetmq's.
func userProperties(h nats.Header) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if len(vs) == 0 || strings.HasPrefix(lk, "nats-") || strings.HasPrefix(lk, "mq-") {
			continue
		}
		out[k] = vs[0]
	}
	return out
}
