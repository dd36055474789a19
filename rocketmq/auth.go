package rocketmq

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// AK/SK authentication, as RocketMQ 5 clients sign and the RocketMQ proxy
// checks: each call carries x-mq-date-time (the client's clock,
// "20060102T150405Z") and
//
//	authorization: MQv2-HMAC-SHA1 Credential=<AK>/<region>/Rocketmq, SignedHeaders=x-mq-date-time, Signature=<hex>
//
// where the signature is HMAC-SHA1(secret key, x-mq-date-time). Only the
// date-time is signed, so a signature says who, not what.
const signatureAlgorithm = "MQv2-HMAC-SHA1"

// maxSignatureSkew is how far x-mq-date-time may be from this node's
// clock. The Go client v5.1.4 formats its local time and labels it Z, so
// a client east or west of UTC is off by its zone offset (UTC-12 to
// UTC+14): the window covers every zone plus 15 minutes of clock drift.
// The RocketMQ proxy checks no time at all; this bounds how long a
// captured signature can be replayed (TLS, on by default, hides them).
const maxSignatureSkew = 14*time.Hour + 15*time.Minute

const dateTimeLayout = "20060102T150405Z"

// authenticate picks the endpoint a call is for: the access key's, or the
// unsigned clients' one; a status says why the call is refused.
func (s *Service) authenticate(ctx context.Context, now time.Time) (*Endpoint, *v2.Status) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := first(md, "authorization")
	if auth == "" {
		if s.anon != nil {
			return s.anon, nil
		}
		return nil, status(v2.Code_UNAUTHORIZED, "this endpoint requires AK/SK credentials: the call is not signed (no authorization metadata)")
	}
	alg, params, _ := strings.Cut(auth, " ")
	if alg != signatureAlgorithm {
		return nil, status(v2.Code_UNAUTHORIZED, fmt.Sprintf("authorization: algorithm %.32q is not %s", alg, signatureAlgorithm))
	}
	var ak, sig string
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "Credential":
			ak, _, _ = strings.Cut(v, "/")
		case "Signature":
			sig = v
		}
	}
	if ak == "" || sig == "" {
		return nil, status(v2.Code_UNAUTHORIZED, "authorization: Credential and Signature are required")
	}
	p := s.keys[ak]
	if p == nil {
		return nil, status(v2.Code_UNAUTHORIZED, fmt.Sprintf("access key %.64q is unknown", ak))
	}
	stamp := first(md, "x-mq-date-time")
	at, err := time.Parse(dateTimeLayout, stamp)
	if err != nil {
		return nil, status(v2.Code_UNAUTHORIZED, fmt.Sprintf("x-mq-date-time %.32q is not a %s time", stamp, dateTimeLayout))
	}
	if d := now.Sub(at); d > maxSignatureSkew || d < -maxSignatureSkew {
		return nil, status(v2.Code_UNAUTHORIZED, fmt.Sprintf("x-mq-date-time %s is more than %s from this node's clock", stamp, maxSignatureSkew))
	}
	got, err := hex.DecodeString(sig)
	mac := hmac.New(sha1.New, p.secret)
	mac.Write([]byte(stamp))
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, status(v2.Code_UNAUTHORIZED, fmt.Sprintf("signature of access key %q does not match: wrong secret key", ak))
	}
	return p.e, nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

type endpointKey struct{}

// endpointOf is the endpoint the auth interceptor picked for the call.
func endpointOf(ctx context.Context) *Endpoint { return ctx.Value(endpointKey{}).(*Endpoint) }

func (s *Service) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	e, st := s.authenticate(ctx, time.Now())
	if st != nil {
		return refusal(info.FullMethod, st)
	}
	return h(context.WithValue(ctx, endpointKey{}, e), req)
}

