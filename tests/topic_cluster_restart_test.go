package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// processCluster is a cluster of real jetmq processes on loopback.
type processCluster struct {
	t       *testing.T
	dir     string
	ports   []int // client ports
	routes  []int
	cfgs    []string
	procs   []*testutil.Process
	routeCS string // every route URL, comma-separated, for a node that joins later
	extra   string // more YAML for every node (groups, transactions)
	native  string // the nats.config_file every node names; "" for none
}

// newProcessCluster writes n node configs (topic replicas 3, plus extra
// YAML) and starts them.
func newProcessCluster(t *testing.T, n int, extra string) *processCluster {
	return newNativeProcessCluster(t, n, "", extra)
}

// newNativeProcessCluster is newProcessCluster with every node reading
// the native nats config natsConf (accounts, users) as its
// nats.config_file; "" for none.
func newNativeProcessCluster(t *testing.T, n int, natsConf, extra string) *processCluster {
	c := &processCluster{t: t, dir: t.TempDir(), extra: extra}
	if natsConf != "" {
		c.native = filepath.Join(c.dir, "nats.conf")
		if err := os.WriteFile(c.native, []byte(natsConf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n+1; i++ { // one spare node that can join later
		c.ports = append(c.ports, testutil.FreePort(t))
		c.routes = append(c.routes, testutil.FreePort(t))
	}
	var routes []string
	for i := 0; i < n+1; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", c.routes[i]))
	}
	c.routeCS = strings.Join(routes, ",")
	for i := 0; i < n+1; i++ {
		c.cfgs = append(c.cfgs, c.writeConfig(i, routes[:n]))
	}
	c.procs = make([]*testutil.Process, n+1)
	for i := 0; i < n; i++ {
		c.procs[i] = testutil.StartProcess(t, c.dir, "serve", "-c", c.cfgs[i])
	}
	for i := 0; i < n; i++ {
		c.procs[i].WaitReady(t, 90*time.Second)
	}
	return c
}

func (c *processCluster) writeConfig(i int, routes []string) string {
	c.t.Helper()
	var rl strings.Builder
	for _, r := range routes {
		fmt.Fprintf(&rl, "      - %s\n", r)
	}
	native := ""
	if c.native != "" {
		native = fmt.Sprintf("  config_file: %s\n", c.native)
	}
	yaml := fmt.Sprintf(`nats:
%s  server_name: n%d
  store_dir: %s
  port: %d
  cluster:
    name: restart
    listen: 127.0.0.1:%d
    routes:
%shttp: ""
topics:
  - name: %s
    partitions: 8
    replicas: 3
%s`, native, i+1, filepath.Join(c.dir, fmt.Sprintf("n%d", i+1)), c.ports[i], c.routes[i], rl.String(), restartTopic, c.extra)
	path := filepath.Join(c.dir, fmt.Sprintf("n%d.yaml", i+1))
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}

func (c *processCluster) url(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.ports[i]) }

// urls lists the client URLs of the first n nodes.
func (c *processCluster) urls(n int) string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, c.url(i))
	}
	return strings.Join(out, ",")
}

// restart kills node i with -9 and starts it again on its store, while a
// client publishes to it the instant its port opens.
func (c *processCluster) restart(ctx context.Context, i int, l *ackLedger, round int) {
	c.procs[i].Kill9()
	c.start(ctx, i, l, round)
}

// start starts node i with an instant publisher on its port.
func (c *processCluster) start(ctx context.Context, i int, l *ackLedger, round int) {
	done := make(chan struct{})
	go func() { defer close(done); instantPublisher(ctx, c.t, c.url(i), l, round, 60) }()
	c.procs[i] = testutil.StartProcess(c.t, c.dir, "serve", "-c", c.cfgs[i])
	c.procs[i].WaitReady(c.t, 90*time.Second)
	<-done
}

// streamLeaderIndex is the node index that leads stream name.
func streamLeaderIndex(t *testing.T, js jetstream.JetStream, name string) int {
	t.Helper()
	var leader string
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		s, err := js.Stream(context.Background(), name)
		if err != nil {
			return err
		}
		if ci := s.CachedInfo().Cluster; ci == nil || ci.Leader == "" {
			return fmt.Errorf("stream %s has no leader", name)
		}
		leader = s.CachedInfo().Cluster.Leader
		return nil
	})
	return int(leader[1] - '1') // "n2" -> 1
}

// TestTopicNoMisfileClusterLeaderKillsAndJoin kills the topic stream's
// leader with -9 again and again on a 3-node cluster of real processes
// while a steady publisher stays attached; each restarted node, and at the
// end a node that joins the cluster fresh, gets a client that publishes the
// instant its port opens. Every acknowledged message is stored once, on its
// stored form.
func TestTopicNoMisfileClusterLeaderKillsAndJoin(t *testing.T) {
	rounds := 2
	if fullSize() {
		rounds = 5
	}
	c := newProcessCluster(t, 3, "")
	l := &ackLedger{acked: map[string]string{}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	steady := startSteadyPublisher(ctx, t, c.urls(3), l)
	waitAcked(t, l, 1)
	admin := testutil.Connect(t, c.urls(3), nats.MaxReconnects(-1))
	js := testutil.JetStream(t, admin)
	for r := 0; r < rounds; r++ {
		leader := streamLeaderIndex(t, js, restartTopic)
		before := len(l.snapshot())
		logged := make([]int, len(c.procs))
		for i, p := range c.procs {
			if p != nil {
				logged[i] = len(p.Stderr.String())
			}
		}
		c.restart(ctx, leader, l, r)
		waitAcked(t, l, before+100) // the steady publisher is through the election
		// The topic was never deleted: a survivor that dropped its
		// mappings during the election would have let publishes through
		// unmapped (issue 11, item 2).
		for i, p := range c.procs {
			if i == leader || p == nil {
				continue
			}
			if lines := topicLogLines(p.Stderr.String()[logged[i]:], "topic mappings removed", restartTopic); len(lines) > 0 {
				t.Errorf("round %d: surviving node n%d dropped the topic's mappings while n%d was killed:\n%s", r, i+1, leader+1, strings.Join(lines, "\n"))
			}
		}
	}
	// A node that was never part of the cluster joins and is published to
	// the instant its port opens.
	c.cfgs[3] = c.writeConfig(3, strings.Split(c.routeCS, ","))
	c.start(ctx, 3, l, rounds)
	stop()
	steady.Wait()

	for i, p := range c.procs {
		// The same matcher finds the install line every node logs, so
		// finding no removal is not a matcher that never matches.
		if len(topicLogLines(p.Stderr.String(), "topic mappings installed", restartTopic)) == 0 {
			t.Errorf("node n%d never logged that it installed the topic's mappings:\n%s", i+1, p.Stderr)
		}
		if lines := topicLogLines(p.Stderr.String(), "topic mappings removed", restartTopic); len(lines) > 0 {
			t.Errorf("node n%d dropped the topic's mappings, which only a delete may do:\n%s", i+1, strings.Join(lines, "\n"))
		}
	}

	acked := l.snapshot()
	stored := readStoredByID(t, c.urls(3), restartTopic, len(acked))
	checkStoredForms(t, acked, stored, 8)
	t.Logf("%d stream-leader kills and a joining node: %d acknowledged publishes, %d stored, 0 misfiled, 0 lost, 0 doubled", rounds, len(acked), len(stored))
}

// topicLogLines are the lines of a jetmq log with message msg about topic.
func topicLogLines(log, msg, topic string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `msg="`+msg+`"`) && strings.Contains(line+" ", " topic="+topic+" ") {
			out = append(out, line)
		}
	}
	return out
}
