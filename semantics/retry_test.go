package semantics

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestRetryPolicyDecisions(t *testing.T) {
	p := RetryPolicy{MaxReconsume: 3, Backoff: []time.Duration{time.Second, 5 * time.Second}}
	cases := []struct {
		name    string
		attempt int
		failed  bool
		want    Action
		delay   time.Duration
	}{
		{"success acks", 1, false, ActionAck, 0},
		{"first failure waits first step", 1, true, ActionRetry, time.Second},
		{"second failure waits second step", 2, true, ActionRetry, 5 * time.Second},
		{"last attempt dead-letters", 3, true, ActionDeadLetter, 0},
		{"success on last attempt acks", 3, false, ActionAck, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.OnResult(c.attempt, c.failed, "boom")
			if d.Action != c.want || d.Delay != c.delay {
				t.Fatalf("OnResult(%d, %v) = %v/%s, want %v/%s", c.attempt, c.failed, d.Action, d.Delay, c.want, c.delay)
			}
			if d.Action == ActionDeadLetter && d.Reason != "boom" {
				t.Fatalf("reason %q, want the handler's error", d.Reason)
			}
		})
	}
}

func TestRetryPolicyBeyondLadderAndCrashedLastAttempt(t *testing.T) {
	p := RetryPolicy{MaxReconsume: 10, Backoff: []time.Duration{time.Second, 2 * time.Second}}
	if d := p.OnResult(7, true, "x"); d.Action != ActionRetry || d.Delay != 2*time.Second {
		t.Fatalf("attempt beyond the ladder: %v %s, want retry after the last step", d.Action, d.Delay)
	}
	if p.MaxDeliver() != 11 {
		t.Fatalf("MaxDeliver %d, want MaxReconsume+1", p.MaxDeliver())
	}
	for attempt := 1; attempt <= 10; attempt++ {
		if d := p.OnDelivery(attempt); d.Action != ActionHandle {
			t.Fatalf("delivery %d: %v, want handle", attempt, d.Action)
		}
	}
	d := p.OnDelivery(11)
	if d.Action != ActionDeadLetter || d.Reason == "" {
		t.Fatalf("delivery past the last attempt: %v %q, want dead-letter with a reason", d.Action, d.Reason)
	}
}

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

func TestGroupCompatibility(t *testing.T) {
	g := GroupConfig{Name: "g", Topic: "t", Tags: []string{"a"}}
	g.SetDefaults()
	for _, c := range []struct {
		want GroupConfig
		ok   bool
	}{
		{GroupConfig{}, true},
		{GroupConfig{Mode: ModeClustering, Tags: []string{"a"}}, true},
		{GroupConfig{Mode: ModeBroadcasting}, false},
		{GroupConfig{Tags: []string{"b"}}, false},
		{GroupConfig{Ordered: true}, false},
		{GroupConfig{MaxReconsume: 3}, false},
	} {
		if got := g.CompatibleWith(c.want) == ""; got != c.ok {
			t.Fatalf("CompatibleWith(%+v) ok=%v, want %v", c.want, got, c.ok)
		}
	}
	if f := GroupFilters("t", nil); len(f) != 0 {
		t.Fatalf("untagged filter %v: a whole-topic group is unfiltered (the topic stream holds only topic messages)", f)
	}
	if f := GroupFilters("t", []string{"x"}); len(f) != 1 || f[0] != "t.*.*.x" {
		t.Fatalf("one tag filter %v", f)
	}
}
