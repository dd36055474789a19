package tests

// The standard `nats` CLI (natscli v0.5.0) works against jetmq unchanged.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
)

// natsCLI finds the nats CLI in PATH or $(go env GOPATH)/bin. Without it
// the test is skipped, except in CI (CI set), where it fails.
func natsCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "nats")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	msg := "nats CLI not found in PATH or $(go env GOPATH)/bin; install it with: go install github.com/nats-io/natscli/nats@v0.5.0"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// natsCmd prepares `nats -s url --no-context args...` with its own config
// home, so the user's nats contexts play no part.
func natsCmd(t *testing.T, bin, url string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"-s", url, "--no-context"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "HOME="+t.TempDir())
	return cmd
}

func runNats(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	out, err := natsCmd(t, bin, url, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestNatsCLI(t *testing.T) {
	bin := natsCLI(t)
	s := testutil.StartServer(t)
	url := s.ClientURL()
	js := testutil.JetStream(t, testutil.Connect(t, url))
	ctx := context.Background()

	runNats(t, bin, url, "stream", "add", "ORDERS", "--subjects", "orders.>", "--defaults")
	if out := runNats(t, bin, url, "stream", "ls"); !strings.Contains(out, "ORDERS") {
		t.Fatalf("stream ls does not list ORDERS:\n%s", out)
	}
	runNats(t, bin, url, "pub", "orders.1", "hello", "--count", "3")
	st, err := js.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 3 {
		t.Fatalf("ORDERS holds %d messages after nats pub, want 3", n)
	}

	// nats sub receives what nats pub sends; publish until the subscriber,
	// which starts in its own process, has seen one message.
	sub := natsCmd(t, bin, url, "sub", "greet.>", "--count", "1")
	var subOut strings.Builder
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Wait() }()
	t.Cleanup(func() { _ = sub.Process.Kill() })
	testutil.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		runNats(t, bin, url, "pub", "greet.world", "hello from nats pub")
		select {
		case err := <-subDone:
			if err != nil {
				t.Fatalf("nats sub: %v\n%s", err, subOut.String())
			}
			return nil
		case <-time.After(100 * time.Millisecond):
			return errors.New("nats sub has not received a message yet")
		}
	})
	if !strings.Contains(subOut.String(), "hello from nats pub") {
		t.Fatalf("nats sub printed:\n%s", subOut.String())
	}

	out := runNats(t, bin, url, "bench", "js", "pub", "async", "bench.subject", "--create", "--msgs", "2000", "--size", "128", "--no-progress")
	t.Logf("nats bench js pub async:\n%s", out)
	bst, err := js.Stream(ctx, "benchstream")
	if err != nil {
		t.Fatalf("bench stream: %v", err)
	}
	if n := bst.CachedInfo().State.Msgs; n != 2000 {
		t.Fatalf("benchstream holds %d messages, want 2000", n)
	}
}
