package tests

// End-to-end tests of the jetmq binary itself: serving standard clients,
// strict config errors with exit status 2, a busy port, precedence of flags,
// environment and file, signals and restarts.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

const procTimeout = 60 * time.Second

// stopBinary sends SIGTERM and expects a graceful exit 0.
func stopBinary(t *testing.T, p *testutil.Process) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(procTimeout); code != 0 {
		t.Fatalf("SIGTERM: exit status %d, want 0\n%s", code, p.Stderr)
	}
}

func getHTTP(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// publishAndConsume round-trips n messages through a fresh stream with a
// standard nats.go JetStream client.
func publishAndConsume(t *testing.T, js jetstream.JetStream, stream string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subj := strings.ToLower(stream)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subj + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.Publish(ctx, subj+".k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if want := fmt.Sprintf("m%d", i); string(m.Data()) != want {
			t.Fatalf("message %d = %q, want %q", i, m.Data(), want)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		i++
	}
	if i != n {
		t.Fatalf("consumed %d of %d messages (%v)", i, n, batch.Error())
	}
}

// TestBinaryServesClients: the real binary on free ports serves nats.go
// JetStream publish/consume and the HTTP endpoints, exits 0 on SIGTERM and
// keeps its stream data across a restart.
func TestBinaryServesClients(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-p", "-1", "--http", "127.0.0.1:0", "--store-dir", filepath.Join(dir, "data")}
	p := testutil.StartProcess(t, dir, args...)
	clientURL, httpAddr := p.WaitReady(t, procTimeout)

	nc := testutil.Connect(t, clientURL)
	publishAndConsume(t, testutil.JetStream(t, nc), "BIN", 20)

	for path, want := range map[string]string{"/varz": `"server_id"`, "/jsz": `"streams":`, "/connz": `"num_connections"`, "/healthz": `"ok"`} {
		if code, body := getHTTP(t, httpAddr, path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, body lacks %s: %.300s", path, code, want, body)
		}
	}
	_, metrics := getHTTP(t, httpAddr, "/metrics")
	for _, want := range []string{"jetmq_build_info{", "jetmq_nodes_live 1", "jetmq_ready 1", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	nc.Close()
	stopBinary(t, p)
	if !strings.Contains(p.Stderr.String(), "shutting down gracefully") {
		t.Errorf("no shutdown message in the log")
	}

	p = testutil.StartProcess(t, dir, args...)
	clientURL, _ = p.WaitReady(t, procTimeout)
	js := testutil.JetStream(t, testutil.Connect(t, clientURL))
	info, err := js.Stream(context.Background(), "BIN")
	if err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
	if n := info.CachedInfo().State.Msgs; n != 20 {
		t.Fatalf("after restart %d messages, want 20", n)
	}
	stopBinary(t, p)
}

// assertConfigExit checks the binary's contract for a bad config: exit
// status 2 and exactly one line that names the key, no stack trace.
func assertConfigExit(t *testing.T, p *testutil.Process, key string) {
	t.Helper()
	code := p.Wait(procTimeout)
	out := strings.TrimSpace(p.Stderr.String())
	if code != 2 {
		t.Fatalf("exit status %d, want 2\n%s", code, out)
	}
	if strings.Contains(out, "\n") || strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
		t.Fatalf("want one line, got:\n%s", out)
	}
	if !strings.Contains(out, key) {
		t.Fatalf("%q does not name %s", out, key)
	}
}

func TestBinaryBadConfigExits2(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "regular-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	topic := "topics: [{name: orders}]\n"
	for _, tc := range []struct {
		name, file, key string
		args, env       []string
	}{
		{name: "port flag abc", args: []string{"--port", "abc"}, key: "--port"},
		{name: "port env abc", env: []string{"JETMQ_NATS_PORT=abc"}, key: "nats.port"},
		{name: "port file abc", file: "nats:\n  port: abc\n", key: "nats.port"},
		{name: "port out of range", args: []string{"--port", "70000"}, key: "nats.port"},
		{name: "unknown key", file: "nats:\n  prot: 4222\n", key: "nats.prot"},
		{name: "wrong type", file: "log:\n  trace: maybe\n", key: "log.trace"},
		{name: "negative duration", file: "transactions:\n  check_timeout: -3s\n", key: "transactions.check_timeout"},
		{name: "store dir not writable", args: []string{"--store-dir", filepath.Join(notDir, "data")}, key: "nats.store_dir"},
		{name: "bad mode", file: topic + "groups: [{name: g, topic: orders, mode: sideways}]\n", key: "groups[0].mode"},
		{name: "bad backoff", file: topic + "groups: [{name: g, topic: orders, retry_backoff: [1m, 10s]}]\n", key: "groups[0].retry_backoff[1]"},
		{name: "bad sync", file: "nats:\n  sync: sometimes\n", key: "nats.sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// A free port unless the case is about the port: should a bad
			// config be accepted, the server must not take 4222.
			args := []string{"--http="}
			if !strings.Contains(tc.key, "port") {
				args = append(args, "-p", "-1")
			}
			if tc.file != "" {
				f := filepath.Join(dir, "jetmq.yaml")
				if err := os.WriteFile(f, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-c", f)
			}
			p := testutil.StartProcessEnv(t, dir, tc.env, append(args, tc.args...)...)
			assertConfigExit(t, p, tc.key)
		})
	}
}

// TestBinaryPortInUse: a busy client port is one clear line and exit 1,
// promptly.
func TestBinaryPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	p := testutil.StartProcess(t, dir, "-p", port, "--http=", "--store-dir", filepath.Join(dir, "data"))
	if code := p.Wait(procTimeout); code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", code, p.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(p.Stderr.String()), "\n")
	last := lines[len(lines)-1]
	want := "jetmq: nats.port: cannot start: listen tcp 127.0.0.1:" + port + ": bind: address already in use"
	if last != want {
		t.Fatalf("last line %q, want %q", last, want)
	}
	if strings.Contains(p.Stderr.String(), "goroutine ") {
		t.Fatalf("stack trace in output:\n%s", p.Stderr)
	}
}

