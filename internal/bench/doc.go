// Package bench is the harness behind `jetmq bench`: named scenarios that
// each measure one way of moving messages through a jetmq (or any NATS)
// server, and a runner that measures them in one process and compares every
// scenario with the raw JetStream baseline it names, measured in the same
// run against the same server.
//
// A scenario is a plain value (Scenario) whose Run function gets an Env: the
// server URL, how many messages of what size to move, an optional duration
// bound, a progress callback and a unique name prefix for the streams and
// subjects it creates (and must delete again). The scenarios `jetmq bench`
// knows are listed explicitly in Scenarios (scenarios.go); adding one is one
// line there plus its Run function.
//
// The baselines are raw JetStream on a plain R1 file stream, measured the
// way the project's field notes (NOTES.md) measured them: 128-byte
// messages, a nats.go client in the same process talking to the server over
// loopback TCP.
//
//   - raw-publish-async: async publish with at most 4096 acks outstanding.
//   - raw-publish-sync: one publish in flight; p50/p99 are per publish.
//   - raw-consume: a pre-filled stream drained by one pull consumer with
//     explicit acks.
//
// Some scenarios also time, in the same run, the plainest thing that has
// the same shape, and say so in their notes, so that a miss can be told
// apart from a limit of the shape itself: cluster-consume times two plain
// nats.go pull consumers on one durable, broadcast-3 three plain consumers
// with a durable each, txn and txn-latency a null bridge (a service that
// takes each request, does one plain JetStream write and replies: the
// least a coordinator hop costs).
//
// Ratio is always a throughput ratio: a scenario's msgs/s divided by its
// baseline's msgs/s in the same run (baselines show 1). For latency-type
// scenarios, whose baseline is raw-publish-sync, a ratio of 0.5 therefore
// means "half as many operations per second with one in flight", which with
// one operation in flight is the inverse of the mean latency ratio; p50/p99
// comparisons go in the scenario's notes.
package bench
