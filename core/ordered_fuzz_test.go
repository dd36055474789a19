package core_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
)

// FuzzOrderedProtocol feeds arbitrary request bodies of the ordered-group
// protocol (heartbeat, release, leave) and an arbitrary order of events to
// the ownership state machine the coordinator runs. Whatever arrives, it
// never panics, a partition has at most one owner, every owner is a live
// member at the moment it is granted, and epochs only rise.
func FuzzOrderedProtocol(f *testing.F) {
	f.Add([]byte(`{"token":"t","suspended":[1]}`), []byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte(`{"partition":3,"epoch":18446744073709551615,"next_seq":1}`), []byte{4, 4, 1, 9, 200})
	f.Add([]byte(`{"partition":-1,"refence":true}`), []byte{2, 2, 6, 6, 1})
	f.Add([]byte(`{"leaving":true}`), []byte{7, 3, 3, 3})
	f.Fuzz(func(t *testing.T, body, ops []byte) {
		var hb wire.OrderedHeartbeat
		var rel wire.ReleaseRequest
		var lv wire.OrderedLeave
		_ = json.Unmarshal(body, &hb)
		_ = json.Unmarshal(body, &rel)
		_ = json.Unmarshal(body, &lv)
		const partitions = 4
		now := time.Unix(1_700_000_000, 0)
		o := core.NewOwnership(nil, partitions, time.Second, now)
		epochs := make([]uint64, partitions)
		for i, op := range ops {
			member := fmt.Sprintf("m%d", op%3)
			switch op % 8 {
			case 0, 1:
				o.Heartbeat(member, now)
			case 2:
				o.Release(member, rel.Partition, rel.Epoch)
			case 3:
				o.Leave(member)
			case 4:
				now = now.Add(time.Duration(op) * 10 * time.Millisecond)
				o.Tick(now)
			case 5:
				o.MoveStalled(int(op/8)%(partitions+2)-1, now)
			case 6:
				if hb.Leaving {
					o.SetLeaving(member)
				}
			case 7:
				for _, s := range o.Plan(now) {
					if s.Kind != core.StepGrant {
						continue
					}
					if l, ok := o.Granted(s.Partition, s.Member); ok && !o.Live(l.Owner) {
						t.Fatalf("op %d: p%d granted to %s, who is not live", i, s.Partition, l.Owner)
					}
				}
			}
			for p := 0; p < partitions; p++ {
				l := o.Lease(p)
				if l.Epoch < epochs[p] {
					t.Fatalf("op %d: p%d epoch went back from %d to %d", i, p, epochs[p], l.Epoch)
				}
				epochs[p] = l.Epoch
			}
		}
	})
}
