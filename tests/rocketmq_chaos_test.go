package tests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/nats-io/nats.go"
)

// rmqChaosYAML adds the RocketMQ consumers' groups (a clustering one and
// an ordered one, which RocketMQ clients see as a FIFO group) and a short
// long poll to every node of the chaos cluster.
const rmqChaosYAML = `groups:
  - name: rmqworkers
    topic: orders
    mode: clustering
    start: all
  - name: rmqfifo
    topic: orders
    ordered: true
    start: all
    suspend: 100ms
rocketmq:
  long_polling: 500ms
`

// rmqAddrLine is where the ready line names the RocketMQ endpoint.
var rmqAddrLine = regexp.MustCompile(`msg="jetmq ready" .*rocketmq=(\S+)`)

// rmqAddrOf reads the RocketMQ endpoint a ready process logged.
func rmqAddrOf(t *testing.T, p *testutil.Process) string {
	t.Helper()
	m := rmqAddrLine.FindStringSubmatch(p.Stderr.String())
	if m == nil {
		t.Fatalf("no RocketMQ endpoint in the ready line:\n%s", p.Stderr)
	}
	return strings.Trim(m[1], `"`)
}

// rmqMaxPause is the longest a RocketMQ client may stop getting through
// after a node dies (issue 14: "clients resumed through another node
// within 5 s").
const rmqMaxPause = 5 * time.Second

