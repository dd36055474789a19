package tests

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// chaosGroupsYAML adds a clustering and an ordered group and quick
// check-back to every node of the chaos cluster.
const chaosGroupsYAML = `transactions:
  check_immunity: 1s
  check_interval: 1s
  check_timeout: 1s
  max_checks: 1000
groups:
  - name: billing
    topic: orders
    mode: clustering
  - name: audit
    topic: orders
    ordered: true
`

// bodyTally counts the deliveries of each message body, with their times.
type bodyTally struct {
	mu    sync.Mutex
	count map[string]int
	times []time.Time
}

func newBodyTally() *bodyTally { return &bodyTally{count: map[string]int{}} }

func (b *bodyTally) add(body string) {
	b.mu.Lock()
	b.count[body]++
	b.times = append(b.times, time.Now())
	b.mu.Unlock()
}

// missing lists the wanted bodies not delivered yet.
func (b *bodyTally) missing(want []string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, w := range want {
		if b.count[w] == 0 {
			out = append(out, w)
		}
	}
	return out
}

func (b *bodyTally) distinct() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.count)
}

func (b *bodyTally) dups() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.count {
		n += c - 1
	}
	return n
}

// deliveries returns the times of every delivery so far.
func (b *bodyTally) deliveries() []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.times...)
}

// longestPause is the longest time between two deliveries within [from, to].
func longestPause(times []time.Time, from, to time.Time) time.Duration {
	ts := times
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var gap time.Duration
	prev := from
	for _, t := range ts {
		if t.Before(from) || t.After(to) {
			continue
		}
		gap, prev = max(gap, t.Sub(prev)), t
	}
	return max(gap, to.Sub(prev))
}

// singletonLine is the log line of a node that starts running a singleton.
var singletonLine = regexp.MustCompile(`msg="singleton started" singleton=(\S+) node=n(\d)`)

// singletonNode is the index of the node that last started singleton name
// (as its service names it; the log names it <account>/<name>).
func (c *processCluster) singletonNode(t *testing.T, name string) int {
	t.Helper()
	node := -1
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		var latest time.Time
		for i, p := range c.procs {
			if p == nil || p.Exited() {
				continue
			}
			for _, l := range strings.Split(p.Stderr.String(), "\n") {
				if m := singletonLine.FindStringSubmatch(l); m != nil && (m[1] == name || strings.HasSuffix(m[1], "/"+name)) {
					if at := logTime(l); !at.Before(latest) {
						latest, node = at, i
					}
				}
			}
		}
		if node < 0 {
			return fmt.Errorf("no node runs singleton %s", name)
		}
		return nil
	})
	return node
}

