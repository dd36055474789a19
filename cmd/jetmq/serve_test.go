package main

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestShutdownSecondSignalForces: while a graceful shutdown is still
// running, a second signal returns exit status 1 at once.
func TestShutdownSecondSignalForces(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := func(context.Context) error { <-release; return nil }
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	err := shutdown(stuck, sigs)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("got %v, want a forced exit with status 1", err)
	}
}

// TestShutdownGraceful: without a second signal shutdown returns what the
// server's Shutdown returned.
func TestShutdownGraceful(t *testing.T) {
	if err := shutdown(func(context.Context) error { return nil }, make(chan os.Signal)); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	boom := errors.New("boom")
	if err := shutdown(func(context.Context) error { return boom }, make(chan os.Signal)); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

// TestRunExitCodes runs the command line in-process for the cases that do
// not start a server.
func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0},
		{[]string{"--help"}, 0},
		{[]string{"--port", "abc"}, 2},
		{[]string{"--no-such-flag"}, 2},
		{[]string{"--store-dir", t.TempDir(), "--log-nothing"}, 2},
	} {
		if got := run(tc.args); got != tc.code {
			t.Errorf("jetmq %v: exit %d, want %d", tc.args, got, tc.code)
		}
	}
}