// TestRocketMQChaosKill9: on a cluster of three real jetmq processes, a
// RocketMQ producer of keyed messages, a FIFO producer (one sender per
// message group), a push consumer of a clustering group and a FIFO push
// consumer of an ordered group run while nodes are killed with -9, next
// to a NATS publisher at the same rate as the reference. The RocketMQ
// clients run in an internal/rmqdriver process (rmqDriver). Every client is
// given all three nodes; every send is retried until acknowledged. Kills
// cycle through what the victim holds: only its endpoint, the topic
// stream's leader, the ordered group's coordinator. Per kill, while the
// node is still down, each stream must get through again; the longest
// gap in its acknowledgements or deliveries from the kill is tabulated,
// and where the victim held only its endpoint (so nothing but the
// RocketMQ failover can pause a client) each RocketMQ stream's must be
// at most rmqMaxPause. Where it held JetStream or ordered-group roles the
// pause includes their elections (the NATS column) and is only logged.
// The node then comes back on a different RocketMQ port, and all streams
// must keep going. Afterwards no acknowledged message is missing from
// either group, and no message group's order is broken (fifoTally.check
// defines it).
func TestRocketMQChaosKill9(t *testing.T) {
	least, fifoLeast, kills := 600, 200, 2
	if fullSize() {
		least, fifoLeast, kills = 6000, 1000, 6
	}
	const (
		rate       = 100 // keyed sends a second
		fifoGroups = 10  // message groups, one sender each
		fifoRate   = 10  // sends a second per message group
	)
	c := newProcessCluster(t, 3, rmqChaosYAML)
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, rmqAddrOf(t, c.procs[i]))
	}
	endpoint := strings.Join(addrs, ";")

	consumed, fifoConsumed := newBodyTally(), newBodyTally()
	fifo := newFIFOTally()
	acked, fifoAcked := newBodyTally(), newBodyTally()
	var wantMu sync.Mutex
	var want []string // keyed bodies acknowledged
	// The errors sends were retried on.
	retries, fifoRetries := newErrorCounts(), newErrorCounts()
	// The official clients run in a driver process (see rmqDriver).
	d := startRMQDriver(t, endpoint, func(e rmqEvent) {
		switch {
		case e.Ev == "consumed" && e.ID == "rmqworkers":
			consumed.add(e.Body)
		case e.Ev == "consumed" && e.ID == "rmqfifo":
			if group, seq, ok := parseFIFOBody(e.Body); ok {
				fifo.deliver(group, seq)
				fifoConsumed.add(e.Body)
			}
		case e.Ev == "acked" && e.ID == "keyed":
			wantMu.Lock()
			want = append(want, e.Body)
			wantMu.Unlock()
			acked.add(e.Body)
		case e.Ev == "acked":
			group, seq, _ := parseFIFOBody(e.Body)
			fifo.ack(group, seq)
			fifoAcked.add(e.Body)
		case e.Ev == "retry" && e.ID == "keyed":
			retries.noteText(e.Err)
		case e.Ev == "retry":
			fifoRetries.noteText(e.Err)
		case e.Ev == "failed":
			t.Errorf("send %s: %s", e.Body, e.Err)
		}
	})
	d.do(rmqCommand{Op: "push", ID: "rmqworkers", Group: "rmqworkers"})
	d.do(rmqCommand{Op: "push", ID: "rmqfifo", Group: "rmqfifo"})
	// The push consumers stop when the test returns, before the cleanups
	// of the nodes it restarts, once their groups are drained (see
	// rmqPushConsumer for why).
	defer func() {
		for _, g := range []string{"rmqworkers", "rmqfifo"} {
			if err := waitGroupDrained(testutil.Connect(t, c.urls(3)), "orders", g, 60*time.Second); err != nil {
				t.Logf("group %s not drained: %v", g, err)
			}
		}
		d.quit()
	}()
	d.do(rmqCommand{Op: "send", ID: "keyed", Rate: rate, Least: least, Body: "rmq-%d", Key: "key-%d", Mod: 50})
	for g := 0; g < fifoGroups; g++ {
		group := "acct-" + strconv.Itoa(g)
		d.do(rmqCommand{Op: "send", ID: "fifo-" + group, Rate: fifoRate, Least: fifoLeast / fifoGroups, Body: "fifo|" + group + "|%d", MsgGroup: group}) // fifoBody's form
	}
	stop := make(chan struct{})

	// A NATS publisher at the same rate is the reference: its pause is
	// JetStream's own (a stream leader's election), which no RocketMQ
	// client can beat.
	natsAcks := newBodyTally()
	natsDone, _ := pacedChaosPublisher(t, c.urls(3), ordercheck.New(), "orders", least, 50, rate, stop, func() { natsAcks.add("") })
	admin := testutil.Connect(t, c.urls(3), nats.MaxReconnects(-1))
	js := testutil.JetStream(t, admin)

	streams := []struct {
		name  string
		tally *bodyTally
	}{{"NATS acks", natsAcks}, {"keyed acks", acked}, {"FIFO acks", fifoAcked}, {"consumed", consumed}, {"FIFO consumed", fifoConsumed}}
	// progress waits until every stream has 20 more events than now.
	progress := func(what string) {
		t.Helper()
		for _, s := range streams {
			waitCount(t, s.name+" "+what, 60*time.Second, func() int { return len(s.tally.deliveries()) }, len(s.tally.deliveries())+20)
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-4s %-4s %-14s", "kill", "node", "held")
	for _, s := range streams {
		fmt.Fprintf(&table, " %10s", s.name)
	}
	fmt.Fprintf(&table, " %8s\n", "resumed")
	defer func() { // also when a wait below fails
		t.Logf("longest pause per kill, from the kill until every stream got through again with the node still down:\n%s", table.String())
		t.Logf("keyed sends retried on:\n%sFIFO sends retried on:\n%s", retries, fifoRetries)
	}()
	progress("before the first kill")
	for k := 0; k < kills; k++ {
		// Rounds cycle through what the victim holds besides its
		// endpoint: nothing else, the topic stream's leader, the ordered
		// group's coordinator.
		leader, coord := streamLeaderIndex(t, js, "orders"), c.singletonNode(t, "ordered.orders.rmqfifo")
		victim, held := 3-leader-coord, "endpoint only"
		if leader == coord {
			victim = (leader + 1) % 3
		}
		switch k % 3 {
		case 1:
			victim, held = leader, "stream leader"
		case 2:
			victim, held = coord, "coordinator"
		}
		if victim == leader && victim == coord {
			held = "leader+coord"
		}
		if held == "endpoint only" {
			// Then the pause is the endpoint's alone: no stream or
			// consumer leader (of the group durables or internal state)
			// is elected anew.
			c.evacuate(t, js, admin, victim)
		}
		progress("before the kill")
		t.Logf("kill -9 n%d (%s)", victim+1, held)
		killedAt := time.Now()
		c.procs[victim].Kill9()
		progress("with a node down")
		resumed := time.Now()
		fmt.Fprintf(&table, "%-4d n%-3d %-14s", k, victim+1, held)
		for _, s := range streams {
			pause := longestPause(s.tally.deliveries(), killedAt, resumed)
			fmt.Fprintf(&table, " %10s", pause.Round(10*time.Millisecond))
			if held == "endpoint only" && s.tally != natsAcks && pause > rmqMaxPause {
				t.Errorf("kill %d (n%d): %s paused %s, more than %s", k, victim+1, s.name, pause.Round(10*time.Millisecond), rmqMaxPause)
			}
		}
		fmt.Fprintf(&table, " %8s\n", resumed.Sub(killedAt).Round(10*time.Millisecond))
		// The node returns on another RocketMQ port: clients still list
		// the old address, and must neither wait for it nor get stuck.
		addrs[victim] = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
		c.procs[victim] = testutil.StartProcessEnv(t, c.dir, []string{"JETMQ_ROCKETMQ_LISTEN=" + addrs[victim]}, "serve", "-c", c.cfgs[victim])
		c.procs[victim].WaitReady(t, 90*time.Second)
		progress("after the node came back on another port")
	}
	close(stop)
	d.stopSends()
	<-natsDone
	if t.Failed() {
		return
	}
	testutil.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		if m := consumed.missing(want); len(m) > 0 {
			return fmt.Errorf("%d of %d acknowledged keyed messages not consumed (first %s)", len(m), len(want), m[0])
		}
		if _, missing := fifo.check(); len(missing) > 0 {
			return fmt.Errorf("%d acknowledged FIFO messages not delivered (first %s)", len(missing), missing[0])
		}
		return nil
	})
	violations, _ := fifo.check()
	if len(violations) > 0 {
		t.Errorf("%d FIFO order violations, e.g. %s", len(violations), violations[:min(5, len(violations))])
	}
	wantMu.Lock()
	defer wantMu.Unlock()
	t.Logf("keyed: %d acknowledged (%d retries), %d distinct consumed, %d redeliveries; FIFO: %d acknowledged (%d retries), %d distinct delivered, %d redeliveries",
		len(want), retries.total(), consumed.distinct(), consumed.dups(), fifoAcked.distinct(), fifoRetries.total(), fifoConsumed.distinct(), fifoConsumed.dups())
}

