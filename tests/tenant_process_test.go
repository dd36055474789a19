package tests

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// twoTenantsConf is a native nats config with accounts A and B and a
// password user each, and no JetStream: jetmq enables it and serves both.
const twoTenantsConf = `host: 127.0.0.1
accounts: {
  A: { users: [ { user: alice, password: alice-secret } ] }
  B: { users: [ { user: bob, password: bob-secret } ] }
}
`

// tenantProcessYAML gives every tenant of the process cluster quick
// check-back (many checks, so an orphan is never rolled back while a node
// is down), the ordered group ledger, and the clustering group raw whose
// messages are dead-lettered after three deliveries.
const tenantProcessYAML = `transactions:
  check_immunity: 1s
  check_interval: 1s
  check_timeout: 1s
  max_checks: 1000
groups:
  - name: ledger
    topic: orders
    ordered: true
    session_timeout: 2s
    suspend: 100ms
  - name: raw
    topic: orders
    max_reconsume: 2
    retry_backoff: [50ms]
`

// singletonChange is the log line of a node that starts or stops running
// a singleton.
var singletonChange = regexp.MustCompile(`msg="singleton (started|stopped)" singleton=(\S+) `)

// singletonEvent is one singletonChange line of one node's log.
type singletonEvent struct {
	name    string // as the log names it: <account>/<name>
	started bool
	at      time.Time
}

// singletonEvents reads every singleton start and stop from p's log, in
// the order the node logged them.
func singletonEvents(p *testutil.Process) []singletonEvent {
	var out []singletonEvent
	for _, l := range strings.Split(p.Stderr.String(), "\n") {
		if m := singletonChange.FindStringSubmatch(l); m != nil {
			out = append(out, singletonEvent{name: m[2], started: m[1] == "started", at: logTime(l)})
		}
	}
	return out
}

// tenantSingletonNames are the singletons of tenants A and B as the log
// names them ("A/txn.orders").
func tenantSingletonNames(group string) []string {
	var out []string
	for _, acc := range []string{"A", "B"} {
		for _, name := range []string{"topic-sources", "dlq-mover", "txn." + restartTopic, "ordered." + restartTopic + "." + group} {
			out = append(out, acc+"/"+name)
		}
	}
	return out
}

// singletonOwners waits until each of names runs on exactly one running
// node, by the nodes' logs, and returns the node of each and when that
// node logged its start.
func (c *processCluster) singletonOwners(t *testing.T, names []string, timeout time.Duration) (owner map[string]int, since map[string]time.Time) {
	t.Helper()
	testutil.CheckFor(t, timeout, 20*time.Millisecond, func() error {
		owner, since = map[string]int{}, map[string]time.Time{}
		on := map[string][]int{}
		for i, p := range c.procs {
			if p == nil || p.Exited() {
				continue
			}
			running := map[string]time.Time{}
			for _, e := range singletonEvents(p) {
				if e.started {
					running[e.name] = e.at
				} else {
					delete(running, e.name)
				}
			}
			for name, at := range running {
				on[name] = append(on[name], i)
				owner[name], since[name] = i, at
			}
		}
		for _, name := range names {
			if len(on[name]) != 1 {
				return fmt.Errorf("%s runs on nodes %v, want exactly one", name, on[name])
			}
		}
		return nil
	})
	return owner, since
}

