// Package server embeds and configures a NATS server with JetStream and
// runs jetmq's broker-side services on top of it.
//
// It is deliberately thin: it turns a Config into nats-server Options
// (optionally on top of a native nats-server config file, for drop-in use),
// owns the lifecycle (New, Start, Ready, Shutdown), guards jetmq's own
// state from every application user (guard.go), knows which jetmq nodes
// are alive in a cluster so that singleton services run on exactly one of
// them, and serves one HTTP listener with the NATS monitoring endpoints,
// /healthz and /metrics. The messaging semantics live in packages semantics
// and bridge.
package server
