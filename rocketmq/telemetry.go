package rocketmq

import (
	"context"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Telemetry is the client's long-lived command stream: it sends its
// settings and gets the server's back (the clients block until then), and
// the server sends orphaned-transaction checks over it.
func (e *Endpoint) Telemetry(stream grpc.BidiStreamingServer[v2.TelemetryCommand, v2.TelemetryCommand]) error {
	c := e.clients.touch(stream.Context())
	if c == nil {
		return grpcstatus.Error(codes.InvalidArgument, "x-mq-client-id metadata is required")
	}
	t := &telemetryStream{send: stream.Send}
	e.clients.attach(c, t)
	defer e.clients.detach(c, t)
	answered := false
	for {
		cmd, err := stream.Recv()
		if err != nil {
			return nil
		}
		e.clients.touch(stream.Context())
		if s := cmd.GetSettings(); s != nil {
			reply := e.settings(stream.Context(), c, s)
			// Only the first settings of a stream are answered: the client
			// waits for that one, and the official Go client writes the
			// answer into the very structs its periodic settings sync reads
			// without a lock (a data race in the client, seen under -race).
			if answered {
				continue
			}
			answered = true
			if err := t.Send(&v2.TelemetryCommand{Status: ok(), Command: &v2.TelemetryCommand_Settings{Settings: reply}}); err != nil {
				return nil
			}
		}
		// Thread stack traces and verify results answer commands this
		// server never sends; nothing to do with them.
	}
}

// settings records what a client announced and answers with the server
// side of its settings.
func (e *Endpoint) settings(ctx context.Context, c *client, s *v2.Settings) *v2.Settings {
	e.clients.mu.Lock()
	c.kind = s.GetClientType()
	e.clients.mu.Unlock()
	// No Metric (clients' metrics stay off, their default): the Go client
	// v5.1.4 resets its meter on every settings answer that carries one,
	// without a lock against its sends, and a client of several nodes gets
	// one answer per node's telemetry stream while it already sends.
	out := &v2.Settings{ClientType: s.ClientType, AccessPoint: s.AccessPoint, RequestTimeout: s.RequestTimeout}
	switch pub := s.GetPubSub().(type) {
	case *v2.Settings_Publishing:
		for _, t := range pub.Publishing.GetTopics() {
			e.clients.addTopic(c, t.GetName())
		}
		// No backoff policy: the producer keeps its own send retries, and
		// the Go client would write ours into the struct its settings
		// sync reads without a lock.
		out.PubSub = &v2.Settings_Publishing{Publishing: &v2.Publishing{Topics: pub.Publishing.GetTopics(),
			MaxBodySize: int32(e.nc.MaxPayload() - maxBodyHeadroom), ValidateMessageType: true}}
	case *v2.Settings_Subscription:
		sub := e.subscriptionSettings(ctx, c, pub.Subscription)
		if s.GetClientType() == v2.ClientType_PUSH_CONSUMER && language(ctx) == "GO" {
			// The Go client applies a push consumer's settings to fields
			// its periodic settings sync reads without a lock (a data race
			// in the client). It needs none of them: the server keeps
			// FIFO order (one message per partition out at a time) and
			// applies the group's backoff ladder to its nacks itself.
			break
		}
		out.PubSub = &v2.Settings_Subscription{Subscription: sub}
		out.BackoffPolicy = e.backoffOf(ctx, pub.Subscription)
	}
	return out
}

func (e *Endpoint) subscriptionSettings(ctx context.Context, c *client, sub *v2.Subscription) *v2.Subscription {
	group := sub.GetGroup().GetName()
	e.clients.mu.Lock()
	c.group = group
	e.clients.mu.Unlock()
	fifo := false
	for _, entry := range sub.GetSubscriptions() {
		topic := entry.GetTopic().GetName()
		tags, _ := parseFilter(entry.GetExpression())
		cfg, st := e.groups.config(ctx, topic, group, tags)
		if st != nil {
			e.log.Info("rocketmq subscription refused", "client", c.id, "topic", topic, "group", group, "reason", st.GetMessage())
			continue
		}
		fifo = fifo || cfg.Ordered
		e.clients.addTopic(c, topic)
		e.clients.join(ctx, c, topic, group)
	}
	batch := int32(32)
	return &v2.Subscription{Group: sub.Group, Subscriptions: sub.GetSubscriptions(), Fifo: &fifo,
		ReceiveBatchSize: &batch, LongPollingTimeout: duration(e.opts.LongPolling)}
}

// backoffOf is the group's retry ladder as RocketMQ's customized backoff:
// max attempts is jetmq's max_reconsume.
func (e *Endpoint) backoffOf(ctx context.Context, sub *v2.Subscription) *v2.RetryPolicy {
	for _, entry := range sub.GetSubscriptions() {
		tags, _ := parseFilter(entry.GetExpression())
		cfg, st := e.groups.config(ctx, entry.GetTopic().GetName(), sub.GetGroup().GetName(), tags)
		if st != nil {
			continue
		}
		next := make([]*durationpb.Duration, 0, len(cfg.RetryBackoff))
		for _, d := range cfg.RetryBackoff {
			next = append(next, duration(d))
		}
		if len(next) == 0 {
			next = append(next, duration(time.Second))
		}
		return &v2.RetryPolicy{MaxAttempts: int32(cfg.MaxReconsume), Strategy: &v2.RetryPolicy_CustomizedBackoff{CustomizedBackoff: &v2.CustomizedBackoff{Next: next}}}
	}
	return &v2.RetryPolicy{MaxAttempts: 16, Strategy: &v2.RetryPolicy_CustomizedBackoff{CustomizedBackoff: &v2.CustomizedBackoff{Next: []*durationpb.Duration{duration(10 * time.Second)}}}}
}

// language is the client's x-mq-language ("GO", "JAVA", ...).
func language(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-mq-language"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Heartbeat keeps a client known.
func (e *Endpoint) Heartbeat(ctx context.Context, req *v2.HeartbeatRequest) (*v2.HeartbeatResponse, error) {
	if e.clients.touch(ctx) == nil {
		return &v2.HeartbeatResponse{Status: status(v2.Code_CLIENT_ID_REQUIRED, "x-mq-client-id metadata is required")}, nil
	}
	return &v2.HeartbeatResponse{Status: ok()}, nil
}

// NotifyClientTermination is a client's goodbye: it leaves its groups.
func (e *Endpoint) NotifyClientTermination(ctx context.Context, req *v2.NotifyClientTerminationRequest) (*v2.NotifyClientTerminationResponse, error) {
	if id := clientID(ctx); id != "" {
		e.clients.remove(id)
	}
	return &v2.NotifyClientTerminationResponse{Status: ok()}, nil
}
