// Package core holds jetmq's pure decisions: topic, group and transaction
// configuration with its defaults and validation, the names the contract
// allows, key-to-partition hashing, the retry policy, the transaction state
// machine (when to end, check, park) and the ordered-group ownership state
// machine with its stall detector.
//
// Everything here is pure, in the manner of etcd's raft: functions and
// state machines that take inputs (including the current time) and return
// decisions. Nothing in this package starts a goroutine, takes a lock
// around I/O, opens a connection or reads a clock of its own, so that every
// decision is table-tested. The broker (package bridge) and the Go client
// (package semantics) drive these decisions; package wire says how they
// appear on the wire. core imports no other jetmq package.
package core