// logTime reads the time= field of a log line.
func logTime(line string) time.Time {
	if i := strings.Index(line, "time="); i >= 0 {
		if f := strings.Fields(line[i+5:]); len(f) > 0 {
			if t, err := time.Parse(time.RFC3339Nano, f[0]); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// chaosLoad is what the chaos run sends: keyed messages (ordered by key),
// delayed messages and transactions, half committed by the producer, half
// by check-back.
type chaosLoad struct {
	keyed, delayed, txns int
	want                 []string // every body that must reach both groups
}

func (l *chaosLoad) bodies() {
	for i := 0; i < l.keyed; i++ {
		l.want = append(l.want, fmt.Sprint(i))
	}
	for i := 0; i < l.delayed; i++ {
		l.want = append(l.want, fmt.Sprintf("d-%d", i))
	}
	for i := 0; i < l.txns; i++ {
		l.want = append(l.want, fmt.Sprintf("t-%d", i))
	}
}

// withTimeout runs f with a 5 s context, for retry.
func withTimeout(f func(ctx context.Context) error) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return f(ctx)
	}
}

// sendDelayedAndTxns sends l's delayed messages and transactions through
// faults, each retried until acknowledged.
func sendDelayedAndTxns(t *testing.T, urls string, l *chaosLoad) <-chan struct{} {
	nc := testutil.Connect(t, urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	p := newProducer(t, nc)
	tp, err := semantics.NewTransactionProducer(nc, "pg", semantics.CheckerFunc(func(context.Context, *semantics.CheckRequest) semantics.LocalTxState {
		return semantics.LocalCommit
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < max(l.delayed, l.txns); i++ {
			if i < l.delayed {
				m := &semantics.Message{Topic: "orders", Key: fmt.Sprintf("key-%d", i%50), Data: []byte(fmt.Sprintf("d-%d", i)), MsgID: fmt.Sprintf("d-%d", i), Delay: 300 * time.Millisecond}
				_ = retry(withTimeout(func(ctx context.Context) error { _, err := p.Send(ctx, m); return err }))
			}
			if i < l.txns {
				txid := fmt.Sprintf("tx-%d", i)
				m := &semantics.Message{Topic: "orders", Key: fmt.Sprintf("key-%d", i%50), Data: []byte(fmt.Sprintf("t-%d", i))}
				_ = retry(withTimeout(func(ctx context.Context) error { return tp.Prepare(ctx, txid, m) }))
				if i%2 == 0 { // the rest is committed by check-back
					_ = retry(withTimeout(func(ctx context.Context) error { return tp.Commit(ctx, "orders", txid) }))
				}
			}
		}
	}()
	return done
}

// pacedChaosPublisher sends keyed messages as chaosPublisher does (each
// retried until acknowledged) but at rate a second, at least least of
// them and on until stop closes, so that every kill window has a steady
// load to measure pauses against. started says how many it began; done
// closes once all of them are acknowledged.
func pacedChaosPublisher(t *testing.T, url string, c *ordercheck.Checker, topic string, least, keys, rate int, stop <-chan struct{}, onAck func()) (done <-chan struct{}, started func() int) {
	nc := testutil.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	p := newProducer(t, nc)
	var n atomic.Int64
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		var wg sync.WaitGroup
		inflight := make(chan struct{}, 256) // as many sends in flight as chaosPublisher's window
		begin := time.Now()
		for i := 0; ; i++ {
			if nc.IsClosed() { // the test ended early
				wg.Wait()
				return
			}
			if i >= least {
				select {
				case <-stop:
					wg.Wait()
					return
				default:
				}
			}
			time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(rate)))) // pacing, not synchronisation
			inflight <- struct{}{}
			wg.Add(1)
			n.Store(int64(i + 1))
			go func(i int) {
				defer func() { <-inflight; wg.Done() }()
				sendKeyedUntilAcked(nc, p, c, topic, i, keys, []func(){onAck})
			}(i)
		}
	}()
	return ch, func() int { return int(n.Load()) }
}

// killWindow is one round of the chaos run: from the kill to the moment
// both groups had delivered again after the restart.
type killWindow struct {
	round    int
	node     int
	role     string
	from, to time.Time
}

// windowFigures are the deliveries and the longest pause of one tally in
// a kill window.
func windowFigures(times []time.Time, w killWindow) (n int, pause time.Duration) {
	for _, at := range times {
		if !at.Before(w.from) && !at.After(w.to) {
			n++
		}
	}
	return n, longestPause(times, w.from, w.to)
}

