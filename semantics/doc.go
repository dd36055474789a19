// Package semantics is the heart of jetmq: the topic and partition model,
// the transaction state machine, consumer-group assignment and the retry
// policy, plus the Go helper API (Producer, Subscribe, TransactionProducer)
// that applications import.
//
// The decision logic here is pure: functions and state machines that take
// inputs and return decisions, with no I/O, so that they can be table-tested
// (in the manner of etcd's raft). The broker-side loops that drive them live
// in package bridge; the client-side loops live in the helper types of this
// package and talk to the broker only through the subjects documented in
// docs/PROTOCOL.md.
package semantics