func (s *Service) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	e, st := s.authenticate(ss.Context(), time.Now())
	if st != nil {
		if path.Base(info.FullMethod) == "ReceiveMessage" {
			return ss.SendMsg(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: st}})
		}
		// Telemetry has no status to answer with before the client's
		// settings; the client logs the gRPC status and its start fails.
		return grpcstatus.Error(codes.Unauthenticated, st.GetMessage())
	}
	return h(srv, &authedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), endpointKey{}, e)})
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

// refusal answers a unary call with its own response type carrying st, as
// the RocketMQ proxy answers an unauthenticated call.
func refusal(fullMethod string, st *v2.Status) (any, error) {
	sd := v2.File_apache_rocketmq_v2_service_proto.Services().ByName("MessagingService")
	md := sd.Methods().ByName(protoreflect.Name(path.Base(fullMethod)))
	if md == nil {
		return nil, grpcstatus.Error(codes.Unauthenticated, st.GetMessage())
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil, grpcstatus.Error(codes.Unauthenticated, st.GetMessage())
	}
	m := mt.New()
	f := m.Descriptor().Fields().ByName("status")
	if f == nil {
		return nil, grpcstatus.Error(codes.Unauthenticated, st.GetMessage())
	}
	m.Set(f, protoreflect.ValueOfMessage(st.ProtoReflect()))
	return m.Interface(), nil
}

// router hands each call to the endpoint its credentials picked.
type router struct {
	v2.UnimplementedMessagingServiceServer
}

func (router) QueryRoute(ctx context.Context, req *v2.QueryRouteRequest) (*v2.QueryRouteResponse, error) {
	return endpointOf(ctx).QueryRoute(ctx, req)
}

func (router) Heartbeat(ctx context.Context, req *v2.HeartbeatRequest) (*v2.HeartbeatResponse, error) {
	return endpointOf(ctx).Heartbeat(ctx, req)
}

func (router) SendMessage(ctx context.Context, req *v2.SendMessageRequest) (*v2.SendMessageResponse, error) {
	return endpointOf(ctx).SendMessage(ctx, req)
}

func (router) QueryAssignment(ctx context.Context, req *v2.QueryAssignmentRequest) (*v2.QueryAssignmentResponse, error) {
	return endpointOf(ctx).QueryAssignment(ctx, req)
}

func (router) ReceiveMessage(req *v2.ReceiveMessageRequest, stream grpc.ServerStreamingServer[v2.ReceiveMessageResponse]) error {
	return endpointOf(stream.Context()).ReceiveMessage(req, stream)
}

func (router) AckMessage(ctx context.Context, req *v2.AckMessageRequest) (*v2.AckMessageResponse, error) {
	return endpointOf(ctx).AckMessage(ctx, req)
}

func (router) ForwardMessageToDeadLetterQueue(ctx context.Context, req *v2.ForwardMessageToDeadLetterQueueRequest) (*v2.ForwardMessageToDeadLetterQueueResponse, error) {
	return endpointOf(ctx).ForwardMessageToDeadLetterQueue(ctx, req)
}

func (router) EndTransaction(ctx context.Context, req *v2.EndTransactionRequest) (*v2.EndTransactionResponse, error) {
	return endpointOf(ctx).EndTransaction(ctx, req)
}

func (router) Telemetry(stream grpc.BidiStreamingServer[v2.TelemetryCommand, v2.TelemetryCommand]) error {
	return endpointOf(stream.Context()).Telemetry(stream)
}

func (router) NotifyClientTermination(ctx context.Context, req *v2.NotifyClientTerminationRequest) (*v2.NotifyClientTerminationResponse, error) {
	return endpointOf(ctx).NotifyClientTermination(ctx, req)
}

func (router) ChangeInvisibleDuration(ctx context.Context, req *v2.ChangeInvisibleDurationRequest) (*v2.ChangeInvisibleDurationResponse, error) {
	return endpointOf(ctx).ChangeInvisibleDuration(ctx, req)
}

func (router) RecallMessage(ctx context.Context, req *v2.RecallMessageRequest) (*v2.RecallMessageResponse, error) {
	return endpointOf(ctx).RecallMessage(ctx, req)
}
