package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testMsgs keeps the scenarios tiny in tests; speed is for benchmarks.
const testMsgs = 2000

func TestScenariosWellFormed(t *testing.T) {
	require.NoError(t, Check(Scenarios()))
	for _, s := range Scenarios() {
		require.NotEmpty(t, s.Description, s.Name)
	}
}

func TestCheckRejectsBadLists(t *testing.T) {
	run := func(context.Context, *Env) (Result, error) { return Result{}, nil }
	cases := map[string][]Scenario{
		"bad name":          {{Name: "Raw Publish", Run: run}},
		"duplicate":         {{Name: "a", Run: run}, {Name: "a", Run: run}},
		"no run":            {{Name: "a"}},
		"unknown baseline":  {{Name: "a", Baseline: "b", Run: run}},
		"baseline not base": {{Name: "a", Run: run}, {Name: "b", Baseline: "a", Run: run}, {Name: "c", Baseline: "b", Run: run}},
	}
	for name, list := range cases {
		t.Run(name, func(t *testing.T) { require.Error(t, Check(list)) })
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
	plan, err := Select(all, []string{"y", "x"})
	require.NoError(t, err)
	require.Equal(t, []string{"base-b", "x", "base-a", "y"}, scenarioNames(plan))

	plan, err = Select(all, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"base-a", "base-b", "x", "y"}, scenarioNames(plan))

	_, err = Select(all, []string{"nope"})
	require.ErrorContains(t, err, `unknown scenario "nope"`)
}

// TestEveryScenarioAgainstServer runs every registered scenario, with the
// baselines it needs, against a real in-process server and checks that the
// figures are sane and that each scenario removed its streams.
func TestEveryScenarioAgainstServer(t *testing.T) {
	srv := testutil.StartServer(t)
	plan, err := Select(Scenarios(), nil)
	require.NoError(t, err)
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Server: srv, Msgs: testMsgs})
	require.NoError(t, err)
	require.Len(t, rows, len(plan))
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	// The same-shape references the scenarios measure in the same run.
	references := map[string]string{
		"keyed-publish": "unmapped-publish", "cluster-consume": "plain-pair", "broadcast-3": "plain-trio",
		"txn": "null-bridge", "txn-latency": "null-bridge", "ordered-consume": "plain-partitions",
	}
	for _, s := range Scenarios() {
		r, ok := byName[s.Name]
		require.True(t, ok, "no row for %s", s.Name)
		require.NoError(t, r.Err, s.Name)
		require.Positive(t, r.Msgs, s.Name)
		if !s.Timed {
			require.LessOrEqual(t, r.Msgs, testMsgs*max(s.Fanout, 1), s.Name)
		}
		// A timing scenario (ordered-failover: seconds per kill) rounds to
		// 0 msgs/s but must then have measured its latencies.
		require.True(t, r.MsgsPerSec > 0 || r.P99Micros > 0, "%s measured neither throughput nor latency", s.Name)
		require.LessOrEqual(t, r.P50Micros, r.P99Micros, s.Name)
		require.Equal(t, s.Baseline, r.Baseline, s.Name)
		if s.Baseline == "" {
			require.Equal(t, 1.0, r.Ratio, s.Name)
		} else {
			base := byName[s.Baseline]
			require.InDelta(t, r.MsgsPerSec/base.MsgsPerSec, r.Ratio, 0.001, s.Name)
		}
		requireReference(t, r, references[s.Name])
	}
	requireNoBenchStreams(t, srv.ClientURL())
}

// TestBaselinesCountEveryMessage pins the counts the baselines report to
// what they were asked to move.
func TestBaselinesCountEveryMessage(t *testing.T) {
	srv := testutil.StartServer(t)
	plan, err := Select(Scenarios(), []string{RawPublishAsync, RawPublishSync, RawConsume})
	require.NoError(t, err)
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: testMsgs, Size: 16})
	require.NoError(t, err)
	want := map[string]int{RawPublishAsync: testMsgs, RawPublishSync: testMsgs / SyncScale, RawConsume: testMsgs}
	for _, r := range rows {
		require.Equal(t, want[r.Name], r.Msgs, r.Name)
	}
	require.Positive(t, rows[1].P50Micros, "sync publish latency")
}

func TestDurationBoundsAScenario(t *testing.T) {
	srv := testutil.StartServer(t)
	plan, err := Select(Scenarios(), []string{RawPublishSync})
	require.NoError(t, err)
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: 4_000_000, Duration: 200 * time.Millisecond})
	require.NoError(t, err)
	require.Positive(t, rows[0].Msgs)
	require.Less(t, rows[0].Msgs, 1_000_000)
}

func TestFailingScenarioDoesNotStopTheRun(t *testing.T) {
	srv := testutil.StartServer(t)
	failing := Scenario{Name: "always-fails", Baseline: RawPublishAsync, Description: "fails", Run: func(context.Context, *Env) (Result, error) {
		return Result{}, context.DeadlineExceeded
	}}
	all := append(Scenarios(), failing)
	plan, err := Select(all, []string{"always-fails", RawPublishSync})
	require.NoError(t, err)
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: 400})
	require.ErrorContains(t, err, "always-fails")
	require.Equal(t, []string{RawPublishSync, RawPublishAsync, "always-fails"}, rowNames(rows))
	require.NoError(t, rows[0].Err)
	require.NoError(t, rows[1].Err)
	require.Error(t, rows[2].Err)
	require.Zero(t, rows[2].Ratio)
	require.Contains(t, rows[2].Notes, "error:")
}

func rowNames(rows []Row) []string {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	return names
}

func requireNoBenchStreams(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	names := js.StreamNames(context.Background())
	for n := range names.Name() {
		require.NotContains(t, n, "bench_", "stream left behind")
	}
	require.NoError(t, names.Err())
}

// requireReference checks that r carries the reference want ("" for
// none) with a measured figure of the right kind and a positive ratio.
func requireReference(t *testing.T, r Row, want string) {
	t.Helper()
	require.Equal(t, want, r.Reference, r.Name)
	if want == "" {
		require.Nil(t, r.ReferenceRatio, r.Name)
		return
	}
	require.NotNil(t, r.ReferenceRatio, r.Name)
	require.Positive(t, *r.ReferenceRatio, r.Name)
	if r.Name == "txn-latency" {
		require.Nil(t, r.ReferenceMsgsPerSec, r.Name)
		require.Positive(t, *r.ReferenceP50Micros, r.Name)
		require.InDelta(t, r.P50Micros / *r.ReferenceP50Micros, *r.ReferenceRatio, 0.001, r.Name)
		return
	}
	require.Nil(t, r.ReferenceP50Micros, r.Name)
	require.Positive(t, *r.ReferenceMsgsPerSec, r.Name)
	require.InDelta(t, r.MsgsPerSec / *r.ReferenceMsgsPerSec, *r.ReferenceRatio, 0.001, r.Name)
}
