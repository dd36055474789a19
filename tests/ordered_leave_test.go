package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
)

// grantsTotal sums jetmq_ordered_grants_total of a group from /metrics.
func grantsTotal(t *testing.T, httpAddr, group string) int {
	t.Helper()
	_, body := getHTTP(t, httpAddr, "/metrics")
	total := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "jetmq_ordered_grants_total{") && strings.Contains(line, `group="`+group+`"`) {
			var n float64
			if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &n); err == nil {
				total += int(n)
			}
		}
	}
	return total
}

// TestOrderedLeaveHandsOverOnce: a member that stops says it is leaving
// first, so each partition it releases is granted once, to the member
// that stays, and never back to the one leaving.
func TestOrderedLeaveHandsOverOnce(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "leave", 4, 1)
	c := ordercheck.New()
	om := newOrderedMembers(t, s.ClientURL, c, "leave", "g", jitter(time.Millisecond))
	om.start("m1")
	om.start("m2")
	waitBalanced(t, om, 4, "m1", "m2")
	publishKeyed(t, newProducer(t, nc), c, "leave", 0, 200, 40)
	before := grantsTotal(t, s.HTTPAddr(), "g")
	om.stop("m1")
	waitBalanced(t, om, 4, "m2")
	if got := grantsTotal(t, s.HTTPAddr(), "g") - before; got != 2 {
		t.Errorf("%d grants while m1 left, want 2 (each of its partitions once, to m2)", got)
	}
	waitChecked(t, c, 200, 20*time.Second)
}
