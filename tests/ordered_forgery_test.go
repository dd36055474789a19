package tests

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
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

// TestOrderedProtocolRefusesForgery: a plain client of the account cannot
// act for an ordered member. Heartbeats from an id that never joined get
// 403 and no partitions; RELEASE and LEAVE without the member's token are
// refused; a forged ASSIGN with a huge rev does not stall the member
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
	// The group service answers LEAVE too (for group info); the
	// coordinator's refusal shows in the leases below.
	if err := nc.Publish("$MQ.GROUP.LEAVE.forge.g.m1", []byte(`{"token":"1234.abcd"}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("$MQ.GROUP.ASSIGN.forge.g.m1", []byte(`{"member":"m1","rev":9223372036854775807,"leases":[]}`)); err != nil {
		t.Fatal(err)
	}
	var st semantics.GroupStatus
	if err := apiRequest(t, nc, semantics.APIPrefix+"GROUP.INFO.forge.g", nil, &st); err != nil {
		t.Fatal(err)
	}
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
