package tests

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// requestCode sends body to subject and returns the error code of the
// reply (0 for a success reply).
func requestCode(t *testing.T, nc *nats.Conn, subject, body string) int {
	t.Helper()
	resp, err := nc.Request(subject, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	var out any
	var ae *semantics.APIError
	if err := semantics.DecodeReply(resp.Data, &out); errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// joinToken joins topic/group as member over the raw protocol and
// returns the member token of that session.
func joinToken(t *testing.T, nc *nats.Conn, topic, group, member string) string {
	t.Helper()
	resp, err := nc.Request("$MQ.GROUP.JOIN."+topic+"."+group, []byte(`{"member":"`+member+`","protocols":["ordered"]}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var join wire.OrderedJoinReply
	if err := semantics.DecodeReply(resp.Data, &join); err != nil || join.MemberToken == "" {
		t.Fatalf("join reply %s (%v)", resp.Data, err)
	}
	return join.MemberToken
}

// TestOrderedProtocolRefusesForgery: a plain client of the account cannot
// act for an ordered member. Heartbeats from an id that never joined get
// 403 and no partitions; RELEASE and LEAVE without the member's token
// get 403, with another live session's token 403 or 409; a forged ASSIGN with a huge rev does not stall the member
// (pushes are only a nudge to heartbeat).
func TestOrderedProtocolRefusesForgery(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "forge", 2, 1)
	c := ordercheck.New()
	om := newOrderedMembers(t, s.ClientURL, c, "forge", "g", nil, semantics.WithSessionTimeout(time.Second))
	m1 := om.start("m1")
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := m1.OrderedPartitions(); len(got) != 2 {
			return fmt.Errorf("m1 owns %v", got)
		}
		return nil
	})
	p := newProducer(t, nc)
	publishKeyed(t, p, c, "forge", 0, 40, 20)
	waitHandled(t, c, 40)
	var before semantics.GroupStatus
	if err := apiRequest(t, nc, semantics.APIPrefix+"GROUP.INFO.forge.g", nil, &before); err != nil {
		t.Fatal(err)
	}

	for _, body := range []string{`{}`, `{"token":"00.forged"}`} {
		if code := requestCode(t, nc, "$MQ.GROUP.HB.forge.g.ghost", body); code != 403 {
			t.Errorf("heartbeat %s of a member that never joined: code %d, want 403", body, code)
		}
	}
	for p := 0; p < 2; p++ {
		if code := requestCode(t, nc, "$MQ.GROUP.RELEASE.forge.g.m1", fmt.Sprintf(`{"partition":%d,"epoch":1}`, p)); code != 403 {
			t.Errorf("forged RELEASE of m1's p%d: code %d, want 403", p, code)
		}
	}
	// LEAVE as a request: only the coordinator answers an ordered group's
	// LEAVE, so the requester gets its verdict.
	if code := requestCode(t, nc, "$MQ.GROUP.LEAVE.forge.g.m1", `{"token":"1234.abcd"}`); code != 403 {
		t.Errorf("forged LEAVE of m1: code %d, want 403", code)
	}
	// Valid tokens of other sessions: m2's (minted for another member) is
	// no token of m1's, 403; a second JOIN as m1 mints a token valid for
	// m1, but m1's first session is live and bound to its own, 409.
	m2Token := joinToken(t, nc, "forge", "g", "m2")
	if code := requestCode(t, nc, "$MQ.GROUP.RELEASE.forge.g.m1", fmt.Sprintf(`{"partition":0,"epoch":%d,"token":%q}`, before.Partitions[0].Epoch, m2Token)); code != 403 {
		t.Errorf("RELEASE of m1's p0 with m2's token: code %d, want 403", code)
	}
	second := joinToken(t, nc, "forge", "g", "m1")
	if code := requestCode(t, nc, "$MQ.GROUP.RELEASE.forge.g.m1", fmt.Sprintf(`{"partition":0,"epoch":%d,"token":%q}`, before.Partitions[0].Epoch, second)); code != 409 {
		t.Errorf("RELEASE of m1's p0 with a second session's token: code %d, want 409", code)
	}
	if code := requestCode(t, nc, "$MQ.GROUP.LEAVE.forge.g.m1", fmt.Sprintf(`{"token":%q}`, second)); code != 409 {
		t.Errorf("LEAVE of m1 with a second session's token: code %d, want 409", code)
	}
	if err := nc.Publish("$MQ.GROUP.ASSIGN.forge.g.m1", []byte(`{"member":"m1","rev":9223372036854775807,"leases":[]}`)); err != nil {
		t.Fatal(err)
	}
	// A forgery that took would show once m1 heartbeats again: read the
	// group after a heartbeat sent after the last of them.
	forged := time.Now()
	var st semantics.GroupStatus
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if err := apiRequest(t, nc, semantics.APIPrefix+"GROUP.INFO.forge.g", nil, &st); err != nil {
			return err
		}
		for _, m := range st.Members {
			if m.Member == "m1" && m.LastSeen.After(forged) {
				return nil
			}
		}
		return fmt.Errorf("no heartbeat of m1 since the forgeries: %+v", st.Members)
	})
	for i, ps := range st.Partitions {
		if ps.Owner != "m1" || ps.Epoch != before.Partitions[i].Epoch {
			t.Errorf("after the forgeries p%d is owned by %q at epoch %d, want m1 at %d", ps.Partition, ps.Owner, ps.Epoch, before.Partitions[i].Epoch)
		}
	}
	publishKeyed(t, p, c, "forge", 40, 40, 20)
	waitChecked(t, c, 80, 15*time.Second)
	if got := m1.OrderedPartitions(); len(got) != 2 {
		t.Fatalf("m1 owns %v after the forgeries, want both", got)
	}
}
