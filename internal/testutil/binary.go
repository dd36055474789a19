package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// builds caches, per package, the one build of it a test process makes.
var builds sync.Map // package path -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// repoRoot finds the module root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds cmd/jetmq once per test process and returns its path.
func Binary(t testing.TB) string { return buildOnce(t, "./cmd/jetmq") }

// RMQDriverBinary builds internal/rmqdriver (the official RocketMQ
// client in a process of its own, without the race detector) once per
// test process and returns its path.
func RMQDriverBinary(t testing.TB) string { return buildOnce(t, "./internal/rmqdriver") }

// buildOnce builds the main package pkg (relative to the module root)
// without the race detector, once per test process.
func buildOnce(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "jetmq-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Process is a jetmq binary running as a subprocess.
type Process struct {
	Cmd    *exec.Cmd
	Stdout *syncBuffer
	Stderr *syncBuffer
	done   chan struct{}
	err    error
}

// StartProcess runs the jetmq binary with args in dir and kills it when the
// test ends if it is still running.
func StartProcess(t testing.TB, dir string, args ...string) *Process {
	t.Helper()
	return StartProcessEnv(t, dir, nil, args...)
}

// StartProcessEnv is StartProcess with extra environment variables
// ("KEY=value") on top of the test's environment.
func StartProcessEnv(t testing.TB, dir string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(Binary(t), args...), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	p.Cmd.Dir = dir
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	// Parallel processes must not all bind the RocketMQ default port.
	p.Cmd.Env = append(append(os.Environ(), "JETMQ_ROCKETMQ_LISTEN=127.0.0.1:0"), env...)
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			p.logTail(t)
		}
	})
	return p
}

// logTail shows, for a failed test, the end of the process's log and
// where the whole of it was kept.
func (p *Process) logTail(t testing.TB) {
	log := p.Stderr.String()
	kept := "not kept"
	if f, err := os.CreateTemp("", "jetmq-failed-*.log"); err == nil {
		_, _ = f.WriteString(log)
		_ = f.Close()
		kept = f.Name()
	}
	// A node whose peer was killed logs a failed route dial every second;
	// those would fill the tail and hide what the node did.
	var lines []string
	dials := 0
	for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		if strings.Contains(l, "Error trying to connect to route") {
			dials++
			continue
		}
		lines = append(lines, l)
	}
	t.Logf("jetmq %v (pid %d) log, last lines without %d failed route dials (all in %s):\n%s", p.Cmd.Args[1:], p.Cmd.Process.Pid, dials, kept, strings.Join(lines[max(0, len(lines)-40):], "\n"))
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill9 kills the process at once, as kill -9 does.
func (p *Process) Kill9() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 on timeout).
func (p *Process) Wait(timeout time.Duration) int {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// readyLine matches the log line the server writes once it serves.
var readyLine = regexp.MustCompile(`msg="jetmq ready" client=(\S+) http=(\S*)`)

// WaitReady waits until the process logs that it is ready and returns the
// client URL and HTTP address it logged ("" when HTTP is disabled). It
// fails the test if the process exits first or timeout passes.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration) (clientURL, httpAddr string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := readyLine.FindStringSubmatch(p.Stderr.String()); m != nil {
			return m[1], strings.Trim(m[2], `"`)
		}
		if p.Exited() {
			t.Fatalf("jetmq exited with status %d before it was ready:\n%s", p.Cmd.ProcessState.ExitCode(), p.Stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("jetmq not ready after %s:\n%s", timeout, p.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
