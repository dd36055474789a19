// Package rocketmq serves RocketMQ 5's gRPC protocol
// (apache.rocketmq.v2.MessagingService) so that unmodified RocketMQ 5
// clients run against jetmq. The endpoint is a client of jetmq: it
// publishes, prepares and ends transactions, joins groups, pulls, acks,
// naks and dead-letters through the same $MQ subjects and JetStream
// consumers a NATS client uses (docs/PROTOCOL.md), so RocketMQ and NATS
// applications share topics, groups and transactions. It keeps no state a
// client depends on: receipt handles are signed and carry everything an
// ack needs, so any node answers them.
//
// A Service is the listener; each call is authenticated (AK/SK, auth.go)
// and handed to the Endpoint of its principal, whose actions run on that
// principal's NATS connection, while each account's space keeps the
// endpoint's own state over jetmq's own connection (endpoint.go).
package rocketmq
