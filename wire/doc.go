// Package wire is jetmq's wire contract, in one place: the $MQ subjects
// and how to build and parse them, the Mq-* headers, the stream and
// consumer naming and metadata keys, the JSON request and reply bodies of
// every service, and the error reply with its codes. docs/PROTOCOL.md
// describes the same contract for clients in any language.
//
// The broker (package bridge), the Go client (package semantics), the
// jetmq CLI and the RocketMQ endpoint all import it, so a subject or a
// body is defined once. Like package core, which it builds on for the
// configuration types, it is pure: parsing and formatting only, no I/O.
package wire
