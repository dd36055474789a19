// Package semantics is the Go client of jetmq that applications import:
// Producer (keyed, tagged and delayed sends), TransactionProducer (half
// messages, commit, rollback and the check-back responder), and Subscribe
// (clustering, broadcasting and ordered consumer groups with retry and
// dead-lettering).
//
// It is the client runtime: its types hold goroutines, locks and NATS
// connections, and talk to the broker only through the subjects documented
// in docs/PROTOCOL.md. The contract itself lives in package wire and the
// pure decisions in package core; the names of both that applications use
// are re-exported here (contract.go), so one import serves an application.
package semantics
