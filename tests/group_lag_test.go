package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

func groupLag(t *testing.T, nc *nats.Conn, topic, group string) semantics.GroupLag {
	t.Helper()
	var l semantics.GroupLag
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LAG."+topic+"."+group, nil, &l); err != nil {
		t.Fatalf("GROUP.LAG %s: %v", group, err)
	}
	return l
}

func lagByPartition(lag []semantics.PartitionLag) []uint64 {
	out := make([]uint64, len(lag))
	for i, p := range lag {
		out[i] = p.Lag
	}
	return out
}

// TestGroupLagPerPartition: with nobody consuming, a clustering group's
// and an ordered group's lag per partition is exactly what was published
// to each partition (for a tagged group only its tag); once a member has
// acknowledged everything, it is 0. Broadcasting groups answer per member.
func TestGroupLagPerPartition(t *testing.T) {
	const partitions = 3
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "lagt", Partitions: partitions}),
		withGroups(
			semantics.GroupConfig{Name: "cl", Topic: "lagt"},
			semantics.GroupConfig{Name: "ord", Topic: "lagt", Ordered: true},
			semantics.GroupConfig{Name: "tagged", Topic: "lagt", Tags: []string{"vip"}},
			semantics.GroupConfig{Name: "bc", Topic: "lagt", Mode: semantics.ModeBroadcasting, Start: semantics.StartAll},
		))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	want, wantVIP := make([]uint64, partitions), make([]uint64, partitions)
	for i := 0; i < 40; i++ {
		key := fmt.Sprint("key", i)
		p := semantics.Partition(key, partitions)
		want[p]++
		subj := "lagt." + key
		if i%4 == 0 {
			subj += ".vip"
			wantVIP[p]++
		}
		publishTopic(t, js, subj, key)
	}
	cl, ord, tagged := groupLag(t, nc, "lagt", "cl"), groupLag(t, nc, "lagt", "ord"), groupLag(t, nc, "lagt", "tagged")
	if fmt.Sprint(lagByPartition(cl.Lag)) != fmt.Sprint(want) || cl.Total != 40 || cl.Lag[0].Exact {
		t.Fatalf("clustering lag %+v, want %v", cl, want)
	}
	if fmt.Sprint(lagByPartition(ord.Lag)) != fmt.Sprint(want) || !ord.Lag[0].Exact || ord.Lag[1].Consumer != wire.OrderedConsumer("ord", 1) {
		t.Fatalf("ordered lag %+v, want %v", ord, want)
	}
	if fmt.Sprint(lagByPartition(tagged.Lag)) != fmt.Sprint(wantVIP) {
		t.Fatalf("tagged lag %+v, want %v", tagged, wantVIP)
	}

	subscribe(t, nc, "lagt", "cl", func(context.Context, *semantics.Delivery) error { return nil }, semantics.WithoutCreate())
	subscribe(t, nc, "lagt", "bc", func(context.Context, *semantics.Delivery) error { return nil },
		semantics.WithoutCreate(), semantics.WithMember("m1"))
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if l := groupLag(t, nc, "lagt", "cl"); l.Total != 0 || len(l.Lag) != partitions {
			return fmt.Errorf("clustering lag after consuming: %+v", l)
		}
		if l := groupLag(t, nc, "lagt", "bc"); len(l.Members) != 1 || l.Members[0].Member != "m1" || l.Total != 0 {
			return fmt.Errorf("broadcasting lag after consuming: %+v", l)
		}
		return nil
	})

	r := testutil.RunCLI(t, "-s", s.ClientURL(), "group", "lag", "lagt", "ord")
	if r.Code != 0 || !strings.Contains(r.Stdout, "total 40") || !strings.Contains(r.Stdout, "ord~p2") {
		t.Fatalf("group lag: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, c := range []struct {
		subject, body string
		code          int
	}{
		{"LAG.lagt.nosuch", "", 404},
		{"LAG.nope.cl", "", 404},
		{"LAG.lagt.c%l", "", 400},
		{"LAG.lagt.cl", `{"partition":1}`, 400},
	} {
		resp, err := nc.Request(semantics.GroupAPIPrefix+c.subject, []byte(c.body), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := semantics.DecodeReply(resp.Data, nil); !isAPIError(err, c.code) {
			t.Errorf("%s %s: %v, want %d", c.subject, c.body, err, c.code)
		}
	}
}
