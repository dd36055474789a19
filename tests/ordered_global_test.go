package tests

import (
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// TestOrderedGlobalOrderHotStandbys: a one-partition topic is one FIFO
// consumed by one member at a time; the others stand by and one takes
// over when the owner dies. Group info shows the partition's owner.
func TestOrderedGlobalOrderHotStandbys(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "ledger", 1, 1)
	c := ordercheck.New()
	om := newOrderedMembers(t, s.ClientURL, c, "ledger", "books", jitter(100*time.Microsecond), semantics.WithSessionTimeout(time.Second))
	for _, id := range []string{"a", "b", "c"} {
		om.start(id)
	}
	waitBalanced(t, om, 1, "a", "b", "c")
	owner := ""
	for _, id := range []string{"a", "b", "c"} {
		if len(om.sub(id).OrderedPartitions()) == 1 {
			owner = id
		}
	}
	st := groupInfo(t, nc, "ledger", "books")
	if len(st.Partitions) != 1 || st.Partitions[0].Owner != owner || st.Partitions[0].Epoch == 0 {
		t.Fatalf("group info partitions %+v, owner %s", st.Partitions, owner)
	}
	p := newProducer(t, nc)
	publishKeyed(t, p, c, "ledger", 0, 500, 50)
	waitChecked(t, c, 500, 30*time.Second)
	om.kill(owner)
	rest := []string{}
	for _, id := range []string{"a", "b", "c"} {
		if id != owner {
			rest = append(rest, id)
		}
	}
	waitBalanced(t, om, 1, rest...)
	publishKeyed(t, p, c, "ledger", 500, 500, 50)
	r := waitChecked(t, c, 1000, 30*time.Second)
	handledBy := 0
	for _, id := range rest {
		if r.Members[id] > 0 {
			handledBy++
		}
	}
	if handledBy != 1 {
		t.Fatalf("after the takeover %d standbys handled messages, want exactly one: %v", handledBy, r.Members)
	}
	st = groupInfo(t, nc, "ledger", "books")
	if st.Partitions[0].Owner == owner || st.Partitions[0].Epoch < 2 {
		t.Fatalf("after takeover: %+v", st.Partitions)
	}
}

// TestOrderedBroadcasting: every broadcasting member of an ordered group
// handles every message, each partition in order.
func TestOrderedBroadcasting(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "prices", 4, 1)
	checkers := map[string]*ordercheck.Checker{"x": ordercheck.New(), "y": ordercheck.New()}
	for id, c := range checkers {
		subscribe(t, testutil.Connect(t, s.ClientURL()), "prices", "caches", checkedHandler(c, id, jitter(100*time.Microsecond)),
			semantics.Ordered(), semantics.WithBroadcasting(), semantics.WithMember(id))
	}
	p := newProducer(t, nc)
	all := ordercheck.New()
	publishKeyed(t, p, all, "prices", 0, 1000, 30)
	for id, c := range checkers {
		publishedInto(all, c)
		r := waitChecked(t, c, 1000, 30*time.Second)
		if r.Members[id] < 1000 {
			t.Fatalf("member %s handled %d", id, r.Members[id])
		}
	}
}

// publishedInto copies the published messages recorded by from into to.
func publishedInto(from, to *ordercheck.Checker) {
	for _, p := range from.PublishedList() {
		to.Publish(p)
	}
}
