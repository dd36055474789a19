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
		{Name: "delayed-publish", Baseline: RawPublishAsync, Description: "$MQ.DELAY requests, 256 in flight (msgs/4); p50/p99 per request", Run: runDelayedPublish},
	}
}
