package rocketmq

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

type metrics struct {
	calls   *prometheus.CounterVec
	latency *prometheus.HistogramVec
	clients prometheus.GaugeFunc
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetmq_rocketmq_rpc_total",
			Help: "RocketMQ gRPC calls served, by method and RocketMQ status code (grpc code for calls that failed at the transport).",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jetmq_rocketmq_rpc_seconds",
			Help:    "RocketMQ gRPC call latency by method (streams: their whole life).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
	}
	if r != nil {
		r.MustRegister(m.calls, m.latency)
	}
	return m
}

func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	method := path.Base(info.FullMethod)
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	m.calls.WithLabelValues(method, codeOf(resp, err)).Inc()
	return resp, err
}

func (m *metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	method := path.Base(info.FullMethod)
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	code := "OK"
	if err != nil {
		code = "grpc_" + grpcstatus.Code(err).String()
	}
	m.calls.WithLabelValues(method, code).Inc()
	return err
}

func codeOf(resp any, err error) string {
	if err != nil {
		return "grpc_" + grpcstatus.Code(err).String()
	}
	if s, ok := resp.(interface{ GetStatus() *v2.Status }); ok && s.GetStatus() != nil {
		return s.GetStatus().GetCode().String()
	}
	return "OK"
}

// recoverUnary turns a panic into an INTERNAL error instead of a crash:
// a malformed request never takes a node down.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in rocketmq call", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				resp, err = nil, grpcstatus.Errorf(codes.Internal, "internal error in %s", path.Base(info.FullMethod))
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in rocketmq stream", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = grpcstatus.Errorf(codes.Internal, "internal error in %s", path.Base(info.FullMethod))
			}
		}()
		return h(srv, ss)
	}
}
