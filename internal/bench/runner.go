package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Defaults of a run.
const (
	DefaultMsgs = 200000
	DefaultSize = 128
)

// Options configure a run.
type Options struct {
	// URL is the server under test; Server is set when it runs in this
	// process (nil otherwise).
	URL    string
	Server *server.Server
	// ConnectOptions (credentials) apply to every scenario connection.
	ConnectOptions []nats.Option
	// RocketMQ is the RocketMQ endpoint of the server under test for the
	// rmq scenarios ("": the embedded Server's).
	RocketMQ string
	// Msgs, Size and Duration are passed to every scenario (0: defaults,
	// no duration bound).
	Msgs, Size int
	Duration   time.Duration
	// Repeat runs the whole plan this many times, interleaved, and reports
	// each scenario's median run (0 or 1: once). On a noisy machine this
	// keeps a ratio from hanging on one lucky or unlucky run.
	Repeat int
	// Progress shows progress; nil keeps the run quiet.
	Progress Progress
}

// Progress displays how far the running scenario is.
type Progress interface {
	// Update reports done of total messages of a scenario's current phase.
	Update(scenario string, done, total int)
	// Finish is called when a scenario ends.
	Finish(scenario string)
}

var scenarioName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Check reports the first malformed entry of a scenario list: a bad or
// duplicate name, a missing Run, or a Baseline that is not a baseline of the
// list.
func Check(all []Scenario) error {
	byName := map[string]Scenario{}
	for _, s := range all {
		if !scenarioName.MatchString(s.Name) {
			return fmt.Errorf("scenario %q: name must be lower-case words joined by '-'", s.Name)
		}
		if _, dup := byName[s.Name]; dup {
			return fmt.Errorf("scenario %q is listed twice", s.Name)
		}
		if s.Run == nil {
			return fmt.Errorf("scenario %q has no Run", s.Name)
		}
		byName[s.Name] = s
	}
	for _, s := range all {
		if s.Baseline == "" {
			continue
		}
		b, ok := byName[s.Baseline]
		if !ok || b.Baseline != "" {
			return fmt.Errorf("scenario %q: baseline %q is not a baseline scenario", s.Name, s.Baseline)
		}
	}
	return nil
}

// Select returns the scenarios of all named in names (all of them when names
// is empty) plus the baselines they need, in the order of all with every
// baseline ahead of the scenarios compared to it.
func Select(all []Scenario, names []string) ([]Scenario, error) {
	byName := map[string]Scenario{}
	for _, s := range all {
		byName[s.Name] = s
	}
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if _, ok := byName[n]; !ok {
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(scenarioNames(all), ", "))
		}
		want[n] = true
	}
	var plan []Scenario
	added := map[string]bool{}
	add := func(s Scenario) {
		if !added[s.Name] {
			added[s.Name] = true
			plan = append(plan, s)
		}
	}
	for _, s := range all {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		if s.Baseline != "" {
			add(byName[s.Baseline])
		}
		add(s)
	}
	return plan, nil
}

func scenarioNames(all []Scenario) []string {
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return names
}

// Run runs plan (from Select) in order and returns one row per scenario.
// A failing scenario does not stop the others: its row carries the error,
// and the joined errors are returned too.
func Run(ctx context.Context, plan []Scenario, o Options) ([]Row, error) {
	if o.Msgs == 0 {
		o.Msgs = DefaultMsgs
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Msgs < 0 || o.Size < 0 || o.Duration < 0 {
		return nil, fmt.Errorf("msgs, size and duration must not be negative (got %d, %d, %s)", o.Msgs, o.Size, o.Duration)
	}
	rounds := max(o.Repeat, 1)
	results := make(map[string][]Result, len(plan))
	failed := map[string]error{}
	for round := 0; round < rounds; round++ {
		for _, s := range plan {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if failed[s.Name] != nil {
				continue
			}
			res, err := runOne(ctx, s, o)
			if err != nil {
				failed[s.Name] = err
				continue
			}
			results[s.Name] = append(results[s.Name], res)
		}
	}
	rows := make([]Row, 0, len(plan))
	byName := map[string]Row{}
	var errs []error
	for _, s := range plan {
		err := failed[s.Name]
		res := medianResult(results[s.Name])
		row := newRow(s, res, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
		}
		if b, ok := byName[s.Baseline]; ok {
			row.setRatio(b)
		}
		rows = append(rows, row)
		byName[s.Name] = row
	}
	return rows, errors.Join(errs...)
}

// medianResult picks the run with the median throughput and notes the
// spread when there was more than one.
func medianResult(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b Result) int { return cmp.Compare(a.MsgsPerSec, b.MsgsPerSec) })
	med := sorted[len(sorted)/2]
	if len(sorted) > 1 {
		med.Notes = joinNotes(med.Notes, fmt.Sprintf("median of %d runs (%.0f..%.0f msgs/s)", len(sorted), sorted[0].MsgsPerSec, sorted[len(sorted)-1].MsgsPerSec))
	}
	return med
}

func runOne(ctx context.Context, s Scenario, o Options) (Result, error) {
	env := &Env{
		URL:      o.URL,
		Server:   o.Server,
		Msgs:     o.Msgs,
		Size:     o.Size,
		Duration: o.Duration,
		Prefix:   "bench_" + strings.ReplaceAll(s.Name, "-", "_") + "_" + nuid.Next(),
		RocketMQ: o.RocketMQ,
		connOpts: o.ConnectOptions,
	}
	if o.Progress != nil {
		env.progress = func(done, total int) { o.Progress.Update(s.Name, done, total) }
		defer o.Progress.Finish(s.Name)
	}
	return s.Run(ctx, env)
}
