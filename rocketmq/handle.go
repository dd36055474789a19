package rocketmq

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
)

// Handle is what a receipt handle carries: everything an ack, a nak or a
// dead-letter of one delivery needs, so that any node can act on it.
type Handle struct {
	Topic    string `json:"t"`
	Group    string `json:"g"`
	Consumer string `json:"c"`           // the JetStream consumer that delivered it
	Reply    string `json:"r"`           // its $JS.ACK reply subject
	Subject  string `json:"s"`           // stored subject, for a dead letter
	Seq      uint64 `json:"q"`           // stream sequence
	Attempt  int    `json:"a"`           // delivery count
	Node     string `json:"n,omitempty"` // ordered deliveries: the node holding the message
	Push     bool   `json:"p,omitempty"` // delivered to a push consumer (kept alive)
	Deadline int64  `json:"d"`           // unix ms after which the handle is expired
}

// handleEncoding is strict, so that one handle has one spelling.
var handleEncoding = base64.RawURLEncoding.Strict()

// maxHandleLen bounds a receipt handle before it is decoded.
const maxHandleLen = 4096

// handleMACLen is the length of the truncated HMAC-SHA256 tag.
const handleMACLen = 16

// Errors a receipt handle can fail with; all map to INVALID_RECEIPT_HANDLE.
var (
	ErrHandleMalformed = errors.New("malformed receipt handle")
	ErrHandleForged    = errors.New("receipt handle signature does not match")
	ErrHandleExpired   = errors.New("receipt handle expired")
)

// Signer signs and verifies receipt handles with a secret every node shares.
type Signer struct{ secret []byte }

// NewSigner returns a Signer for secret (at least 16 bytes).
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("receipt handle secret shorter than 16 bytes")
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("jetmq-rmq-handle-v1\n"))
	m.Write(payload)
	return m.Sum(nil)[:handleMACLen]
}

// Sign encodes h as base64url(JSON) "." base64url(MAC).
func (s *Signer) Sign(h Handle) string {
	payload, _ := json.Marshal(h)
	return handleEncoding.EncodeToString(payload) + "." + handleEncoding.EncodeToString(s.mac(payload))
}

// Parse verifies and decodes a receipt handle; now decides expiry.
func (s *Signer) Parse(handle string, now time.Time) (Handle, error) {
	var h Handle
	if handle == "" || len(handle) > maxHandleLen {
		return h, ErrHandleMalformed
	}
	i := strings.LastIndexByte(handle, '.')
	if i < 0 {
		return h, ErrHandleMalformed
	}
	payload, err1 := handleEncoding.DecodeString(handle[:i])
	mac, err2 := handleEncoding.DecodeString(handle[i+1:])
	if err1 != nil || err2 != nil || len(mac) != handleMACLen {
		return h, ErrHandleMalformed
	}
	if !hmac.Equal(mac, s.mac(payload)) {
		return h, ErrHandleForged
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Handle{}, ErrHandleMalformed
	}
	if err := h.check(); err != nil {
		return Handle{}, fmt.Errorf("%w: %v", ErrHandleMalformed, err)
	}
	if now.UnixMilli() > h.Deadline {
		return h, ErrHandleExpired
	}
	return h, nil
}

// check validates a decoded handle's fields against each other, so that
// even a handle signed by a buggy node can only ack its own group's
// consumer on its own topic.
func (h Handle) check() error {
	if core.ValidateTopicName(h.Topic) != nil || core.ValidateGroupName(h.Group) != nil {
		return errors.New("bad topic or group")
	}
	if !ConsumerOfGroup(h.Group, h.Consumer) {
		return errors.New("consumer is not the group's")
	}
	if h.Node != "" {
		// An ordered delivery is held by a node; Reply is its id there.
		if core.ValidateToken("node", h.Node) != nil || core.ValidateToken("delivery id", h.Reply) != nil || h.Consumer == h.Group {
			return errors.New("bad ordered delivery")
		}
	} else if err := checkAckSubject(h); err != nil {
		return err
	}
	if _, err := wire.ParseStoredSubject(h.Subject); err != nil {
		return err
	}
	if h.Attempt < 1 {
		return errors.New("attempt below 1")
	}
	return nil
}

func checkAckSubject(h Handle) error {
	toks := strings.Split(h.Reply, ".")
	switch {
	case len(toks) < 9 || toks[0] != "$JS" || toks[1] != "ACK":
		return errors.New("not an ack subject")
	case len(toks) == 9 && (toks[2] != h.Topic || toks[3] != h.Consumer):
		return errors.New("ack subject of another consumer")
	case len(toks) > 9 && (len(toks) < 11 || toks[4] != h.Topic || toks[5] != h.Consumer):
		return errors.New("ack subject of another consumer")
	}
	return nil
}

// ConsumerOfGroup reports whether JetStream consumer c belongs to group g:
// the clustering durable g, an ordered group's partition consumer g~p<n>.
func ConsumerOfGroup(g, c string) bool {
	if c == g {
		return true
	}
	rest, ok := strings.CutPrefix(c, g+"~p")
	if !ok || rest == "" || len(rest) > 4 {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
