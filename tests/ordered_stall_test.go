package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
)

// TestOrderedMemberRecoversLostPull: the pull of a partition ends under a
// member that keeps heartbeating (here: its consumer is deleted, which
// makes JetStream end every pull on it with "409 Consumer Deleted").
// The member must not keep the lease while nobody pulls: it gives the
// partition up, the coordinator fences it (recreating the consumer) and
// grants it again, and messages published afterwards are handled.
func TestOrderedMemberRecoversLostPull(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "lost", 1, 1)
	c := ordercheck.New()
	om := newOrderedMembers(t, s.ClientURL, c, "lost", "g", nil,
		semantics.WithSessionTimeout(time.Second), semantics.WithStart(semantics.StartNew))
	m1 := om.start("m1")
	p := newProducer(t, nc)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := m1.OrderedPartitions(); len(got) != 1 {
			return fmt.Errorf("m1 owns %v", got)
		}
		return nil
	})
	publishKeyed(t, p, c, "lost", 0, 5, 3)
	waitHandled(t, c, 5)

	js := testutil.JetStream(t, nc)
	consumer := wire.OrderedConsumer("g", 0)
	if err := js.DeleteConsumer(context.Background(), "lost", consumer); err != nil {
		t.Fatal(err)
	}
	// Without the member giving the partition up nothing would recreate
	// the consumer: the member keeps its lease and nobody pulls.
	testutil.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		ci, err := js.Consumer(context.Background(), "lost", consumer)
		if err != nil {
			return err
		}
		if ci.CachedInfo().NumWaiting == 0 {
			return fmt.Errorf("consumer recreated, nobody pulls yet")
		}
		return nil
	})
	publishKeyed(t, p, c, "lost", 5, 5, 3)
	waitChecked(t, c, 10, 15*time.Second)
	if got := m1.OrderedPartitions(); len(got) != 1 {
		t.Fatalf("m1 owns %v after recovering, want [0]", got)
	}
}

// zombieMember joins an ordered group and heartbeats, but never pulls or
// releases: a member that holds partitions without consuming them.
func zombieMember(t *testing.T, url, topic, group, id string) {
	nc := testutil.Connect(t, url)
	resp, err := nc.Request("$MQ.GROUP.JOIN."+topic+"."+group, []byte(`{"member":"`+id+`","protocols":["ordered"]}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var join struct {
		HeartbeatSubject string `json:"heartbeat_subject"`
		SessionTimeoutMs int64  `json:"session_timeout_ms"`
		MemberToken      string `json:"member_token"`
	}
	if err := json.Unmarshal(resp.Data, &join); err != nil || join.HeartbeatSubject == "" {
		t.Fatalf("join reply %s (%v)", resp.Data, err)
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(quit); <-done })
	go func() {
		defer close(done)
		every := time.Duration(join.SessionTimeoutMs) * time.Millisecond / 3
		for {
			_, _ = nc.Request(join.HeartbeatSubject, []byte(`{"token":"`+join.MemberToken+`"}`), every)
			select {
			case <-quit:
				return
			case <-time.After(every):
			}
		}
	}()
}

// TestOrderedCoordinatorMovesStalledPartition: a member that heartbeats
// but never consumes keeps its partition's messages from anyone. The
// coordinator notices (unfinished messages, no waiting pull, no progress
// for StallAfter), shows it in group info, /metrics and /healthz, and
// moves the partition to the member that does consume.
func TestOrderedCoordinatorMovesStalledPartition(t *testing.T) {
	testutil.Binary(t) // built now: the stall may be over before a build would be
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "stuck", 2, 1)
	if err := apiRequest(t, nc, semantics.APIPrefix+"GROUP.CREATE.stuck.g", map[string]any{"ordered": true, "session_timeout": "1s"}, nil); err != nil {
		t.Fatal(err)
	}
	zombieMember(t, s.ClientURL(), "stuck", "g", "zombie")
	c := ordercheck.New()
	om := newOrderedMembers(t, s.ClientURL, c, "stuck", "g", nil)
	m1 := om.start("m1")
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := m1.OrderedPartitions(); len(got) != 1 {
			return fmt.Errorf("m1 owns %v, want one of two", got)
		}
		return nil
	})
	stuck := 1 - m1.OrderedPartitions()[0]
	publishKeyed(t, newProducer(t, nc), c, "stuck", 0, 40, 20)

	var st semantics.GroupStatus
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		st = semantics.GroupStatus{}
		if err := apiRequest(t, nc, semantics.APIPrefix+"GROUP.INFO.stuck.g", nil, &st); err != nil {
			return err
		}
		if len(st.Partitions) != 2 || !st.Partitions[stuck].Stalled {
			return fmt.Errorf("partitions %+v: p%d not reported stalled", st.Partitions, stuck)
		}
		return nil
	})
	if st.Partitions[stuck].Owner != "zombie" || st.Partitions[stuck].Waiting != 0 {
		t.Errorf("stalled partition %+v, want owner zombie and no waiting pull", st.Partitions[stuck])
	}
	if _, metrics := getHTTP(t, s.HTTPAddr(), "/metrics"); !strings.Contains(metrics, `jetmq_ordered_stalled_partitions{account="$G",group="g",topic="stuck"} 1`) {
		t.Errorf("/metrics does not count the stalled partition")
	}
	code, health := getHTTP(t, s.HTTPAddr(), "/healthz")
	if code != 200 || !strings.Contains(health, `"group":"g"`) || !strings.Contains(health, fmt.Sprintf(`"partition":%d`, stuck)) {
		t.Errorf("/healthz %d %s: no detail for the stalled partition", code, health)
	}
	if !cliPartitionRow(testutil.RunCLI(t, "-s", s.ClientURL(), "group", "info", "stuck", "g").Stdout, stuck, "zombie", "stalled") {
		t.Errorf("jetmq group info does not show p%d of zombie as stalled", stuck)
	}

	waitChecked(t, c, 40, 20*time.Second)
	if got := m1.OrderedPartitions(); len(got) != 2 {
		t.Fatalf("m1 owns %v, want both partitions", got)
	}
	var after semantics.GroupStatus // fresh: omitted fields must read false
	if err := apiRequest(t, nc, semantics.APIPrefix+"GROUP.INFO.stuck.g", nil, &after); err != nil {
		t.Fatal(err)
	}
	if after.Partitions[stuck].Stalled {
		t.Errorf("p%d still reported stalled after it moved: %+v", stuck, after.Partitions[stuck])
	}
	if _, health := getHTTP(t, s.HTTPAddr(), "/healthz"); strings.Contains(health, "details") {
		t.Errorf("/healthz still has details after the move: %s", health)
	}
}

// cliPartitionRow reports whether a jetmq group info table has a row for
// partition p with all of the cells want.
func cliPartitionRow(out string, p int, want ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != fmt.Sprint(p) {
			continue
		}
		all := true
		for _, w := range want {
			all = all && slices.Contains(f, w)
		}
		if all {
			return true
		}
	}
	return false
}
