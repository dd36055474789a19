package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
)

// TestInspectCluster: on a 3-node cluster with a replicated topic, every
// node answers MSG.GET, MSG.LIST by key and GROUP.LAG, and a delayed
// message stored through one node is listed and cancelled through
// another.
func TestInspectCluster(t *testing.T) {
	topic := semantics.TopicConfig{Name: "orders", Partitions: 4, Replicas: 3, MaxDelay: time.Hour}
	group := semantics.GroupConfig{Name: "billing", Topic: "orders"}
	c := testutil.StartCluster(t, 3, func(_ int, cfg *server.Config) {
		cfg.Topics, cfg.Groups = []semantics.TopicConfig{topic}, []semantics.GroupConfig{group}
	})
	nc0 := testutil.Connect(t, c.Servers[0].ClientURL())
	js := testutil.JetStream(t, nc0)
	var seq uint64
	testutil.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		ack, err := js.Publish(context.Background(), "orders.alice", []byte("a"))
		if err == nil {
			seq = ack.Sequence
		}
		return err
	})
	id := delayWithID(t, nc0, "$MQ.DELAY.orders.bob", "later", time.Hour)
	for i := range c.Servers {
		nc := testutil.Connect(t, c.Servers[i].ClientURL())
		testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			var m semantics.TopicMsg
			if err := apiRequest(t, nc, semantics.MsgAPIPrefix+"GET.orders", map[string]any{"seq": seq}, &m); err != nil || m.Key != "alice" {
				return fmt.Errorf("node %d MSG.GET: %+v, %v", i+1, m, err)
			}
			var l semantics.MsgList
			if err := apiRequest(t, nc, semantics.MsgAPIPrefix+"LIST.orders", map[string]any{"key": "alice"}, &l); err != nil || len(l.Messages) != 1 {
				return fmt.Errorf("node %d MSG.LIST: %+v, %v", i+1, l, err)
			}
			var lag semantics.GroupLag
			if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LAG.orders.billing", nil, &lag); err != nil || lag.Total != 1 {
				return fmt.Errorf("node %d GROUP.LAG: %+v, %v", i+1, lag, err)
			}
			var d semantics.DelayList
			if err := apiRequest(t, nc, semantics.DelayAPIPrefix+"LIST.orders", nil, &d); err != nil || len(d.Delayed) != 1 || d.Delayed[0].ID != id {
				return fmt.Errorf("node %d DELAY.LIST: %+v, %v", i+1, d, err)
			}
			return nil
		})
	}
	nc2 := testutil.Connect(t, c.Servers[2].ClientURL())
	if err := apiRequest(t, nc2, semantics.DelayAPIPrefix+"CANCEL.orders", map[string]any{"id": id}, nil); err != nil {
		t.Fatalf("cancel through node 3: %v", err)
	}
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		var d semantics.DelayList
		if err := apiRequest(t, nc0, semantics.DelayAPIPrefix+"LIST.orders", nil, &d); err != nil || d.Total != 0 {
			return fmt.Errorf("after cancel: %+v, %v", d, err)
		}
		return nil
	})
}
