package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmq/jetmq/internal/testutil"
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

// TestPortInUseOneLine: a client or HTTP port that is taken stops the
// binary with exit status 1 and one line naming the key and the address,
// without the NATS start-up banner.
func TestPortInUseOneLine(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for key, args := range map[string][]string{
		"nats.port": {"--port", port, "--http", ""},
		"http":      {"--port", "-1", "--http", addr},
	} {
		res := testutil.RunCLI(t, append(args, "--store-dir", t.TempDir())...)
		lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
		if res.Code != 1 || len(lines) != 1 {
			t.Fatalf("%s: exit %d, %d lines, want 1 and one line:\n%s", key, res.Code, len(lines), res.Stderr)
		}
		if !strings.HasPrefix(lines[0], "jetmq: "+key+": ") || !strings.Contains(lines[0], addr) || !strings.Contains(lines[0], "in use") {
			t.Fatalf("the line does not name %s and %s as in use: %q", key, addr, lines[0])
		}
	}
}

// TestConfigWrongTypeExitsTwo: wrong types and unit-less or zero durations
// from the file or the environment exit 2 with one line naming the key,
// never a panic.
func TestConfigWrongTypeExitsTwo(t *testing.T) {
	t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
	for _, tc := range []struct{ env, file, key string }{
		{file: "nats: {node_ttl: 5}", key: "nats.node_ttl"},
		{file: "nats: {node_ttl: true}", key: "nats.node_ttl"},
		{file: "nats: {port: true}", key: "nats.port"},
		{file: "nats: {port: 25600.7}", key: "nats.port"},
		{file: "topics: [{name: o, partitions: 8.5}]", key: "topics[0].partitions"},
		{file: "topics: [{name: o, max_bytes: 1.5}]", key: "topics[0].max_bytes"},
		{file: "topics: [{name: o, max_age: 5}]", key: "topics[0].max_age"},
		{env: "JETMQ_NATS_NODE_TTL=2ns", key: "nats.node_ttl"},
		{env: "JETMQ_NATS_NODE_TTL=5", key: "nats.node_ttl"},
		{env: "JETMQ_NATS_PORT=true", key: "nats.port"},
		{env: "JETMQ_NATS_HOST=256.1.1.1", key: "nats.host"},
	} {
		t.Run(tc.key+" "+tc.file+tc.env, func(t *testing.T) {
			var args []string
			if tc.file != "" {
				f := filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(f, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = []string{"-c", f}
			}
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			code := runTo(args, &stderr)
			line := strings.TrimSuffix(stderr.String(), "\n")
			if code != 2 || strings.Contains(line, "\n") || !strings.HasPrefix(line, "jetmq: config: "+tc.key+": ") {
				t.Fatalf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr.String(), tc.key)
			}
		})
	}
}

// TestErrorPrefixOnce: an error reply of the server is printed with one
// "jetmq: " prefix, not two.
func TestErrorPrefixOnce(t *testing.T) {
	srv := testutil.StartServer(t)
	var stderr bytes.Buffer
	code := runTo([]string{"topic", "info", "nope", "-s", srv.ClientURL()}, &stderr)
	if code != 1 || !strings.HasPrefix(stderr.String(), "jetmq: ") || strings.Contains(stderr.String(), "jetmq: jetmq:") {
		t.Fatalf("exit %d, stderr %q; want 1 and one jetmq: prefix", code, stderr.String())
	}
}
