package wire

import (
	"strconv"
	"time"

	"github.com/jetmq/jetmq/core"
)

// ParseTopicMetadata reads the settings a topic stream's metadata records
// (jetmq.partitions, jetmq.max_delay) and checks them as CREATE checks
// them: metadata changed through the JetStream API to anything CREATE
// would refuse (a partition count of 100000, 0 or "abc") must not be
// served. A missing jetmq.max_delay is 0, the default. The error names the
// metadata key and quotes its value.
func ParseTopicMetadata(md map[string]string) (partitions int, maxDelay time.Duration, err error) {
	ps := md[MetaPartitions]
	n, perr := strconv.Atoi(ps)
	if perr != nil {
		return 0, 0, core.ConfigErrorf(MetaPartitions, "%q is not an integer", ps)
	}
	if core.CheckPartitions(MetaPartitions, n) != nil {
		return 0, 0, core.ConfigErrorf(MetaPartitions, "%q is out of range 1-%d", ps, core.MaxPartitions)
	}
	ds, ok := md[MetaMaxDelay]
	if !ok {
		return n, 0, nil
	}
	d, derr := time.ParseDuration(ds)
	if derr != nil || core.CheckMaxDelay(MetaMaxDelay, d) != nil {
		return 0, 0, core.ConfigErrorf(MetaMaxDelay, "%q is not a positive duration", ds)
	}
	return n, d, nil
}
