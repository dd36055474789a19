package bench

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketMQClientGoroutines...)
}

// rocketMQClientGoroutines are goroutines the official RocketMQ Go client
// v5.1.4 leaves running after GracefulStop, by its design: its client
// manager's tickers and their start-up delays, the gRPC connections that
// manager keeps until an idle check (their callback serialisers), its
// log file's rotation goroutine and the opencensus worker its metrics
// start. No other code in this package uses gRPC client connections.
var rocketMQClientGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/apache/rocketmq-clients/golang/v5/pkg/ticker.Tick.func1"),
	goleak.IgnoreAnyFunction("github.com/apache/rocketmq-clients/golang/v5.(*defaultClientManager).startUp.func1"),
	goleak.IgnoreAnyFunction("github.com/apache/rocketmq-clients/golang/v5.(*defaultClientManager).startUp.func2"),
	goleak.IgnoreAnyFunction("github.com/apache/rocketmq-clients/golang/v5.(*defaultClientManager).startUp.func3"),
	goleak.IgnoreAnyFunction("github.com/apache/rocketmq-clients/golang/v5.(*defaultClientManager).startUp.func4"),
	goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	goleak.IgnoreTopFunction("github.com/natefinch/lumberjack.(*Logger).millRun"),
	goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
}

// testMsgs keeps the scenarios tiny in tests; speed is for benchmarks.
const testMsgs = 2000

func TestScenariosWellFormed(t *testing.T) {
	if err := Check(Scenarios()); err != nil {
		t.Fatalf("Check(Scenarios()): want nil, got %v", err)
	}
	for _, s := range Scenarios() {
		if s.Description == "" {
			t.Errorf("%s: want a description, got none", s.Name)
		}
	}
}

func TestCheckRejectsBadLists(t *testing.T) {
	run := func(context.Context, *Env) (Result, error) { return Result{}, nil }
	cases := []struct {
		name string
		list []Scenario
	}{
		{"bad name", []Scenario{{Name: "Raw Publish", Run: run}}},
		{"duplicate", []Scenario{{Name: "a", Run: run}, {Name: "a", Run: run}}},
		{"no run", []Scenario{{Name: "a"}}},
		{"unknown baseline", []Scenario{{Name: "a", Baseline: "b", Run: run}}},
		{"baseline not base", []Scenario{{Name: "a", Run: run}, {Name: "b", Baseline: "a", Run: run}, {Name: "c", Baseline: "b", Run: run}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(tc.list); err == nil {
				t.Fatalf("Check: want an error, got nil")
			}
		})
	}
}

func TestSelectAddsBaselinesFirst(t *testing.T) {
	run := func(context.Context, *Env) (Result, error) { return Result{}, nil }
	all := []Scenario{
		{Name: "base-a", Run: run},
		{Name: "base-b", Run: run},
		{Name: "x", Baseline: "base-b", Run: run},
		{Name: "y", Baseline: "base-a", Run: run},
	}
	cases := []struct {
		name  string
		names []string
		want  []string
	}{
		{"named, in order asked", []string{"y", "x"}, []string{"base-b", "x", "base-a", "y"}},
		{"all", nil, []string{"base-a", "base-b", "x", "y"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Select(all, tc.names)
			if err != nil {
				t.Fatalf("Select(%v): %v", tc.names, err)
			}
			if got := scenarioNames(plan); !slices.Equal(got, tc.want) {
				t.Fatalf("Select(%v): want %v, got %v", tc.names, tc.want, got)
			}
		})
	}
	_, err := Select(all, []string{"nope"})
	requireErrorContains(t, err, `unknown scenario "nope"`)
}

