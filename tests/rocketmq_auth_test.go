package tests

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/metadata"
)

// rmqAuthServer runs conf/rocketmq/jetmq.yaml (accounts A and B of a
// native config, access keys mapped to alice and reader in A and bob in
// B) on free ports.
func rmqAuthServer(t *testing.T, log *syncLog) (*server.Server, *server.Config) {
	t.Helper()
	t.Setenv("JETMQ_ROCKETMQ_LISTEN", "127.0.0.1:0")
	cfg := loadExampleConf(t, "rocketmq/jetmq.yaml")
	cfg.NATS.Host = ""
	cfg.RocketMQ.LongPolling = 500 * time.Millisecond
	return testutil.StartConfig(t, cfg, server.WithLogger(log.logger())), cfg
}

func rmqSigned(addr, group, ak, sk string) *rmq.Config {
	c := rmqConfig(addr, group)
	c.Credentials = &credentials.SessionCredentials{AccessKey: ak, AccessSecret: sk}
	return c
}

// signedMD is the metadata the official client signs a call with.
func signedMD(ctx context.Context, ak, sk string, at time.Time) context.Context {
	stamp := at.Format("20060102T150405Z")
	mac := hmac.New(sha1.New, []byte(sk))
	mac.Write([]byte(stamp))
	auth := fmt.Sprintf("MQv2-HMAC-SHA1 Credential=%s//Rocketmq, SignedHeaders=x-mq-date-time, Signature=%s", ak, hex.EncodeToString(mac.Sum(nil)))
	return metadata.AppendToOutgoingContext(ctx, "x-mq-date-time", stamp, "authorization", auth)
}