// TestBinaryPrecedence: flag > env > file for the client port.
func TestBinaryPrecedence(t *testing.T) {
	dir := t.TempDir()
	filePort, envPort, flagPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	cfg := filepath.Join(dir, "jetmq.yaml")
	content := fmt.Sprintf("nats:\n  port: %d\n  store_dir: %s\nhttp: \"\"\n", filePort, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"JETMQ_NATS_PORT=" + strconv.Itoa(envPort)}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want int
	}{
		{"file", nil, nil, filePort},
		{"env over file", env, nil, envPort},
		{"flag over env", env, []string{"--port", strconv.Itoa(flagPort)}, flagPort},
	} {
		p := testutil.StartProcessEnv(t, dir, tc.env, append([]string{"-c", cfg}, tc.args...)...)
		clientURL, httpAddr := p.WaitReady(t, procTimeout)
		u, err := url.Parse(clientURL)
		if err != nil {
			t.Fatal(err)
		}
		if u.Port() != strconv.Itoa(tc.want) {
			t.Errorf("%s: listens on %s, want port %d", tc.name, clientURL, tc.want)
		}
		if httpAddr != "" {
			t.Errorf("%s: http %q, want disabled by the file", tc.name, httpAddr)
		}
		stopBinary(t, p)
	}
}

func TestBinaryCLI(t *testing.T) {
	dir := t.TempDir()
	p := testutil.StartProcess(t, dir, "version")
	if code := p.Wait(procTimeout); code != 0 {
		t.Fatalf("version: exit %d", code)
	}
	if out := p.Stdout.String(); !strings.HasPrefix(out, "jetmq ") || !strings.Contains(out, "nats-server 2.15.2") {
		t.Fatalf("version printed %q", out)
	}
	p = testutil.StartProcess(t, dir, "--help")
	if code := p.Wait(procTimeout); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	help := p.Stdout.String()
	for _, want := range []string{"serve", "version", "-s, --server", "--creds", "--user", "--password", "-c, --config", "--nats-config", "-p, --port", "--store-dir", "--http", "JETMQ_"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}

// TestBinaryCredentialFlagsReachAdminCommands: the global connection flags
// are accepted by every subcommand (admin subcommands use them).
func TestBinaryCredentialFlagsReachAdminCommands(t *testing.T) {
	p := testutil.StartProcess(t, t.TempDir(), "version", "-s", "nats://127.0.0.1:1", "--user", "u", "--password", "p", "--creds", "/dev/null")
	if code := p.Wait(procTimeout); code != 0 {
		t.Fatalf("global flags refused: exit %d\n%s", code, p.Stderr)
	}
}