// userURLs lists the client URLs of nodes with user's credentials in them.
func (c *processCluster) userURLs(user, password string, nodes ...int) string {
	var out []string
	for _, i := range nodes {
		out = append(out, fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", user, password, c.ports[i]))
	}
	return strings.Join(out, ",")
}

// TestTenantProcessClusterKill9: three real jetmq processes serve tenants
// A and B of one native config. The node that runs A's check-back driver
// (and, by the rendezvous placement of these names, A's dead-letter mover
// and B's ordered coordinator) is killed with -9. Every singleton of both
// tenants it ran starts on a survivor within 5 s of the kill, the
// survivors' own singletons stay where they were, and the moved ones work,
// seen from clients: A's orphaned transaction is checked back and
// committed, a message A's plain consumer never acknowledges reaches A's
// DLQ through the mover, and B's ordered group, whose member on the dead
// node is gone, delivers everything in order to members on the survivors,
// one of them joining after the kill.
func TestTenantProcessClusterKill9(t *testing.T) {
	const moveBound = 5 * time.Second
	batch := 200
	if fullSize() {
		batch = 2000
	}
	c := newNativeProcessCluster(t, 3, twoTenantsConf, tenantProcessYAML)
	names := tenantSingletonNames("ledger")
	owner, _ := c.singletonOwners(t, names, 60*time.Second)
	victim := owner["A/txn."+restartTopic]
	var held, heldB []string
	for _, name := range names {
		if owner[name] == victim {
			held = append(held, name)
			if strings.HasPrefix(name, "B/") {
				heldB = append(heldB, name)
			}
		}
	}
	t.Logf("singletons before the kill: %v; victim n%d runs %v", owner, victim+1, held)
	if len(heldB) == 0 {
		t.Fatalf("n%d runs A's check-back driver but none of B's singletons: the kill would not move both tenants' (placement %v)", victim+1, owner)
	}
	var survivors []int
	for i := 0; i < 3; i++ {
		if i != victim {
			survivors = append(survivors, i)
		}
	}
	reconnect := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}
	aliceURLs, bobURLs := c.userURLs("alice", "alice-secret", survivors...), c.userURLs("bob", "bob-secret", survivors...)
	alice := testutil.Connect(t, aliceURLs, reconnect...)
	bob := testutil.Connect(t, bobURLs, reconnect...)

	// A: a transaction prepared and left open; nobody answers its checks
	// until the node is dead.
	if err := request(alice, prepareMsg("a-orphan", "pg", "k", "", "orphan"), nil); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	// B: an ordered member on the node to be killed and one on a
	// survivor share the first batch. The first handling, after the kill,
	// on a partition of the dead member tells when the moved coordinator
	// had handed them on.
	checker := ordercheck.New()
	var takeover struct {
		sync.Mutex
		killed, first time.Time
		parts         map[int]bool
	}
	work := jitter(time.Millisecond)
	memberURL := c.userURLs("bob", "bob-secret", victim)
	om := newOrderedMembers(t, func() string { return memberURL }, checker, restartTopic, "ledger", func(d *semantics.Delivery) error {
		takeover.Lock()
		if !takeover.killed.IsZero() && takeover.first.IsZero() && takeover.parts[d.Partition] {
			takeover.first = time.Now()
		}
		takeover.Unlock()
		return work(d)
	})
	om.start("on-victim")
	memberURL = bobURLs
	om.start("on-survivor")
	waitBalanced(t, om, 8, "on-victim", "on-survivor")
	bobProducer := newProducer(t, bob)
	publishKeyed(t, bobProducer, checker, restartTopic, 0, batch, 50)
	waitChecked(t, checker, batch, 60*time.Second)

	takeover.Lock()
	takeover.parts = map[int]bool{}
	for _, p := range om.sub("on-victim").OrderedPartitions() {
		takeover.parts[p] = true
	}
	killed := time.Now()
	takeover.killed = killed
	takeover.Unlock()
	c.procs[victim].Kill9()
	om.kill("on-victim") // its node is gone; reap the client

	after, since := c.singletonOwners(t, names, 30*time.Second)
	var table strings.Builder
	for _, name := range held {
		move := since[name].Sub(killed)
		fmt.Fprintf(&table, "  %-28s n%d -> n%d in %s\n", name, victim+1, after[name]+1, move.Round(time.Millisecond))
		if after[name] == victim || since[name].Before(killed) {
			t.Errorf("%s did not start again after the kill (on n%d since %s)", name, after[name]+1, since[name].Format(time.StampMilli))
		}
		if move > moveBound {
			t.Errorf("%s ran again %s after the kill, more than %s", name, move.Round(time.Millisecond), moveBound)
		}
	}
	t.Logf("kill -9 of n%d at %s; singletons started again:\n%s", victim+1, killed.Format(time.StampMilli), table.String())
	for _, name := range names {
		if owner[name] != victim && (after[name] != owner[name] || since[name].After(killed)) {
			t.Errorf("%s moved from survivor n%d to n%d: only the dead node's singletons should move", name, owner[name]+1, after[name]+1)
		}
	}

	// Everything the moved singletons must do is set going at once, so
	// that each one's time after the kill is its own.
	// A's check-back driver asks A's checker, which commits.
	var checkMu sync.Mutex
	var checks []time.Time
	checkResponder(t, alice, "pg", func(*nats.Msg) string {
		checkMu.Lock()
		checks = append(checks, time.Now())
		checkMu.Unlock()
		return semantics.TxnStateCommit
	})
	// A's dead-letter mover: a plain consumer of the group raw naks every
	// delivery, so only the mover can copy the message to the DLQ once
	// JetStream gives up on it.
	// The consumer's leader may be on the dead node: its look-up is
	// retried, and its pulls ask for 1 s heartbeats, so that a pull lost
	// with the old leader is replaced in 2 s, not nats.go's 30 s.
	var raw jetstream.Consumer
	if err := retry(withTimeout(func(ctx context.Context) (err error) {
		raw, err = testutil.JetStream(t, alice).Consumer(ctx, restartTopic, "raw")
		return err
	})); err != nil {
		t.Fatalf("consumer raw: %v", err)
	}
	naker, err := raw.Consume(func(m jetstream.Msg) { _ = m.Nak() }, jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer naker.Stop()
	aliceProducer := newProducer(t, alice)
	if err := retry(withTimeout(func(ctx context.Context) error {
		_, err := aliceProducer.Send(ctx, &semantics.Message{Topic: restartTopic, Key: "poison", Data: []byte("never acked"), MsgID: "poison"})
		return err
	})); err != nil {
		t.Fatalf("publish to A after the kill: %v", err)
	}
	// B's ordered coordinator hands the dead member's partitions to the
	// member left; the second batch arrives in order. Its first message
	// is retried until B's stream has elected a leader again.
	sendKeyedUntilAcked(bob, bobProducer, checker, restartTopic, batch, 50, nil)
	publishKeyed(t, bobProducer, checker, restartTopic, batch+1, batch-1, 50)

	testutil.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		if st := txnStateOf(t, alice, "a-orphan"); st != semantics.TxnStateCommit {
			return fmt.Errorf("orphaned transaction is %q", st)
		}
		return nil
	})
	var deadAt time.Time
	testutil.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		var list semantics.DLQList
		if err := apiRequest(t, alice, semantics.DLQAPIPrefix+"LIST."+restartTopic+".raw", nil, &list); err != nil {
			return err
		}
		for _, d := range list.Messages {
			if d.Key == "poison" && d.Attempts == 3 {
				deadAt = d.DeadAt
				return nil
			}
		}
		return fmt.Errorf("A's DLQ holds %+v, not the poison message after 3 attempts", list.Messages)
	})
	waitChecked(t, checker, 2*batch, 120*time.Second)
	// Then it takes a new member in, and the third batch is shared.
	om.start("joined")
	waitBalanced(t, om, 8, "on-survivor", "joined")
	publishKeyed(t, bobProducer, checker, restartTopic, 2*batch, batch, 50)
	waitChecked(t, checker, 3*batch, 120*time.Second)
	checkMu.Lock()
	firstCheck := checks[0]
	checkMu.Unlock()
	takeover.Lock()
	firstTakeover := takeover.first
	takeover.Unlock()
	if firstTakeover.IsZero() {
		t.Fatalf("no message of the dead member's partitions %v was handled after the kill", takeover.parts)
	}
	t.Logf("after the kill, seen from clients: A's first check-back %s (orphan committed), A's poison message dead-lettered by the mover %s, "+
		"B's dead member's partitions handled again %s; B's ordered group delivered %d messages in order, the member that joined after the kill owns %v",
		firstCheck.Sub(killed).Round(time.Millisecond), deadAt.Sub(killed).Round(time.Millisecond), firstTakeover.Sub(killed).Round(time.Millisecond),
		3*batch, om.sub("joined").OrderedPartitions())
}
