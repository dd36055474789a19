package wire

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestDeadLetterRoundTripAndReplay(t *testing.T) {
	hdr := nats.Header{"X-Trace": []string{"abc"}, HeaderNatsMsgID: []string{"orig-1"}, "Nats-Expected-Stream": []string{"orders"}}
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	d, err := NewDeadLetter("email", "", "orders.3.alice.vip", 42, 16, "smtp down\nretry later", hdr, []byte("body"), now)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Msg()
	if m.Subject != "$MQ.DLQ.orders.email" {
		t.Fatalf("DLQ subject %q", m.Subject)
	}
	if m.Header.Get("Nats-Expected-Stream") != "" {
		t.Fatal("publish controls of the original must not be copied")
	}
	if m.Header.Get(HeaderNatsMsgID) != DLQMsgID("orders", "email", "", 42) || m.Header.Get(HeaderOrigMsgID) != "orig-1" {
		t.Fatalf("msg ids: %v", m.Header)
	}
	if m.Header.Get(HeaderError) != "smtp down retry later" {
		t.Fatalf("error header %q must be one line", m.Header.Get(HeaderError))
	}
	back, err := ParseDeadLetter(m.Header, m.Data, 7)
	if err != nil {
		t.Fatal(err)
	}
	if back.Key != "alice" || back.Tag != "vip" || back.Partition != 3 || back.Seq != 42 || back.Attempts != 16 ||
		!back.DeadAt.Equal(now) || back.Group != "email" || string(back.Data) != "body" || back.Headers.Get("X-Trace") != "abc" {
		t.Fatalf("round trip lost something: %+v", back)
	}
	r := back.ReplayMsg()
	if r.Subject != "orders.alice.vip" {
		t.Fatalf("replay subject %q, want the input subject with key and tag", r.Subject)
	}
	if r.Header.Get(HeaderNatsMsgID) != ReplayMsgID("orders", 7) || r.Header.Get(HeaderReplayOf) != "7" {
		t.Fatalf("replay headers %v", r.Header)
	}
	for _, h := range []string{HeaderError, HeaderAttempt, HeaderOrigSubject, HeaderGroup, HeaderOrigMsgID} {
		if r.Header.Get(h) != "" {
			t.Fatalf("replay carries dead-letter header %s", h)
		}
	}
	keyless, _ := NewDeadLetter("g", "m1", "orders.0._", 1, 1, "e", nil, nil, now)
	if s := mustParse(t, keyless).ReplayMsg().Subject; s != "orders" {
		t.Fatalf("keyless replay to %q, want the bare topic", s)
	}
}

func mustParse(t *testing.T, d DeadLetter) DeadLetter {
	t.Helper()
	m := d.Msg()
	back, err := ParseDeadLetter(m.Header, m.Data, 1)
	if err != nil {
		t.Fatal(err)
	}
	if back.Member != d.Member {
		t.Fatalf("member %q lost", d.Member)
	}
	return back
}