// placeRoles moves the topic stream's leader, by leader stepdowns, onto
// the node that runs singleton (together) or off it (apart), and returns
// the stream leader's and the singleton's nodes.
func (c *processCluster) placeRoles(t *testing.T, js jetstream.JetStream, nc *nats.Conn, stream, singleton string, together bool) (leader, coord int) {
	t.Helper()
	testutil.CheckFor(t, 60*time.Second, 2*time.Second, func() error {
		leader, coord = streamLeaderIndex(t, js, stream), c.singletonNode(t, singleton)
		if (leader == coord) == together {
			return nil
		}
		var req any // apart: any other node
		if together {
			req = map[string]any{"placement": map[string]any{"preferred": fmt.Sprintf("n%d", coord+1)}}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := jsapi.Request(ctx, nc, "STREAM.LEADER.STEPDOWN."+stream, req, nil)
		return fmt.Errorf("stream leader n%d, coordinator n%d, want them together %v (stepdown: %v)", leader+1, coord+1, together, err)
	})
	return leader, coord
}

// evacuate moves every stream and consumer leader of js's account that
// the connection may step down off node victim, by leader stepdowns
// naming the next node, so that killing victim takes little else than
// its client connections and endpoints (singletons it runs are
// re-elected). What cannot be moved stays and is logged: jetmq's
// internal state, whose API a client is denied, and the JetStream meta
// leader, which only the system account can move.
func (c *processCluster) evacuate(t *testing.T, js jetstream.JetStream, nc *nats.Conn, victim int) {
	t.Helper()
	name := fmt.Sprintf("n%d", victim+1)
	to := map[string]any{"placement": map[string]any{"preferred": fmt.Sprintf("n%d", (victim+1)%3+1)}}
	kept := map[string]error{} // leaders a stepdown was refused for
	testutil.CheckFor(t, 60*time.Second, time.Second, func() error {
		var moving []string
		stepDown := func(what, subject string) {
			if kept[what] != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := jsapi.Request(ctx, nc, subject, to, nil); err != nil {
				kept[what] = err // denied: no answer comes
				return
			}
			moving = append(moving, what)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		streams := js.ListStreams(ctx)
		for si := range streams.Info() {
			sname := si.Config.Name
			if strings.HasPrefix(sname, "KV_jetmq_") {
				// jetmq's internal state: a client is denied its API, and
				// each denied request would wait out its timeout.
				if si.Cluster != nil && si.Cluster.Leader == name {
					kept["stream "+sname] = errors.New("jetmq's internal state")
				}
				continue
			}
			if si.Cluster != nil && si.Cluster.Leader == name {
				stepDown("stream "+sname, "STREAM.LEADER.STEPDOWN."+sname)
			}
			if kept["consumers of "+sname] != nil {
				continue
			}
			s, err := js.Stream(ctx, sname)
			if err != nil {
				return err
			}
			lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
			consumers := s.ListConsumers(lctx)
			for ci := range consumers.Info() {
				if ci.Cluster != nil && ci.Cluster.Leader == name {
					stepDown("consumer "+sname+" > "+ci.Name, "CONSUMER.LEADER.STEPDOWN."+sname+"."+ci.Name)
				}
			}
			lcancel()
			if err := consumers.Err(); err != nil {
				kept["consumers of "+sname] = err // denied: no answer comes
			}
		}
		if err := streams.Err(); err != nil {
			return err
		}
		if len(moving) > 0 {
			return fmt.Errorf("%s still led %s", name, strings.Join(moving, ", "))
		}
		return nil
	})
	for what, err := range kept {
		t.Logf("%s may still lead %s: this client cannot move it (%v)", name, what, err)
	}
}

// TestChaosProcessCluster runs a 3-node cluster of real jetmq processes
// under load (keyed messages retried until acked, delayed messages,
// transactions committed by the producer and by check-back) with a
// clustering group and an ordered group, and kills with -9 the topic
// stream's leader and the node running the ordered group's coordinator,
// each followed by a restart. Nothing acknowledged is lost to either
// group, nothing is misfiled, the ordered group keeps per-partition order
// without overlaps. Per kill it tabulates the deliveries and longest pause
// of the publisher's acks and of each group; at full size a group may
// pause at most 2 s longer than the publisher in the same window. A round
// in three kills a node holding both the stream leader and the
// coordinator; the other rounds kill a node holding only one role (the
// stream leader is moved by stepdowns to make it so).
func TestChaosProcessCluster(t *testing.T) {
	// Rounds cycle through the roles: the stream leader, the coordinator's
	// node, and a node holding both.
	rounds, load, rate := 3, &chaosLoad{keyed: 3000, delayed: 100, txns: 100}, 300
	if fullSize() {
		rounds, load, rate = 5, &chaosLoad{keyed: 30000, delayed: 1000, txns: 1000}, 500
	}
	c := newProcessCluster(t, 3, chaosGroupsYAML)
	urls := c.urls(3)
	billing, audit := newBodyTally(), newBodyTally()
	for _, id := range []string{"b1", "b2"} {
		nc := testutil.Connect(t, urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		subscribe(t, nc, "orders", "billing", func(_ context.Context, d *semantics.Delivery) error {
			billing.add(string(d.Data))
			return nil
		}, semantics.WithMember(id))
	}
	checker := ordercheck.New()
	om := newOrderedMembers(t, func() string { return urls }, checker, "orders", "audit", func(d *semantics.Delivery) error {
		audit.add(string(d.Data))
		return nil
	})
	for _, id := range []string{"o1", "o2", "o3"} {
		om.start(id)
	}

	acks := newBodyTally()
	stop := make(chan struct{})
	published, started := pacedChaosPublisher(t, urls, checker, "orders", load.keyed, 500, rate, stop, func() { acks.add("") })
	others := sendDelayedAndTxns(t, urls, load)
	admin := testutil.Connect(t, urls, nats.MaxReconnects(-1))
	js := testutil.JetStream(t, admin)
	const coordinator = "ordered.orders.audit"
	var windows []killWindow
	for r := 0; r < rounds; r++ {
		// Each role on its own node, or both on one, by moving the stream
		// leader; the publisher gets through that election before the kill.
		leader, coord := c.placeRoles(t, js, admin, "orders", coordinator, r%3 == 2)
		waitCount(t, "acks after placing the roles", 60*time.Second, func() int { return len(acks.deliveries()) }, len(acks.deliveries())+100)
		victim, role := leader, "stream leader"
		switch r % 3 {
		case 1:
			victim, role = coord, "coordinator"
		case 2:
			role = "stream leader+coordinator"
		}
		beforeB, beforeA := billing.distinct(), audit.distinct()
		t.Logf("round %d: kill -9 n%d (%s)", r, victim+1, role)
		w := killWindow{round: r, node: victim, role: role, from: time.Now()}
		c.procs[victim].Kill9()
		c.procs[victim] = testutil.StartProcess(t, c.dir, "serve", "-c", c.cfgs[victim])
		c.procs[victim].WaitReady(t, 90*time.Second)
		waitCount(t, "billing progress", 120*time.Second, billing.distinct, beforeB+200)
		waitCount(t, "ordered progress", 120*time.Second, audit.distinct, beforeA+200)
		w.to = time.Now()
		windows = append(windows, w)
	}
	close(stop)
	<-published
	<-others
	load.keyed = started()
	load.bodies()
	for name, tally := range map[string]*bodyTally{"billing": billing, "audit": audit} {
		testutil.CheckFor(t, 180*time.Second, 100*time.Millisecond, func() error {
			if miss := tally.missing(load.want); len(miss) > 0 {
				return fmt.Errorf("%s: %d of %d acknowledged messages never delivered, e.g. %v", name, len(miss), len(load.want), miss[:min(5, len(miss))])
			}
			return nil
		})
	}
	r := checker.Check()
	if len(r.Violations) > 0 || len(r.Overlaps) > 0 || len(r.KeyOrder) > 0 {
		t.Fatalf("ordered group broke a guarantee: %s", r)
	}
	nc := testutil.Connect(t, urls)
	var st wire.TopicStatus
	if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO.orders", nil, &st); err != nil || st.Misfiled != 0 {
		t.Fatalf("topic info after the chaos: %v, misfiled %d", err, st.Misfiled)
	}

	// Per kill: JetStream's own pause is the publisher's (a Raft
	// election); a group may pause at most 2 s longer (issue 11). At CI
	// size the machine is too small and shared to hold that: only logged.
	const allowance = 2 * time.Second
	bt, at, pt := billing.deliveries(), audit.deliveries(), acks.deliveries()
	var table strings.Builder
	fmt.Fprintf(&table, "%-5s %-4s %-25s %6s %8s %7s %10s %10s %10s %6s\n", "round", "node", "killed", "acks", "billing", "ordered", "ack pause", "billing", "ordered", "window")
	for _, w := range windows {
		pn, pp := windowFigures(pt, w)
		bn, bp := windowFigures(bt, w)
		an, ap := windowFigures(at, w)
		fmt.Fprintf(&table, "%-5d n%-3d %-25s %6d %8d %7d %10s %10s %10s %6s\n", w.round, w.node+1, w.role, pn, bn, an,
			pp.Round(10*time.Millisecond), bp.Round(10*time.Millisecond), ap.Round(10*time.Millisecond), w.to.Sub(w.from).Round(100*time.Millisecond))
		for _, g := range []struct {
			name  string
			pause time.Duration
		}{{"clustering", bp}, {"ordered", ap}} {
			if fullSize() && g.pause > pp+allowance {
				t.Errorf("round %d (kill of the %s): the %s group paused %s, more than the publisher's %s + %s", w.round, w.role, g.name, g.pause.Round(10*time.Millisecond), pp.Round(10*time.Millisecond), allowance)
			}
		}
	}
	t.Logf("per kill window (deliveries, longest pause):\n%s", table.String())
	t.Logf("%d rounds, %d messages: 0 lost, 0 misfiled, 0 order violations, 0 overlaps; duplicates billing %d, audit %d",
		rounds, len(load.want), billing.dups(), audit.dups())
}