// TestRocketMQCredentialsAccounts: a client signing with A's access key
// acts in account A, B's in B: A's send reaches A's NATS member only, B's
// RocketMQ consumer gets B's message and never A's. A wrong secret key, an
// unknown access key and an unsigned call are UNAUTHORIZED; a key whose
// NATS user may not publish to the topic gets FORBIDDEN and nothing is
// stored. A reload that changes the credentials is refused, naming the
// key but no secret, and the running keys keep working. No secret key or
// password is ever logged.
func TestRocketMQCredentialsAccounts(t *testing.T) {
	log := &syncLog{}
	s, cfg := rmqAuthServer(t, log)
	addr, url := s.RocketMQAddr(), s.ClientURL()
	alice := testutil.Connect(t, url, nats.UserInfo("alice", "alice-secret"))
	bob := testutil.Connect(t, url, nats.UserInfo("bob", "bob-secret"))
	inA := natsMember(t, alice, "orders", "nats-side")
	inB := natsMember(t, bob, "orders", "nats-side")
	ctx := context.Background()

	// B's RocketMQ consumer group exists before any send, so it sees
	// every message of B's orders.
	consumerB, err := rmq.NewSimpleConsumer(rmqSigned(addr, "rmq-b", "orders-app-b", "change-me-b"), rmq.WithSimpleAwaitDuration(time.Second),
		rmq.WithSimpleSubscriptionExpressions(map[string]*rmq.FilterExpression{"orders": rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := consumerB.Start(); err != nil {
		t.Fatalf("B's consumer start: %v", err)
	}
	t.Cleanup(func() { _ = consumerB.GracefulStop() })

	send := func(ak, sk, body string) error {
		p, err := rmq.NewProducer(rmqSigned(addr, "", ak, sk), rmq.WithTopics("orders"))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			return err
		}
		defer p.GracefulStop()
		m := &rmq.Message{Topic: "orders", Body: []byte(body)}
		m.SetKeys("k1")
		_, err = p.Send(ctx, m)
		return err
	}
	if err := send("orders-app-a", "change-me-a", "for-A"); err != nil {
		t.Fatalf("A's send: %v", err)
	}
	select {
	case d := <-inA:
		if string(d.Data) != "for-A" || d.Key != "k1" {
			t.Fatalf("A's member got %q key %q", d.Data, d.Key)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("A's NATS member did not get A's RocketMQ send")
	}
	if err := send("orders-app-b", "change-me-b", "for-B"); err != nil {
		t.Fatalf("B's send: %v", err)
	}
	select {
	case d := <-inB:
		if string(d.Data) != "for-B" {
			t.Fatalf("B's member got %q first: A's message leaked into B", d.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("B's NATS member did not get B's RocketMQ send")
	}
	got := receiveN(t, consumerB, 1, 10*time.Second, true)
	if string(got[0].GetBody()) != "for-B" {
		t.Fatalf("B's RocketMQ consumer got %q", got[0].GetBody())
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	more, _ := consumerB.Receive(rctx, 16, 10*time.Second)
	cancel()
	if len(more) != 0 {
		t.Fatalf("B's RocketMQ consumer got %d more messages (%q): A's reached B", len(more), more[0].GetBody())
	}
	select {
	case d := <-inB:
		t.Fatalf("B's NATS member got a second message %q", d.Data)
	case d := <-inA:
		t.Fatalf("A's NATS member got a second message %q", d.Data)
	default:
	}

	// The official client with a wrong secret key cannot start: its route
	// query is refused.
	// (The client wraps the status into its start error's text.)
	err = send("orders-app-a", "wrong-secret", "never")
	if err == nil || !strings.Contains(err.Error(), "CODE: UNAUTHORIZED, MESSAGE: signature of access key \"orders-app-a\" does not match") {
		t.Fatalf("wrong secret key: %v, want UNAUTHORIZED naming the signature", err)
	}

	// Exact statuses, with the protocol stubs.
	raw, rawCtx := rawRMQ(t, addr)
	route := func(ctx context.Context) *v2.Status {
		resp, err := raw.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "orders"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus()
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want v2.Code
		msg  string
	}{
		{"A's key", signedMD(rawCtx, "orders-app-a", "change-me-a", time.Now()), v2.Code_OK, ""},
		{"wrong secret", signedMD(rawCtx, "orders-app-a", "change-me-b", time.Now()), v2.Code_UNAUTHORIZED, "wrong secret key"},
		{"unknown key", signedMD(rawCtx, "nobody", "x", time.Now()), v2.Code_UNAUTHORIZED, `access key "nobody" is unknown`},
		{"stale stamp", signedMD(rawCtx, "orders-app-a", "change-me-a", time.Now().Add(-15*time.Hour)), v2.Code_UNAUTHORIZED, "from this node's clock"},
		{"unsigned", rawCtx, v2.Code_UNAUTHORIZED, "not signed"},
	} {
		st := route(tc.ctx)
		if st.GetCode() != tc.want || !strings.Contains(st.GetMessage(), tc.msg) {
			t.Errorf("%s: status %v %q, want %v containing %q", tc.name, st.GetCode(), st.GetMessage(), tc.want, tc.msg)
		}
	}

	// reader may not publish to orders: FORBIDDEN, fast, nothing stored.
	readerCtx := signedMD(rawCtx, "orders-reader-a", "change-me-r", time.Now())
	start := time.Now()
	resp, err := raw.SendMessage(readerCtx, &v2.SendMessageRequest{Messages: []*v2.Message{{
		Topic: &v2.Resource{Name: "orders"}, Body: []byte("denied"),
		SystemProperties: &v2.SystemProperties{MessageId: "0123456789ABCDEF", MessageType: v2.MessageType_NORMAL, Keys: []string{"k2"}, BodyEncoding: v2.Encoding_IDENTITY},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.GetStatus(); st.GetCode() != v2.Code_FORBIDDEN || !strings.Contains(st.GetMessage(), "permissions deny") {
		t.Fatalf("reader's send: %v %q, want FORBIDDEN", st.GetCode(), st.GetMessage())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("FORBIDDEN took %s: the violation did not end the publish", took)
	}
	var rpc *rmq.ErrRpcStatus
	if err := send("orders-reader-a", "change-me-r", "denied too"); !errors.As(err, &rpc) || rpc.GetCode() != int32(v2.Code_FORBIDDEN) {
		t.Fatalf("reader's send with the official client: %v, want FORBIDDEN", err)
	}
	for _, tc := range []struct {
		nc   *nats.Conn
		want uint64
	}{{alice, 1}, {bob, 1}} {
		js, err := jetstream.New(tc.nc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if n := st.CachedInfo().State.Msgs; n != tc.want {
			t.Fatalf("orders holds %d messages, want %d (the denied sends stored nothing)", n, tc.want)
		}
	}

	revoked := *cfg
	revoked.RocketMQ.Credentials = cfg.RocketMQ.Credentials[1:]
	err = s.ReloadWith(ctx, func() (*server.Config, error) { return &revoked, nil })
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Key != "rocketmq.credentials" || strings.Contains(err.Error(), "change-me") {
		t.Fatalf("reload with a revoked key: %v, want a rocketmq.credentials error naming no secret", err)
	}
	if st := route(signedMD(rawCtx, "orders-app-a", "change-me-a", time.Now())); st.GetCode() != v2.Code_OK {
		t.Fatalf("after the refused reload A's key gets %v %q", st.GetCode(), st.GetMessage())
	}
	if !strings.Contains(log.String(), "credentials=3") {
		t.Fatalf("the start log does not count the 3 credentials:\n%s", log)
	}
	for _, secret := range []string{"change-me", "alice-secret", "bob-secret", "reader-secret"} {
		if strings.Contains(log.String(), secret) {
			t.Fatalf("the log shows the secret %q:\n%s", secret, log)
		}
	}
}