// errorCounts counts errors by text, for a test's log.
type errorCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func newErrorCounts() *errorCounts { return &errorCounts{n: map[string]int{}} }

func (e *errorCounts) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.n {
		n += c
	}
	return n
}

func (e *errorCounts) noteText(text string) {
	e.mu.Lock()
	e.n[text]++
	e.mu.Unlock()
}

func (e *errorCounts) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for text, n := range e.n {
		fmt.Fprintf(&b, "%5d× %s\n", n, text)
	}
	return b.String()
}

// fifoBody is the body of a FIFO message: its message group and its
// sequence number within the group.
func fifoBody(group string, seq int) string { return "fifo|" + group + "|" + strconv.Itoa(seq) }

func parseFIFOBody(body string) (group string, seq int, ok bool) {
	f := strings.Split(body, "|")
	if len(f) != 3 || f[0] != "fifo" {
		return "", 0, false
	}
	seq, err := strconv.Atoi(f[2])
	return f[1], seq, err == nil
}

// fifoTally records, per message group, the sequence numbers the FIFO
// producer had acknowledged and those the FIFO consumer was handed, in
// the order handed.
type fifoTally struct {
	mu        sync.Mutex
	acked     map[string][]int
	delivered map[string][]int
}

func newFIFOTally() *fifoTally {
	return &fifoTally{acked: map[string][]int{}, delivered: map[string][]int{}}
}

func (f *fifoTally) ack(group string, seq int) {
	f.mu.Lock()
	f.acked[group] = append(f.acked[group], seq)
	f.mu.Unlock()
}

func (f *fifoTally) deliver(group string, seq int) {
	f.mu.Lock()
	f.delivered[group] = append(f.delivered[group], seq)
	f.mu.Unlock()
}

// check applies the FIFO guarantee under at-least-once delivery. Per
// message group, the deliveries with repeats removed (a sequence number
// counts where it was first delivered; a later delivery of it is a
// redelivery, which RocketMQ allows) must be strictly increasing:
// otherwise the first delivery out of order is a violation. Every
// acknowledged sequence number must have been delivered: those that were
// not are missing.
func (f *fifoTally) check() (violations, missing []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for group, seqs := range f.delivered {
		seen, last := map[int]bool{}, -1
		for i, seq := range seqs {
			if seen[seq] {
				continue
			}
			seen[seq] = true
			if seq <= last {
				violations = append(violations, fmt.Sprintf("%s: %d delivered after %d (delivery %d)", group, seq, last, i))
			}
			last = max(last, seq)
		}
	}
	for group, seqs := range f.acked {
		got := map[int]bool{}
		for _, seq := range f.delivered[group] {
			got[seq] = true
		}
		for _, seq := range seqs {
			if !got[seq] {
				missing = append(missing, fifoBody(group, seq))
			}
		}
	}
	return violations, missing
}

// TestFIFOTallyCheck pins the chaos test's FIFO definition: redeliveries
// of a sequence number are allowed, a new sequence number below the
// highest one delivered is a violation, an acknowledged one never
// delivered is missing.
func TestFIFOTallyCheck(t *testing.T) {
	f := newFIFOTally()
	for _, seq := range []int{0, 1, 2} {
		f.ack("a", seq)
		f.ack("b", seq)
	}
	for _, seq := range []int{0, 1, 1, 0, 2, 1} { // redeliveries only
		f.deliver("a", seq)
	}
	for _, seq := range []int{0, 2} { // 1 missing: skipped, not yet late
		f.deliver("b", seq)
	}
	if v, m := f.check(); len(v) != 0 || len(m) != 1 || m[0] != fifoBody("b", 1) {
		t.Fatalf("violations %v, missing %v; want none and [%s]", v, m, fifoBody("b", 1))
	}
	f.deliver("b", 1) // 1 after 2: out of order
	if v, m := f.check(); len(v) != 1 || len(m) != 0 {
		t.Fatalf("violations %v, missing %v; want one violation, nothing missing", v, m)
	}
}
