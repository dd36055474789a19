package tests

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
)

// rawRMQ dials the endpoint with plain gRPC stubs, as a client written
// from the protocol would, with TLS that accepts the self-signed cert.
func rawRMQ(t *testing.T, addr string) (v2.MessagingServiceClient, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-mq-client-id", "raw-test-client", "x-mq-language", "GO")
	return v2.NewMessagingServiceClient(conn), ctx
}

func rawReceive(t *testing.T, c v2.MessagingServiceClient, ctx context.Context, topic, group string, invisible time.Duration) []*v2.Message {
	t.Helper()
	var out []*v2.Message
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		st, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: group}, MessageQueue: &v2.MessageQueue{Topic: &v2.Resource{Name: topic}},
			BatchSize: 8, InvisibleDuration: durationpb.New(invisible)})
		if err != nil {
			return err
		}
		for {
			r, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if m := r.GetMessage(); m != nil {
				out = append(out, m)
			}
		}
		if len(out) == 0 {
			return fmt.Errorf("no message")
		}
		return nil
	})
	return out
}

// TestRocketMQStatusCodes: every failure answers RocketMQ's status code
// naming the problem; forged, expired and other groups' receipt handles
// are refused; a client without TLS is refused when plaintext is off.
func TestRocketMQStatusCodes(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "orders", Partitions: 2}},
		semantics.GroupConfig{Name: "a", Topic: "orders", Start: semantics.StartAll},
		semantics.GroupConfig{Name: "b", Topic: "orders", Start: semantics.StartAll})
	c, ctx := rawRMQ(t, s.RocketMQAddr())
	expect := func(what string, st *v2.Status, code v2.Code, word string) {
		t.Helper()
		if st.GetCode() != code || !strings.Contains(st.GetMessage(), word) {
			t.Fatalf("%s: got %v %q, want %v mentioning %q", what, st.GetCode(), st.GetMessage(), code, word)
		}
	}
	qr, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	expect("route of unknown topic", qr.GetStatus(), v2.Code_TOPIC_NOT_FOUND, "nope")
	qr, _ = c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "bad topic!"}})
	expect("route of bad name", qr.GetStatus(), v2.Code_ILLEGAL_TOPIC, "bad topic!")
	qr, _ = c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "orders"}})
	if qr.GetStatus().GetCode() != v2.Code_OK || len(qr.GetMessageQueues()) != 2 {
		t.Fatalf("route: %v", qr)
	}

	send := func(m *v2.Message) *v2.Status {
		r, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{m}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	msg := func(topic string, body []byte, props map[string]string) *v2.Message {
		return &v2.Message{Topic: &v2.Resource{Name: topic}, Body: body, UserProperties: props,
			SystemProperties: &v2.SystemProperties{MessageId: "01A", MessageType: v2.MessageType_NORMAL, Keys: []string{"k"}}}
	}
	expect("send to unknown topic", send(msg("ghost", []byte("x"), nil)), v2.Code_TOPIC_NOT_FOUND, "ghost")
	expect("send too large", send(msg("orders", make([]byte, 2<<20), nil)), v2.Code_MESSAGE_BODY_TOO_LARGE, "exceeds")
	expect("reserved property", send(msg("orders", []byte("x"), map[string]string{"Nats-Msg-Id": "1"})), v2.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "Nats-Msg-Id")
	noGroup := msg("orders", []byte("x"), nil)
	noGroup.SystemProperties.MessageType = v2.MessageType_FIFO
	expect("fifo without group", send(noGroup), v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, "message group")
	expect("send", send(msg("orders", []byte("real"), nil)), v2.Code_OK, "")

	got := rawReceive(t, c, ctx, "orders", "a", 300*time.Millisecond)
	handle := got[0].GetSystemProperties().GetReceiptHandle()
	ack := func(group, h string) *v2.Status {
		r, err := c.AckMessage(ctx, &v2.AckMessageRequest{Group: &v2.Resource{Name: group}, Topic: &v2.Resource{Name: "orders"},
			Entries: []*v2.AckMessageEntry{{MessageId: "01A", ReceiptHandle: h}}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	expect("ack with another group", ack("b", handle), v2.Code_INVALID_RECEIPT_HANDLE, "group \"a\"")
	forged := handle[:len(handle)-4] + "AAAA"
	if forged == handle {
		forged = handle[:len(handle)-4] + "BBBB"
	}
	expect("forged handle", ack("a", forged), v2.Code_INVALID_RECEIPT_HANDLE, "invalid receipt handle")
	expect("garbage handle", ack("a", "garbage"), v2.Code_INVALID_RECEIPT_HANDLE, "malformed")
	// Once the invisible duration is over the message comes again, and the
	// first handle is expired.
	again := rawReceive(t, c, ctx, "orders", "a", 10*time.Second)
	if a := again[0].GetSystemProperties().GetDeliveryAttempt(); a != 2 {
		t.Fatalf("redelivery attempt %d", a)
	}
	expect("expired handle", ack("a", handle), v2.Code_INVALID_RECEIPT_HANDLE, "expired")
	expect("ack of the redelivery", ack("a", again[0].GetSystemProperties().GetReceiptHandle()), v2.Code_OK, "")

	rs, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: "a"}, MessageQueue: &v2.MessageQueue{Topic: &v2.Resource{Name: "orders"}},
		BatchSize: 1, InvisibleDuration: durationpb.New(time.Nanosecond)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	expect("tiny invisible duration", r.GetStatus(), v2.Code_ILLEGAL_INVISIBLE_TIME, "invisible duration")

	plain, err := grpc.NewClient(s.RocketMQAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := v2.NewMessagingServiceClient(plain).QueryRoute(pctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "orders"}}); err == nil {
		t.Fatal("a plaintext client was served with rocketmq.plaintext off")
	}

	for path, want := range map[string]string{"/healthz": `"status":"ok"`, "/metrics": `jetmq_rocketmq_rpc_total{code="INVALID_RECEIPT_HANDLE",method="AckMessage"}`} {
		resp, err := http.Get("http://" + s.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Fatalf("%s lacks %s:\n%.2000s", path, want, body)
		}
	}
}
