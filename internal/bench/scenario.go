package bench

import (
	"context"
	"strings"
	"time"

	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Scenario is one named measurement.
type Scenario struct {
	// Name is what --scenario selects: lower case words joined by '-'.
	Name string
	// Baseline names the raw scenario this one is compared to; "" for a
	// baseline itself.
	Baseline string
	// Description is one line for --help and --list.
	Description string
	// Fanout is how many deliveries one message makes in this scenario
	// (broadcast-3: 3), so Result.Msgs may reach Fanout x env.Msgs; 0
	// means 1.
	Fanout int
	// Timed says that Result.Msgs counts a phase bounded by time rather
	// than by env.Msgs (check-storm's publisher runs for as long as the
	// storm lasts), so it may exceed Fanout x env.Msgs.
	Timed bool
	// Run moves env.Msgs messages (or fewer, if env.Duration ends it first),
	// cleans up what it created and reports what it measured.
	Run func(ctx context.Context, env *Env) (Result, error)
}

// Result is what one scenario run measured.
type Result struct {
	// Msgs is how many messages completed (acknowledged or consumed).
	Msgs int
	// Elapsed is the measured time for Msgs (set-up and clean-up excluded).
	Elapsed time.Duration
	// MsgsPerSec is Msgs / Elapsed (NewResult computes it).
	MsgsPerSec float64
	// P50Micros and P99Micros are latency percentiles in microseconds, 0
	// where latency is not meaningful for the scenario.
	P50Micros, P99Micros float64
	// Notes is free-form text shown under the table and in JSON.
	Notes string
	// Reference is the same work done with plain JetStream in the same
	// run, the fair limit for what jetmq's semantics may cost; nil where
	// the scenario has none.
	Reference *Reference
}

// Reference is what a scenario's same-shape reference measured.
type Reference struct {
	// Name names the reference ("null-bridge"); Description says in a
	// few words what it does.
	Name, Description string
	// Latency says the scenario's target is a p50: the ratio compares
	// P50Micros, not MsgsPerSec.
	Latency bool
	// MsgsPerSec and P50Micros are what the reference measured.
	MsgsPerSec, P50Micros float64
}

// newReference names r, the result of a reference run.
func newReference(name, description string, latency bool, r Result) *Reference {
	return &Reference{Name: name, Description: description, Latency: latency, MsgsPerSec: r.MsgsPerSec, P50Micros: r.P50Micros}
}

// NewResult computes msgs/s and, when lat holds samples, p50 and p99.
func NewResult(msgs int, elapsed time.Duration, lat *Latencies) Result {
	r := Result{Msgs: msgs, Elapsed: elapsed}
	if elapsed > 0 {
		r.MsgsPerSec = float64(msgs) / elapsed.Seconds()
	}
	if lat != nil && lat.Len() > 0 {
		r.P50Micros = micros(lat.Percentile(50))
		r.P99Micros = micros(lat.Percentile(99))
	}
	return r
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// Env is what the harness gives a scenario.
type Env struct {
	// URL is the NATS URL of the server under test.
	URL string
	// Server is the in-process jetmq server when the harness started its
	// own; nil when it targets a server given by URL only.
	Server *server.Server
	// Msgs is how many messages to move; Size is the payload size in bytes.
	Msgs, Size int
	// Duration bounds each timed phase of a scenario (0: no bound); see
	// Expired.
	Duration time.Duration
	// Prefix is unique to this scenario run and valid both as a stream name
	// and as a subject token: name everything the scenario creates with it
	// (see Name).
	Prefix string
	// RocketMQ is the RocketMQ endpoint (host:port) the rmq scenarios
	// use; "" means the embedded Server's.
	RocketMQ string

	connOpts []nats.Option
	progress func(done, total int)
}

// Connect opens an extra client connection to the server under test, with
// the harness's credentials. The scenario closes it.
func (e *Env) Connect(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{nats.Name("jetmq-bench " + e.Prefix)}, e.connOpts...)
	return nats.Connect(e.URL, append(all, opts...)...)
}

// JetStream opens a connection and a JetStream context on it whose async
// publish window is large enough never to be the limit (scenarios bound
// their own window) and whose async acks time out instead of hanging.
func (e *Env) JetStream() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := e.Connect()
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1<<20), jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// Name returns Prefix joined with parts by '_': a unique stream name or
// subject token for this run.
func (e *Env) Name(parts ...string) string {
	return strings.Join(append([]string{e.Prefix}, parts...), "_")
}

// Payload returns a fresh Size-byte payload.
func (e *Env) Payload() []byte {
	p := make([]byte, e.Size)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// Expired reports whether a phase that started at start has used up the
// duration bound.
func (e *Env) Expired(start time.Time) bool {
	return e.Duration > 0 && time.Since(start) >= e.Duration
}

// Progress reports that done of total messages of the current phase are
// through. It is cheap to call for every message: only every 512th call
// and the last one reach the display. Call it from one goroutine at a time.
func (e *Env) Progress(done, total int) {
	if e.progress == nil || (done%512 != 0 && done != total) {
		return
	}
	e.progress(done, total)
}
