package bench

// Names of the raw JetStream baselines other scenarios compare to.
const (
	RawPublishAsync = "raw-publish-async"
	RawPublishSync  = "raw-publish-sync"
	RawConsume      = "raw-consume"
)

// Scenarios lists every scenario `jetmq bench` knows, baselines first, in
// the order they run and print. Add a scenario with one line here; its
// Baseline must name one of the raw baselines.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: RawPublishAsync, Description: "JetStream async publish, up to 4096 in flight, R1 file stream", Run: runRawPublishAsync},
		{Name: RawPublishSync, Description: "JetStream publish, one in flight (msgs/4); p50/p99 per publish", Run: runRawPublishSync},
		{Name: RawConsume, Description: "one pull consumer with explicit acks drains a pre-filled stream", Run: runRawConsume},
		{Name: "keyed-publish", Baseline: RawPublishAsync, Description: "async publish to <topic>.<key> over 10,000 keys through the partition mapping (8 partitions)", Run: runKeyedPublish},
		{Name: "cluster-consume", Baseline: RawConsume, Description: "two members of a clustering group (Go helper, explicit acks) drain a pre-filled topic", Run: runClusterConsume},
		{Name: "broadcast-3", Baseline: RawConsume, Fanout: 3, Description: "three broadcasting members each drain a pre-filled topic; aggregate deliveries/s", Run: runBroadcast3},
		{Name: "load-shift", Baseline: RawPublishSync, Description: "publisher p99 (one in flight, msgs/4) while a two-member group drains a backlog at a capped rate; notes compare to idle", Run: runLoadShift},
		{Name: "txn", Baseline: RawPublishAsync, Description: "1-message transactions (prepare + commit requests), 512 in flight", Run: runTxn},
		{Name: "txn-latency", Baseline: RawPublishSync, Description: "1-message transactions one at a time (msgs/4); p50/p99 prepare sent to commit acknowledged", Run: runTxnLatency},
		{Name: "check-storm", Baseline: RawPublishAsync, Timed: true, Description: "orphaned 1-message transactions (msgs/10, at most 10,000; immunity 2s) resolved by check-back; msgs/s = async publisher during the whole storm; p50/p99 per resolution", Run: runCheckStorm},
		{Name: "ordered-consume", Baseline: RawConsume, Description: "four Ordered() members drain a pre-filled 16-partition topic over 1,000 keys in strict per-partition order (order checker must pass)", Run: runOrderedConsume},
		{Name: "ordered-failover", Baseline: RawConsume, Description: "owner of a 1-partition ordered group cut off -> first message handled by the hot standby (p50/p99 at session_timeout 3s; 1s in notes)", Run: runOrderedFailover},
		{Name: "dashboard-api", Description: "the dashboard's JSON endpoints over HTTP with msgs/100 topics (at most 1,000) and as many groups; msgs/100 requests (at least 1,000), 4 at a time; p50/p99 per request (target p99 < 100 ms)", Run: runDashboardAPI},
		{Name: "rmq-send", Baseline: RawPublishAsync, Description: "official RocketMQ Go client SendAsync to a topic over the gRPC endpoint, 1024 in flight", Run: runRmqSend},
		{Name: "rmq-receive", Baseline: RawConsume, Description: "official RocketMQ Go push consumer (clustering group, ack per message) drains a pre-filled topic", Run: runRmqReceive},
		{Name: "delayed-publish", Baseline: RawPublishAsync, Description: "$MQ.DELAY requests, 256 in flight (msgs/4); p50/p99 per request", Run: runDelayedPublish},
	}
}
