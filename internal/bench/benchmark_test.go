package bench

import (
	"context"
	"testing"

	"github.com/jetmq/jetmq/internal/testutil"
)

// benchmarkScenario runs scenario name with b.N messages against a fresh
// in-process server and reports msgs/s and latency next to ns/op.
func benchmarkScenario(b *testing.B, name string) {
	srv := testutil.StartServer(b)
	plan, err := Select(Scenarios(), []string{name})
	if err != nil {
		b.Fatal(err)
	}
	s := plan[len(plan)-1]
	env := &Env{URL: srv.ClientURL(), Server: srv, Msgs: b.N, Size: DefaultSize, Prefix: "bench_" + b.Name()}
	b.ResetTimer()
	res, err := s.Run(context.Background(), env)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Msgs > 0 {
		// Scenarios may scale the count (raw-publish-sync runs b.N/4), so
		// ns/op is per message moved, not per b.N.
		b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(res.Msgs), "ns/op")
	}
	b.ReportMetric(res.MsgsPerSec, "msgs/s")
	if res.P99Micros > 0 {
		b.ReportMetric(res.P50Micros, "p50-µs")
		b.ReportMetric(res.P99Micros, "p99-µs")
	}
}

func BenchmarkRawPublishAsync(b *testing.B) { benchmarkScenario(b, RawPublishAsync) }
func BenchmarkRawPublishSync(b *testing.B)  { benchmarkScenario(b, RawPublishSync) }
func BenchmarkRawConsume(b *testing.B)      { benchmarkScenario(b, RawConsume) }
