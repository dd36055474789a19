package rocketmq

import (
	"bytes"
	"strings"
	"testing"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"google.golang.org/protobuf/proto"
)

// FuzzConversionAndHandles feeds arbitrary messages (as protobuf bytes)
// through ToNATS and back through FromNATS, and arbitrary strings through
// the receipt-handle parser: nothing panics, what converts round-trips its
// keys, tag and body, and no handle that this signer did not sign parses.
func FuzzConversionAndHandles(f *testing.F) {
	seed := &v2.Message{Topic: &v2.Resource{Name: "orders"}, Body: []byte("hi"), UserProperties: map[string]string{"a": "b"},
		SystemProperties: &v2.SystemProperties{Keys: []string{"k 1", "k2"}, Tag: strp("t.x"), MessageId: "01AB", MessageType: v2.MessageType_NORMAL}}
	b, _ := proto.Marshal(seed)
	f.Add(b, "x.y", "~")
	fifo := proto.Clone(seed).(*v2.Message)
	fifo.SystemProperties.MessageType = v2.MessageType_FIFO
	fifo.SystemProperties.MessageGroup = strp("~grp")
	b, _ = proto.Marshal(fifo)
	f.Add(b, "", "a.b")
	signer, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	// A fixed deadline (2100): the fuzzing workers rebuild the seeds.
	goodHandle := Handle{Topic: "orders", Group: "g", Consumer: "g", Reply: "$JS.ACK.orders.g.1.2.3.4.5", Subject: "orders.1.k", Seq: 2, Attempt: 1, Deadline: 4102444800000}
	good := signer.Sign(goodHandle)
	f.Add([]byte{}, good, good[:len(good)-2]+"AA")
	f.Fuzz(func(t *testing.T, raw []byte, handle, token string) {
		if tok, err := EncodeToken(token); err == nil {
			if core.ValidateToken("t", tok) != nil || DecodeToken(tok) != token {
				t.Fatalf("token %q encodes to %q, which does not round-trip", token, tok)
			}
		}
		if h, err := signer.Parse(handle, time.Now()); err == nil && (h != goodHandle || handle != good) {
			t.Fatalf("a handle this signer did not sign parsed: %q as %+v", handle, h)
		}
		var m v2.Message
		if proto.Unmarshal(raw, &m) != nil {
			return
		}
		out, cerr := ToNATS(&m, 1<<20)
		if cerr != nil {
			return
		}
		subject := wire.StoredSubject(out.Topic, 0, out.Key, out.Tag)
		back, err := FromNATS(Incoming{Subject: subject, Header: out.Header, Data: out.Data, Seq: 1, Stored: time.Now(), FIFO: out.Type == v2.MessageType_FIFO})
		if err != nil {
			t.Fatalf("stored subject %q of a converted message: %v", subject, err)
		}
		sp := m.GetSystemProperties()
		if !bytes.Equal(back.GetBody(), out.Data) || (sp.Tag != nil && back.GetSystemProperties().GetTag() != sp.GetTag()) {
			t.Fatalf("round trip lost body or tag: %+v", back)
		}
		if len(back.GetSystemProperties().GetKeys()) != len(sp.GetKeys()) {
			t.Fatalf("round trip keys %v, sent %v", back.GetSystemProperties().GetKeys(), sp.GetKeys())
		}
		for k, v := range m.GetUserProperties() {
			if back.GetUserProperties()[k] != v {
				t.Fatalf("property %q lost", k)
			}
		}
	})
}

func strp(s string) *string { return &s }

func TestHandleForgedExpiredAndOtherGroup(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	other, _ := NewSigner([]byte("fedcba9876543210fedcba9876543210"))
	h := Handle{Topic: "orders", Group: "g", Consumer: "g", Reply: "$JS.ACK.orders.g.1.2.3.4.5", Subject: "orders.1.k", Seq: 2, Attempt: 1, Deadline: time.Now().Add(time.Minute).UnixMilli()}
	if got, err := s.Parse(s.Sign(h), time.Now()); err != nil || got != h {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := s.Parse(other.Sign(h), time.Now()); err != ErrHandleForged {
		t.Fatalf("other secret: %v", err)
	}
	if _, err := s.Parse(s.Sign(h), time.Now().Add(2*time.Minute)); err != ErrHandleExpired {
		t.Fatalf("expired: %v", err)
	}
	bad := h
	bad.Reply = "$JS.ACK.orders.other.1.2.3.4.5"
	if _, err := s.Parse(s.Sign(bad), time.Now()); err == nil {
		t.Fatal("a handle naming another group's consumer parsed")
	}
	for _, raw := range []string{"", ".", "abc", "a.b", strings.Repeat("x", 5000)} {
		if _, err := s.Parse(raw, time.Now()); err == nil {
			t.Fatalf("%q parsed", raw)
		}
	}
}
