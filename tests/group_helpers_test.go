package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/bridge"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// groupServices is the default service list, plus the group coordinator
// when the defaults do not run one yet.
func groupServices(cfg *server.Config) []bridge.Service {
	svcs := bridge.DefaultServices(bridge.Settings{Topics: cfg.Topics, Groups: cfg.Groups, Transactions: cfg.Transactions})
	var topics *bridge.Topics
	for _, s := range svcs {
		switch v := s.(type) {
		case *bridge.GroupService:
			return svcs
		case *bridge.Topics:
			topics = v
		}
	}
	return append(svcs, bridge.NewGroupService(cfg.Groups, topics))
}

// startGroupServer starts a node with topics and groups on dir.
func startGroupServer(t *testing.T, dir string, mutate ...func(*server.Config)) *server.Server {
	t.Helper()
	cfg := testutil.Config(dir)
	for _, m := range mutate {
		m(cfg)
	}
	return testutil.StartConfig(t, cfg, server.WithServices(groupServices(cfg)...))
}

// unguarded lets a test's clients read and write jetmq's registry buckets,
// which the guard denies every application user (server/guard.go).
func unguarded(c *server.Config) { c.NATS.Unguarded = true }

func withGroups(groups ...semantics.GroupConfig) func(*server.Config) {
	return func(c *server.Config) { c.Groups = append(c.Groups, groups...) }
}

// sendN publishes n messages to topic with keys key(i) asynchronously and
// waits for all acks.
func sendN(t *testing.T, p *semantics.Producer, topic string, n int, msg func(i int) *semantics.Message) {
	t.Helper()
	futures := make([]*semantics.SendFuture, 0, n)
	for i := 0; i < n; i++ {
		m := msg(i)
		m.Topic = topic
		f, err := p.SendAsync(m)
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, f := range futures {
		if _, err := f.Result(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func newProducer(t *testing.T, nc *nats.Conn) *semantics.Producer {
	t.Helper()
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tally counts handled messages by an id, per member.
type tally struct {
	mu       sync.Mutex
	count    map[string]int
	byMember map[string]int
}

func newTally() *tally { return &tally{count: map[string]int{}, byMember: map[string]int{}} }

func (t *tally) add(id, member string) {
	t.mu.Lock()
	t.count[id]++
	t.byMember[member]++
	t.mu.Unlock()
}

func (t *tally) distinct() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.count)
}

// dups lists ids handled more than once.
func (t *tally) dups() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for id, n := range t.count {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s×%d", id, n))
		}
	}
	return out
}

func (t *tally) members() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for k, v := range t.byMember {
		out[k] = v
	}
	return out
}

// subscribe starts a member and stops it with the test.
func subscribe(t *testing.T, nc *nats.Conn, topic, group string, h semantics.Handler, opts ...semantics.SubscribeOption) *semantics.Subscription {
	t.Helper()
	sub, err := semantics.Subscribe(context.Background(), nc, topic, group, h, opts...)
	if err != nil {
		t.Fatalf("subscribe %s/%s: %v", topic, group, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sub.Stop(ctx)
	})
	return sub
}

func waitCount(t *testing.T, what string, timeout time.Duration, got func() int, want int) {
	t.Helper()
	testutil.CheckFor(t, timeout, 20*time.Millisecond, func() error {
		if n := got(); n < want {
			return fmt.Errorf("%s: %d of %d", what, n, want)
		}
		return nil
	})
}

func groupInfo(t *testing.T, nc *nats.Conn, topic, group string) semantics.GroupStatus {
	t.Helper()
	var st semantics.GroupStatus
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"INFO."+topic+"."+group, nil, &st); err != nil {
		t.Fatalf("group info: %v", err)
	}
	return st
}

// fullSize reports whether the heavy proofs run at full size.
func fullSize() bool { return os.Getenv("JETMQ_FULL") == "1" }

// isAPIError reports whether err is a jetmq API error with code.
func isAPIError(err error, code int) bool {
	var ae *semantics.APIError
	return errors.As(err, &ae) && ae.Code == code
}

// badRequest is a request that must be refused: its subject (after the
// API prefix), body, the error code and a part of the description.
type badRequest struct {
	subject, body string
	code          int
	want          string
}

// checkBadRequests sends each request and checks it gets its error.
func checkBadRequests(t *testing.T, nc *nats.Conn, prefix string, cases []badRequest) {
	t.Helper()
	for _, c := range cases {
		resp, err := nc.Request(prefix+c.subject, []byte(c.body), 10*time.Second)
		if err != nil {
			t.Fatalf("%s %s: %v", c.subject, c.body, err)
		}
		err = semantics.DecodeReply(resp.Data, nil)
		if !isAPIError(err, c.code) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %d with %q", c.subject, c.body, err, c.code, c.want)
		}
	}
}
