package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// delayWithID sends a delayed publish due in d and returns the reply's id.
func delayWithID(t *testing.T, nc *nats.Conn, subject, body string, d time.Duration) string {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Header.Set(semantics.HeaderDelay, d.String())
	m.Data = []byte(body)
	var r struct {
		ID string `json:"id"`
	}
	if err := request(nc, m, &r); err != nil || r.ID == "" {
		t.Fatalf("delay %s: id %q, %v", body, r.ID, err)
	}
	return r.ID
}

// TestDelayListAndCancel: DELAY.LIST shows the waiting messages with the
// ids of their DELAY replies; a message cancelled by a raw request and one
// cancelled with the CLI never arrive, while a marker due after both
// does; a second cancel is a 404.
func TestDelayListAndCancel(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "later", Partitions: 4, MaxDelay: time.Hour}))
	nc := testutil.Connect(t, s.ClientURL())
	msgs := consumeTopic(t, testutil.JetStream(t, nc), "later")
	testutil.Binary(t) // built before the clock starts
	raw := delayWithID(t, nc, "$MQ.DELAY.later.alice.vip", "cancel-raw", 2*time.Second)
	cli := delayWithID(t, nc, "$MQ.DELAY.later.bob", "cancel-cli", 4*time.Second)
	marker := delayWithID(t, nc, "$MQ.DELAY.later.carol", "marker", 5*time.Second)

	var l semantics.DelayList
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"LIST.later", nil, &l); err != nil {
		t.Fatal(err)
	}
	if l.Total != 3 || len(l.Delayed) != 3 || l.Delayed[0].ID != raw || l.Delayed[1].ID != cli || l.Delayed[2].ID != marker {
		t.Fatalf("DELAY.LIST: %+v", l)
	}
	if d := l.Delayed[0]; d.Key != "alice" || d.Tag != "vip" || d.Subject != fmt.Sprintf("later.%d.alice.vip", semantics.Partition("alice", 4)) ||
		d.Size < len("cancel-raw") || time.Until(d.DeliverAt) < 500*time.Millisecond {
		t.Fatalf("DELAY.LIST entry: %+v", d)
	}
	var page semantics.DelayList
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"LIST.later", map[string]any{"limit": 1}, &page); err != nil ||
		len(page.Delayed) != 1 || page.Next == 0 || page.Total != 3 {
		t.Fatalf("DELAY.LIST limit 1: %+v, %v", page, err)
	}

	var c semantics.DelayCancelReply
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"CANCEL.later", map[string]any{"id": raw}, &c); err != nil || !c.Cancelled || c.ID != raw {
		t.Fatalf("DELAY.CANCEL: %+v, %v", c, err)
	}
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"CANCEL.later", map[string]any{"id": raw}, nil); !isAPIError(err, 404) {
		t.Fatalf("second DELAY.CANCEL: %v, want 404", err)
	}
	r := testutil.RunCLI(t, "-s", s.ClientURL(), "delay", "cancel", "later", cli)
	if r.Code != 0 || !strings.Contains(r.Stdout, "cancelled delayed message "+cli) {
		t.Fatalf("delay cancel: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = testutil.RunCLI(t, "-s", s.ClientURL(), "delay", "ls", "later")
	if r.Code != 0 || !strings.Contains(r.Stdout, marker) || strings.Contains(r.Stdout, cli) || !strings.Contains(r.Stdout, "1 of 1 delayed") {
		t.Fatalf("delay ls: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := testutil.RunCLI(t, "-s", s.ClientURL(), "delay", "cancel", "later", cli); r.Code == 0 || !strings.Contains(r.Stderr, "(404)") {
		t.Fatalf("second delay cancel: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// The marker was due after both: once it is here, they would have been.
	select {
	case m := <-msgs:
		if string(m.Data()) != "marker" {
			t.Fatalf("a cancelled message arrived: %q", m.Data())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the marker never arrived")
	}
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"CANCEL.later", map[string]any{"id": marker}, nil); !isAPIError(err, 404) {
		t.Fatalf("cancel of a delivered message: %v, want 404", err)
	}
}

// TestDelayAPIBadInput: bad names and bodies are 400s naming the problem,
// unknown topics 404.
func TestDelayAPIBadInput(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "later", Partitions: 2}))
	nc := testutil.Connect(t, s.ClientURL())
	checkBadRequests(t, nc, semantics.DelayAPIPrefix, []badRequest{
		{"CANCEL.later", `{}`, 400, "id"},
		{"CANCEL.later", `{"id":"a.b"}`, 400, "id"},
		{"CANCEL.later", `{"id":"x","seq":1}`, 400, `unknown key "seq"`},
		{"CANCEL.later", `{"id":"nosuchid"}`, 404, "no delayed message"},
		{"CANCEL.nope", `{"id":"x"}`, 404, `topic "nope" not found`},
		{"LIST.later", `{"limit":5000}`, 400, "limit"},
		{"LIST.la%ter", `{}`, 400, "invalid topic name"},
		{"SNOOZE.later", `{}`, 400, "unknown delay operation"},
	})
}

// TestDelayDuplicateAnswersTheFirstID: a delayed publish repeated with the
// same Nats-Msg-Id is stored once, and both replies name that one's id,
// so either can cancel it.
func TestDelayDuplicateAnswersTheFirstID(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "later", Partitions: 2}))
	nc := testutil.Connect(t, s.ClientURL())
	ids := make([]string, 2)
	for i := range ids {
		m := nats.NewMsg("$MQ.DELAY.later.k")
		m.Header.Set(semantics.HeaderDelay, "1h")
		m.Header.Set(semantics.HeaderNatsMsgID, "once")
		var r struct {
			ID        string `json:"id"`
			Duplicate bool   `json:"duplicate"`
		}
		if err := request(nc, m, &r); err != nil || r.Duplicate != (i == 1) {
			t.Fatalf("delay %d: %+v, %v", i, r, err)
		}
		ids[i] = r.ID
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("ids %q, want the same one twice", ids)
	}
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"CANCEL.later", map[string]any{"id": ids[1]}, nil); err != nil {
		t.Fatalf("cancel by the duplicate's id: %v", err)
	}
	// The Go producer hands the id on.
	res, err := newProducer(t, nc).Send(context.Background(), &semantics.Message{Topic: "later", Key: "k", Delay: time.Hour})
	if err != nil || res.DelayID == "" {
		t.Fatalf("producer's delayed send: %+v, %v", res, err)
	}
	if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"CANCEL.later", map[string]any{"id": res.DelayID}, nil); err != nil {
		t.Fatalf("cancel by the producer's DelayID: %v", err)
	}
}
