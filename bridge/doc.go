// Package bridge holds the broker-side services that expose jetmq's
// semantics over plain NATS subjects under $MQ.>: the topic registry and
// admin API, delayed delivery, the transaction coordinator with its
// check-back, the group coordinator and the dead-letter mover.
//
// Every service is driven by the pure decision logic of package semantics;
// the code here is the thin loop that does the I/O. Services run inside the
// jetmq server (package server gives them a Host) and everything they offer
// is reachable from any NATS client, as docs/PROTOCOL.md describes.
package bridge
