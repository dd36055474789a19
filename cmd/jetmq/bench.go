package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jetmq/jetmq/internal/bench"
	"github.com/jetmq/jetmq/server"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type benchFlags struct {
	scenarios []string
	msgs      int
	size      int
	duration  time.Duration
	repeat    int
	list      bool
	rocketmq  string
	cpuProf   string
}

func newBenchCmd(g *globalFlags) *cobra.Command {
	o := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark jetmq scenarios against raw JetStream in the same run",
		Long: `Run benchmark scenarios and print msgs/s, p50 and p99 latency and the ratio
of each scenario's msgs/s to its raw JetStream baseline, measured in the same
run against the same server (selecting a scenario also runs its baseline).

Without -s/--server, bench starts its own embedded jetmq server (temporary
storage, free port, no HTTP) and removes it afterwards; with -s it targets
that server and creates (then deletes) streams named bench_*.

Scenarios:
` + scenarioHelp(),
		Example: `  jetmq bench
  jetmq bench --scenario raw-consume --msgs 500000
  jetmq bench -s nats://127.0.0.1:4222 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.scenarios, "scenario", nil, "scenarios to run, comma-separated (default: all)")
	f.IntVar(&o.msgs, "msgs", bench.DefaultMsgs, "messages per scenario (scenarios may scale it, e.g. raw-publish-sync runs msgs/4)")
	f.IntVar(&o.size, "size", bench.DefaultSize, "message payload size in bytes")
	f.DurationVar(&o.duration, "duration", 0, "stop each timed phase of a scenario after this long (0: no limit)")
	f.IntVar(&o.repeat, "repeat", 1, "run everything this many times, interleaved, and report each scenario's median run")
	f.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	f.StringVar(&o.rocketmq, "rocketmq", "", "RocketMQ endpoint (host:port) of the server given with -s, for the rmq-* scenarios (default: the embedded server's)")
	f.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the whole run (client and embedded server) to this file")
	return cmd
}

func scenarioHelp() string {
	var b strings.Builder
	for _, s := range bench.Scenarios() {
		base := "baseline"
		if s.Baseline != "" {
			base = "vs " + s.Baseline
		}
		fmt.Fprintf(&b, "  %-22s %s (%s)\n", s.Name, s.Description, base)
	}
	return b.String()
}

func runBench(cmd *cobra.Command, g *globalFlags, o *benchFlags) error {
	out := cmd.OutOrStdout()
	if o.list {
		_, err := io.WriteString(out, scenarioHelp())
		return err
	}
	if o.msgs < 1 || o.size < 0 || o.duration < 0 || o.repeat < 1 {
		return fmt.Errorf("bench: --msgs and --repeat must be at least 1, --size and --duration not negative")
	}
	plan, err := bench.Select(bench.Scenarios(), o.scenarios)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := bench.Options{Msgs: o.msgs, Size: o.size, Duration: o.duration, Repeat: o.repeat, RocketMQ: o.rocketmq}
	if cmd.Flags().Changed("server") {
		opts.URL, opts.ConnectOptions = g.server, g.authOptions()
	} else {
		srv, cleanup, err := startBenchServer(ctx)
		if err != nil {
			return fmt.Errorf("bench: embedded server: %w", err)
		}
		defer cleanup()
		opts.URL, opts.Server = srv.ClientURL(), srv
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = bench.NewBarProgress(os.Stderr)
		fmt.Fprintf(os.Stderr, "jetmq bench: %d msgs of %d bytes against %s\n", o.msgs, o.size, target(opts))
	}
	if o.cpuProf != "" {
		stopProf, err := startCPUProfile(o.cpuProf)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer stopProf()
	}
	rows, runErr := bench.Run(ctx, plan, opts)
	if g.json {
		err = bench.WriteJSON(out, rows)
	} else {
		err = bench.WriteTable(out, rows)
	}
	return errors.Join(runErr, err)
}

// startCPUProfile profiles this process: with the embedded server the
// profile shows jetmq's side and the clients' side of a scenario together.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func target(o bench.Options) string {
	if o.Server != nil {
		return "an embedded jetmq server at " + o.URL
	}
	return o.URL
}

// startBenchServer starts a jetmq server with a temporary store, a free
// client port, a free RocketMQ port on loopback (1s long poll), no HTTP and a logger that
// only reports errors; cleanup shuts it down and removes the store.
func startBenchServer(ctx context.Context) (*server.Server, func(), error) {
	dir, err := os.MkdirTemp("", "jetmq-bench-*")
	if err != nil {
		return nil, nil, err
	}
	noHTTP, rmqFree := "", "127.0.0.1:0"
	cfg := &server.Config{
		NATS: server.NATSConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir},
		HTTP: &noHTTP,
		// A short long poll: a RocketMQ push consumer's GracefulStop waits
		// out its receive in flight; draining a backlog never waits.
		RocketMQ: server.RocketMQConfig{Listen: &rmqFree, LongPolling: time.Second},
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := server.New(cfg, server.WithLogger(quiet))
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cleanup := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "jetmq bench: shutdown:", err)
		}
		os.RemoveAll(dir)
	}
	return srv, cleanup, nil
}
