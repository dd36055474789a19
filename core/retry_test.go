package core

import (
	"testing"
	"time"
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
}
