package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/rocketmq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// plainProxy is the same-shape reference of rmq-send and rmq-receive: the
// least a hand-written RocketMQ proxy over plain JetStream must do for the
// official client — gRPC over TLS, one queue, the settings handshake — and
// per call one JetStream step: a publish per SendMessage, a no-wait then a
// waiting pull per ReceiveMessage (as jetmq's endpoint pulls), one ack
// request per AckMessage. No topics, groups, signed handles, retries or
// bookkeeping. The ratio of an rmq scenario to it is what jetmq's semantics
// cost; its own ratio to raw JetStream is what the client and gRPC cost.
type plainProxy struct {
	v2.UnimplementedMessagingServiceServer
	nc       *nats.Conn
	js       jetstream.JetStream
	subject  string             // SendMessage publishes here
	consumer jetstream.Consumer // ReceiveMessage pulls from it (nil: none)
	addr     string
	srv      *grpc.Server
	ids      atomic.Int64
	poll     time.Duration
}

// startPlainProxy serves the reference on a free loopback port, connected
// the way the jetmq endpoint is (in-process when the harness runs the server).
func startPlainProxy(env *Env, js jetstream.JetStream, nc *nats.Conn, subject string, consumer jetstream.Consumer) (*plainProxy, error) {
	cert, err := rocketmq.SelfSignedCertificate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &plainProxy{nc: nc, js: js, subject: subject, consumer: consumer, addr: ln.Addr().String(), poll: time.Second}
	p.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	v2.RegisterMessagingServiceServer(p.srv, p)
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *plainProxy) stop() { p.srv.Stop() }

func okStatus() *v2.Status { return &v2.Status{Code: v2.Code_OK, Message: "OK"} }

func (p *plainProxy) broker() *v2.Broker {
	host, port, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(port)
	return &v2.Broker{Name: "plain", Endpoints: &v2.Endpoints{Scheme: v2.AddressScheme_IPv4, Addresses: []*v2.Address{{Host: host, Port: int32(n)}}}}
}

func (p *plainProxy) queue(topic *v2.Resource) *v2.MessageQueue {
	return &v2.MessageQueue{Topic: topic, Permission: v2.Permission_READ_WRITE, Broker: p.broker(),
		AcceptMessageTypes: []v2.MessageType{v2.MessageType_NORMAL}}
}

func (p *plainProxy) QueryRoute(_ context.Context, req *v2.QueryRouteRequest) (*v2.QueryRouteResponse, error) {
	return &v2.QueryRouteResponse{Status: okStatus(), MessageQueues: []*v2.MessageQueue{p.queue(req.GetTopic())}}, nil
}

func (p *plainProxy) QueryAssignment(_ context.Context, req *v2.QueryAssignmentRequest) (*v2.QueryAssignmentResponse, error) {
	return &v2.QueryAssignmentResponse{Status: okStatus(), Assignments: []*v2.Assignment{{MessageQueue: p.queue(req.GetTopic())}}}, nil
}

func (p *plainProxy) Heartbeat(context.Context, *v2.HeartbeatRequest) (*v2.HeartbeatResponse, error) {
	return &v2.HeartbeatResponse{Status: okStatus()}, nil
}

func (p *plainProxy) NotifyClientTermination(context.Context, *v2.NotifyClientTerminationRequest) (*v2.NotifyClientTerminationResponse, error) {
	return &v2.NotifyClientTerminationResponse{Status: okStatus()}, nil
}

// Telemetry answers the client's first settings, as jetmq's endpoint does
// (the clients block until then).
func (p *plainProxy) Telemetry(stream grpc.BidiStreamingServer[v2.TelemetryCommand, v2.TelemetryCommand]) error {
	answered := false
	for {
		cmd, err := stream.Recv()
		if err != nil {
			return nil
		}
		s := cmd.GetSettings()
		if s == nil || answered {
			continue
		}
		answered = true
		out := &v2.Settings{ClientType: s.ClientType, AccessPoint: s.AccessPoint, RequestTimeout: s.RequestTimeout}
		if pub, ok := s.GetPubSub().(*v2.Settings_Publishing); ok {
			out.PubSub = &v2.Settings_Publishing{Publishing: &v2.Publishing{Topics: pub.Publishing.GetTopics(), MaxBodySize: 1 << 20}}
		}
		if err := stream.Send(&v2.TelemetryCommand{Status: okStatus(), Command: &v2.TelemetryCommand_Settings{Settings: out}}); err != nil {
			return nil
		}
	}
}

func (p *plainProxy) SendMessage(ctx context.Context, req *v2.SendMessageRequest) (*v2.SendMessageResponse, error) {
	resp := &v2.SendMessageResponse{Status: okStatus()}
	for _, m := range req.GetMessages() {
		ack, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: p.subject, Data: m.GetBody()})
		if err != nil {
			st := &v2.Status{Code: v2.Code_INTERNAL_SERVER_ERROR, Message: err.Error()}
			resp.Status = st
			resp.Entries = append(resp.Entries, &v2.SendResultEntry{Status: st})
			continue
		}
		resp.Entries = append(resp.Entries, &v2.SendResultEntry{Status: okStatus(), MessageId: m.GetSystemProperties().GetMessageId(), Offset: int64(ack.Sequence)})
	}
	return resp, nil
}