// TestEveryScenarioAgainstServer runs every registered scenario, with the
// baselines it needs, against a real in-process server and checks that the
// figures are sane and that each scenario removed its streams.
func TestEveryScenarioAgainstServer(t *testing.T) {
	// A short RocketMQ long poll: rmq-receive's push consumer waits it out
	// when it stops.
	srv := testutil.StartServer(t, func(c *server.Config) { c.RocketMQ.LongPolling = time.Second })
	plan, err := Select(Scenarios(), nil)
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Server: srv, Msgs: testMsgs})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rows) != len(plan) {
		t.Fatalf("rows: want %d, got %d", len(plan), len(rows))
	}
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	// The same-shape references the scenarios measure in the same run.
	references := map[string]string{
		"keyed-publish": "unmapped-publish", "cluster-consume": "plain-pair", "broadcast-3": "plain-trio",
		"txn": "null-bridge", "txn-latency": "null-bridge", "ordered-consume": "plain-partitions",
		"rmq-send": "plain-proxy", "rmq-receive": "plain-proxy",
	}
	for _, s := range Scenarios() {
		r, ok := byName[s.Name]
		if !ok {
			t.Fatalf("no row for %s", s.Name)
		}
		checkScenarioRow(t, s, r, byName)
		requireReference(t, r, references[s.Name])
	}
	requireNoBenchStreams(t, srv.ClientURL())
}

// checkScenarioRow checks one row's figures: no error, a count within
// what was asked, a measurement, ordered percentiles, and the ratio to
// its baseline.
func checkScenarioRow(t *testing.T, s Scenario, r Row, byName map[string]Row) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s: want no error, got %v", s.Name, r.Err)
	}
	if r.Msgs <= 0 {
		t.Fatalf("%s: want a positive message count, got %d", s.Name, r.Msgs)
	}
	if limit := testMsgs * max(s.Fanout, 1); !s.Timed && r.Msgs > limit {
		t.Fatalf("%s: want at most %d messages, got %d", s.Name, limit, r.Msgs)
	}
	// A timing scenario (ordered-failover: seconds per kill) rounds to
	// 0 msgs/s but must then have measured its latencies.
	if !(r.MsgsPerSec > 0 || r.P99Micros > 0) {
		t.Fatalf("%s measured neither throughput nor latency", s.Name)
	}
	if r.P50Micros > r.P99Micros {
		t.Fatalf("%s: want p50 <= p99, got p50 %v > p99 %v", s.Name, r.P50Micros, r.P99Micros)
	}
	if r.Baseline != s.Baseline {
		t.Fatalf("%s: baseline: want %q, got %q", s.Name, s.Baseline, r.Baseline)
	}
	if s.Baseline == "" {
		if r.Ratio != 1.0 {
			t.Fatalf("%s: a baseline's ratio: want 1, got %v", s.Name, r.Ratio)
		}
		return
	}
	base := byName[s.Baseline]
	requireInDelta(t, s.Name+" ratio", r.MsgsPerSec/base.MsgsPerSec, r.Ratio, 0.001)
}

// TestBaselinesCountEveryMessage pins the counts the baselines report to
// what they were asked to move.
func TestBaselinesCountEveryMessage(t *testing.T) {
	srv := testutil.StartServer(t)
	plan, err := Select(Scenarios(), []string{RawPublishAsync, RawPublishSync, RawConsume})
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: testMsgs, Size: 16})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]int{RawPublishAsync: testMsgs, RawPublishSync: testMsgs / SyncScale, RawConsume: testMsgs}
	for _, r := range rows {
		if r.Msgs != want[r.Name] {
			t.Errorf("%s: msgs: want %d, got %d", r.Name, want[r.Name], r.Msgs)
		}
	}
	if rows[1].P50Micros <= 0 {
		t.Errorf("sync publish latency: want a positive p50, got %v", rows[1].P50Micros)
	}
}

func TestDurationBoundsAScenario(t *testing.T) {
	srv := testutil.StartServer(t)
	plan, err := Select(Scenarios(), []string{RawPublishSync})
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: 4_000_000, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := rows[0].Msgs; got <= 0 || got >= 1_000_000 {
		t.Fatalf("msgs in 200ms: want between 1 and 999,999, got %d", got)
	}
}

