package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The scope of conf/roles: one topic, its three groups, one producer group.
const (
	rolesTopic   = "orders"
	rolesPG      = "pg"
	rolesOrdered = "ledger"
	rolesBcast   = "audit"
	rolesCluster = "email"
)

// startRolesServer runs conf/roles/jetmq.yaml in-process; only the ports,
// the storage and (through fast) the email group's retry policy are
// overridden.
func startRolesServer(t *testing.T) *server.Server {
	t.Helper()
	cfg := loadExampleConf(t, "roles/jetmq.yaml")
	for i := range cfg.Groups {
		if cfg.Groups[i].Name == rolesCluster {
			// a poison message reaches the DLQ in well under a second
			cfg.Groups[i].MaxReconsume = 2
			cfg.Groups[i].RetryBackoff = []time.Duration{50 * time.Millisecond}
		}
	}
	return testutil.StartConfig(t, cfg)
}

// roleConn is a connection authenticated as one user of conf/roles, with
// that user's inbox prefix; perms receives the permission violations the
// server reports to it.
type roleConn struct {
	*nats.Conn
	user  string
	perms chan error
}

// dialRole connects as user of conf/roles (password "<user>-secret"),
// with its inbox prefix _INBOX_<user>; operator keeps _INBOX (the jetmq CLI
// has no inbox-prefix flag).
func dialRole(t *testing.T, url, user string) *roleConn {
	t.Helper()
	inbox := "_INBOX_" + user
	if user == "operator" {
		inbox = ""
	}
	return dialAs(t, url, user, inbox)
}

// dialAs connects as user with password "<user>-secret" and inbox prefix
// inbox ("" = the default _INBOX).
func dialAs(t *testing.T, url, user, inbox string) *roleConn {
	t.Helper()
	rc := &roleConn{user: user, perms: make(chan error, 256)}
	opts := []nats.Option{nats.UserInfo(user, user+"-secret"), nats.Name("role-" + user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				select {
				case rc.perms <- err:
				default:
				}
			}
		})}
	if inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(inbox))
	}
	rc.Conn = testutil.Connect(t, url, opts...)
	return rc
}

// attempt is one thing a role must not be able to do: publish (or
// request) on a subject, or subscribe to one, optionally in a queue group.
type attempt struct {
	sub     bool
	subject string
	queue   string
	checked string // the subject the server checks, when a mapping changes it
}

func pubA(subject string) attempt         { return attempt{subject: subject} }
func subA(subject string) attempt         { return attempt{sub: true, subject: subject} }
func qsubA(subject, queue string) attempt { return attempt{sub: true, subject: subject, queue: queue} }

// topicPubA publishes to the topic with key: the server checks the
// permission on the subject the partition mapping makes of it.
func topicPubA(key string) attempt {
	// A keyed publish is checked as published: the topic stream maps it,
	// not an account mapping.
	return attempt{subject: rolesTopic + "." + key, checked: rolesTopic + "." + key}
}

func (a attempt) String() string {
	if !a.sub {
		return "publish " + a.subject
	}
	if a.queue != "" {
		return "subscribe " + a.subject + " (queue " + a.queue + ")"
	}
	return "subscribe " + a.subject
}

// expectDenied makes the attempt and waits for the server's permission
// violation naming its subject. A denied publish is dropped by the server
// (never delivered); a denied subscription is never registered.
func (rc *roleConn) expectDenied(t *testing.T, a attempt) {
	t.Helper()
	checked := a.subject
	if a.checked != "" {
		checked = a.checked
	}
	want := fmt.Sprintf("Publish to %q", checked)
	if a.sub {
		want = fmt.Sprintf("Subscription to %q", a.subject)
		var sub *nats.Subscription
		var err error
		if a.queue != "" {
			sub, err = rc.QueueSubscribeSync(a.subject, a.queue)
		} else {
			sub, err = rc.SubscribeSync(a.subject)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", rc.user, a, err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	} else if err := rc.PublishRequest(a.subject, rc.NewRespInbox(), []byte(`{}`)); err != nil {
		t.Fatalf("%s: %s: %v", rc.user, a, err)
	}
	if err := rc.Flush(); err != nil {
		t.Fatalf("%s: flush after %s: %v", rc.user, a, err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-rc.perms:
			if strings.Contains(err.Error(), want) {
				return
			}
		case <-timeout:
			t.Fatalf("%s could %s: no permission violation", rc.user, a)
		}
	}
}

// rolesState is what the deny attempts must leave untouched, read through
// the operator's read-only JetStream permissions.
type rolesState struct {
	topicMsgs uint64   // never fewer (no purge, no delete)
	forged    int      // stored subjects orders.<p>.forged (a forged outbox write)
	internal  bool     // %INT%orders exists
	buckets   []string // jetmq's KV buckets whose stream exists
	consumers []string // sorted, without broadcasting members' durables
	openTxn   string   // state of the transaction kept open for the whole test
}

func readRolesState(t *testing.T, op *roleConn, openTxn string) rolesState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := testutil.JetStream(t, op.Conn)
	st, err := js.Stream(ctx, rolesTopic)
	if err != nil {
		t.Fatalf("topic stream: %v", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(rolesTopic+".*."+forgedKey))
	if err != nil {
		t.Fatalf("topic stream info: %v", err)
	}
	s := rolesState{topicMsgs: info.State.Msgs, forged: len(info.State.Subjects)}
	_, err = js.Stream(ctx, "%INT%"+rolesTopic)
	s.internal = err == nil
	for _, b := range jetmqBuckets {
		if _, err := js.Stream(ctx, "KV_"+b); err == nil {
			s.buckets = append(s.buckets, b)
		}
	}
	names := st.ConsumerNames(ctx)
	for n := range names.Name() {
		if !strings.Contains(n, "__") { // a broadcasting member's durable expires with member_ttl
			s.consumers = append(s.consumers, n)
		}
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		t.Fatalf("consumer names: %v", err)
	}
	sort.Strings(s.consumers)
	var ti struct {
		State string `json:"state"`
	}
	if err := apiRequest(t, op.Conn, "$MQ.API.TXN.INFO."+rolesTopic+"."+openTxn, nil, &ti); err != nil {
		t.Fatalf("open transaction: %v", err)
	}
	s.openTxn = ti.State
	return s
}

// unchangedBy fails the test if after differs from before in a way only a
// denied attempt could have caused.
func (before rolesState) unchangedBy(t *testing.T, role string, after rolesState) {
	t.Helper()
	switch {
	case after.topicMsgs < before.topicMsgs:
		t.Errorf("%s: topic lost messages: %d -> %d", role, before.topicMsgs, after.topicMsgs)
	case after.forged != 0:
		t.Errorf("%s: a forged outbox message reached the topic", role)
	case !after.internal:
		t.Errorf("%s: the internal stream is gone", role)
	case !slices.Equal(before.buckets, after.buckets):
		t.Errorf("%s: jetmq's KV buckets changed: %v -> %v", role, before.buckets, after.buckets)
	case !slices.Equal(before.consumers, after.consumers):
		t.Errorf("%s: consumers changed: %v -> %v", role, before.consumers, after.consumers)
	case after.openTxn != before.openTxn:
		t.Errorf("%s: the open transaction went %s -> %s", role, before.openTxn, after.openTxn)
	}
}