func (p *plainProxy) ReceiveMessage(req *v2.ReceiveMessageRequest, stream grpc.ServerStreamingServer[v2.ReceiveMessageResponse]) error {
	n := int(req.GetBatchSize())
	got := rocketmq.Fetch(p.consumer, n, 0)
	if len(got) == 0 {
		if got = rocketmq.Fetch(p.consumer, 1, p.poll); len(got) > 0 && n > 1 {
			got = append(got, rocketmq.Fetch(p.consumer, n-1, 0)...)
		}
	}
	if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: okStatus()}}); err != nil {
		return err
	}
	now := timestamppb.Now()
	if len(got) > 0 {
		if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_DeliveryTimestamp{DeliveryTimestamp: now}}); err != nil {
			return err
		}
	}
	for _, m := range got {
		body := m.Data()
		v := &v2.Message{Topic: req.GetMessageQueue().GetTopic(), Body: body, SystemProperties: &v2.SystemProperties{
			MessageId:     strconv.FormatInt(p.ids.Add(1), 16),
			ReceiptHandle: ptr(m.Reply()),
			BodyEncoding:  v2.Encoding_IDENTITY,
			BodyDigest:    &v2.Digest{Type: v2.DigestType_CRC32, Checksum: strings.ToUpper(strconv.FormatInt(int64(crc32.ChecksumIEEE(body)), 16))},
			MessageType:   v2.MessageType_NORMAL,
			BornTimestamp: now, DeliveryTimestamp: now, DeliveryAttempt: ptr(int32(1)),
			InvisibleDuration: durationpb.New(30 * time.Second),
		}}
		if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Message{Message: v}}); err != nil {
			return err
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func (p *plainProxy) AckMessage(ctx context.Context, req *v2.AckMessageRequest) (*v2.AckMessageResponse, error) {
	resp := &v2.AckMessageResponse{Status: okStatus()}
	for _, en := range req.GetEntries() {
		st := okStatus()
		if _, err := p.nc.RequestWithContext(ctx, en.GetReceiptHandle(), []byte("+ACK")); err != nil {
			st = &v2.Status{Code: v2.Code_INTERNAL_SERVER_ERROR, Message: err.Error()}
			resp.Status = st
		}
		resp.Entries = append(resp.Entries, &v2.AckMessageResultEntry{MessageId: en.GetMessageId(), ReceiptHandle: en.GetReceiptHandle(), Status: st})
	}
	return resp, nil
}

// runPlainProxySend is rmq-send's reference: the same client, window and
// payload against the plain proxy publishing to a plain R1 stream.
func runPlainProxySend(ctx context.Context, env *Env) (Result, error) {
	s, err := openRawStream(ctx, env, "ref")
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	nc, js, err := env.inProcessJetStream()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	p, err := startPlainProxy(env, js, nc, s.subj, nil)
	if err != nil {
		return Result{}, err
	}
	defer p.stop()
	return sendOverRocketMQ(ctx, env, p.addr, s.name, s.js, s.name)
}

// runPlainProxyReceive is rmq-receive's reference: the same push consumer
// draining the same count from a plain stream through the plain proxy.
func runPlainProxyReceive(ctx context.Context, env *Env) (Result, error) {
	s, err := openRawStream(ctx, env, "ref")
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	filled, err := publishAsync(ctx, env, s.js, fixedSubject(s.subj), env.Msgs, nil, nil)
	if err != nil {
		return Result{}, fmt.Errorf("fill: %w", err)
	}
	durable, err := s.js.CreateConsumer(ctx, s.name, jetstream.ConsumerConfig{Durable: rmqGroup,
		AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: -1})
	if err != nil {
		return Result{}, fmt.Errorf("create consumer: %w", err)
	}
	nc, js, err := env.inProcessJetStream()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	cons, err := js.Consumer(ctx, s.name, rmqGroup)
	if err != nil {
		return Result{}, err
	}
	p, err := startPlainProxy(env, js, nc, s.subj, cons)
	if err != nil {
		return Result{}, err
	}
	defer p.stop()
	return receiveOverRocketMQ(ctx, env, p.addr, s.name, durable, filled)
}

// inProcessJetStream connects as jetmq's endpoint does: in-process when the
// harness runs the server, otherwise over the network.
func (e *Env) inProcessJetStream() (*nats.Conn, jetstream.JetStream, error) {
	var opts []nats.Option
	if e.Server != nil {
		opts = append(opts, nats.InProcessServer(e.Server.NATS()))
	}
	nc, err := e.Connect(opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
