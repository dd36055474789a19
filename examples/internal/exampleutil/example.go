package exampleutil

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jetmq/jetmq/server"
)

// Example is one runnable scenario.
type Example struct {
	Name  string // folder name, e.g. "registration"
	About string // one line: what it shows
	// Configure adjusts the in-process server's config (nil: defaults).
	// It has no effect with -s URL.
	Configure func(*server.Config)
	// Run does the scenario and returns an error if what it claims did
	// not happen.
	Run func(ctx context.Context, env *Env) error
}

// Options say where an example runs and where it prints.
type Options struct {
	// Server is the URL of a running jetmq; "" starts one in-process.
	Server string
	// Out receives the example's report (default os.Stdout).
	Out io.Writer
	// ServerLog shows the in-process server's log on stderr.
	ServerLog bool
	// Timeout bounds the whole run (default 2 minutes).
	Timeout time.Duration
}

// Main runs the example as a program: it parses the flags, runs it and
// exits with status 1 if it failed (2 for bad flags).
func (x Example) Main() {
	fs := flag.NewFlagSet(x.Name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s: %s\n\nusage: go run ./examples/%s [-s nats://host:4222]\n\n", x.Name, x.About, x.Name)
		fs.PrintDefaults()
	}
	var o Options
	fs.StringVar(&o.Server, "s", "", "URL of a running jetmq (default: start one in-process on free ports with a temporary store)")
	fs.BoolVar(&o.ServerLog, "v", false, "show the in-process server's log")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := x.Execute(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: FAILED: %v\n", x.Name, err)
		os.Exit(1)
	}
}

// Execute sets up the environment, runs the example and cleans up.
func (x Example) Execute(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	env, err := open(ctx, o, x.Configure)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, env.close()) }()
	env.Printf("== %s: %s", x.Name, x.About)
	env.Printf("   jetmq at %s", env.where)
	start := time.Now()
	if err := x.Run(ctx, env); err != nil {
		return err
	}
	env.Printf("== %s: OK (%s)", x.Name, time.Since(start).Round(time.Millisecond))
	return nil
}

// LogWriter adapts a test's Log method (testing.TB) to an io.Writer, so a
// test shows the example's report in its log.
func LogWriter(t interface{ Log(...any) }) io.Writer { return logWriter{t} }

type logWriter struct{ t interface{ Log(...any) } }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