func TestFailingScenarioDoesNotStopTheRun(t *testing.T) {
	srv := testutil.StartServer(t)
	failing := Scenario{Name: "always-fails", Baseline: RawPublishAsync, Description: "fails", Run: func(context.Context, *Env) (Result, error) {
		return Result{}, context.DeadlineExceeded
	}}
	all := append(Scenarios(), failing)
	plan, err := Select(all, []string{"always-fails", RawPublishSync})
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: 400})
	requireErrorContains(t, err, "always-fails")
	if want, got := []string{RawPublishSync, RawPublishAsync, "always-fails"}, rowNames(rows); !slices.Equal(got, want) {
		t.Fatalf("rows: want %v, got %v", want, got)
	}
	for _, r := range rows[:2] {
		if r.Err != nil {
			t.Errorf("%s: want no error, got %v", r.Name, r.Err)
		}
	}
	if rows[2].Err == nil {
		t.Errorf("always-fails: want an error, got nil")
	}
	if rows[2].Ratio != 0 {
		t.Errorf("always-fails: ratio: want 0, got %v", rows[2].Ratio)
	}
	if !strings.Contains(rows[2].Notes, "error:") {
		t.Errorf("always-fails: notes: want them to contain %q, got %q", "error:", rows[2].Notes)
	}
}

func rowNames(rows []Row) []string {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	return names
}

func requireErrorContains(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want an error containing %q, got %v", want, err)
	}
}

// requireInDelta fails unless got is within delta of want (NaN never is).
func requireInDelta(t *testing.T, what string, want, got, delta float64) {
	t.Helper()
	if diff := math.Abs(want - got); !(diff <= delta) {
		t.Fatalf("%s: want %v (±%v), got %v", what, want, delta, got)
	}
}

func requireNoBenchStreams(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	names := js.StreamNames(context.Background())
	for n := range names.Name() {
		if strings.Contains(n, "bench_") {
			t.Errorf("stream left behind: want no bench_ stream, got %q", n)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatalf("stream names: %v", err)
	}
}

// requireReference checks that r carries the reference want ("" for
// none) with a measured figure of the right kind and a positive ratio.
func requireReference(t *testing.T, r Row, want string) {
	t.Helper()
	if r.Reference != want {
		t.Fatalf("%s: reference: want %q, got %q", r.Name, want, r.Reference)
	}
	if want == "" {
		if r.ReferenceRatio != nil {
			t.Fatalf("%s: reference ratio: want none, got %v", r.Name, *r.ReferenceRatio)
		}
		return
	}
	requirePositive(t, r.Name+" reference ratio", r.ReferenceRatio)
	if r.Name == "txn-latency" {
		if r.ReferenceMsgsPerSec != nil {
			t.Fatalf("%s: reference msgs/s: want none, got %v", r.Name, *r.ReferenceMsgsPerSec)
		}
		requirePositive(t, r.Name+" reference p50", r.ReferenceP50Micros)
		requireInDelta(t, r.Name+" reference ratio", r.P50Micros / *r.ReferenceP50Micros, *r.ReferenceRatio, 0.001)
		return
	}
	if r.ReferenceP50Micros != nil {
		t.Fatalf("%s: reference p50: want none, got %v", r.Name, *r.ReferenceP50Micros)
	}
	requirePositive(t, r.Name+" reference msgs/s", r.ReferenceMsgsPerSec)
	requireInDelta(t, r.Name+" reference ratio", r.MsgsPerSec / *r.ReferenceMsgsPerSec, *r.ReferenceRatio, 0.001)
}

func requirePositive(t *testing.T, what string, v *float64) {
	t.Helper()
	if v == nil {
		t.Fatalf("%s: want a positive figure, got none", what)
	}
	if *v <= 0 {
		t.Fatalf("%s: want a positive figure, got %v", what, *v)
	}
}
