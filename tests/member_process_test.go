package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// Environment of a member process (the test binary re-executed with
// -test.run=^TestHelperMemberProcess$). JETMQ_TEST_MEMBER, the member id,
// is what turns the helper on.
const (
	envMember  = "JETMQ_TEST_MEMBER"
	envURL     = "JETMQ_TEST_URL" // one URL or a comma-separated list
	envTopic   = "JETMQ_TEST_TOPIC"
	envGroup   = "JETMQ_TEST_GROUP"
	envOrdered = "JETMQ_TEST_ORDERED" // "1": Ordered()
	envWork    = "JETMQ_TEST_WORK"    // handler time per message (time.Duration)
)

// TestHelperMemberProcess is not a test: it is the body of a group member
// running in its own OS process, so that tests can kill it with SIGKILL.
// Without JETMQ_TEST_MEMBER it returns at once. With it, it joins the
// group and, for every message it handles, prints
//
//	start <partition> <key> <seq> <start-unix-nano>
//	handled <partition> <key> <seq> <start-unix-nano> <end-unix-nano>
//
// the second line before the handler returns (so before the ack), then
// blocks until it is killed or its stdin closes (the parent is gone).
func TestHelperMemberProcess(t *testing.T) {
	member := os.Getenv(envMember)
	if member == "" {
		return
	}
	work, _ := time.ParseDuration(os.Getenv(envWork))
	nc, err := nats.Connect(os.Getenv(envURL), nats.Name(memberConnName(member)))
	if err != nil {
		t.Fatalf("member process: connect: %v", err)
	}
	var mu sync.Mutex // one write per line, lines never interleave
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	handler := func(_ context.Context, d *semantics.Delivery) error {
		start := time.Now()
		say("start %d %s %d %d", d.Partition, d.Key, d.Seq, start.UnixNano())
		time.Sleep(work) // keeps a batch in flight when the kill comes
		say("handled %d %s %d %d %d", d.Partition, d.Key, d.Seq, start.UnixNano(), time.Now().UnixNano())
		return nil
	}
	opts := []semantics.SubscribeOption{semantics.WithMember(member), semantics.WithoutCreate()}
	if os.Getenv(envOrdered) == "1" {
		opts = append(opts, semantics.Ordered())
	} else {
		opts = append(opts, semantics.WithConcurrency(4), semantics.WithPrefetch(64))
	}
	if _, err := semantics.Subscribe(context.Background(), nc, os.Getenv(envTopic), os.Getenv(envGroup), handler, opts...); err != nil {
		t.Fatalf("member process: subscribe: %v", err)
	}
	say("ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // EOF: the parent test ended without killing us
}

// memberConnName is the client name a member process connects with, so
// that a test can find its connection in a node's connz.
func memberConnName(id string) string { return "jetmq-test-member-" + id }

// handling is one message as a member handled it.
type handling struct {
	Partition  int
	Key        string
	Seq        uint64
	Start, End time.Time // End is zero while unfinished
}

// memberProcess is a group member in a child process.
type memberProcess struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	out      *handlingLog
	stderr   *lockedBuffer
	done     chan struct{}
	killedAt time.Time
}

// startMemberProcess runs member id of topic/group in a child process. The
// child is killed (SIGKILL) when the test ends if it is still running.
func startMemberProcess(t *testing.T, url, topic, group, id string, ordered bool, work time.Duration) *memberProcess {
	t.Helper()
	mp := &memberProcess{out: newHandlingLog(), stderr: &lockedBuffer{}, done: make(chan struct{})}
	mp.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperMemberProcess$", "-test.timeout=2m")
	mp.cmd.Env = append(os.Environ(), envMember+"="+id, envURL+"="+url, envTopic+"="+topic, envGroup+"="+group,
		envOrdered+"="+map[bool]string{true: "1", false: "0"}[ordered], envWork+"="+work.String())
	mp.cmd.Stdout, mp.cmd.Stderr = mp.out, mp.stderr
	stdin, err := mp.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	mp.stdin = stdin
	if err := mp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mp.cmd.Wait(); close(mp.done) }()
	t.Cleanup(func() {
		mp.kill9()
		if strings.Contains(mp.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("member process %s reported a data race:\n%s", id, mp.stderr)
		}
	})
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if mp.out.isReady() {
			return nil
		}
		if mp.exited() {
			t.Fatalf("member process %s exited before it was ready:\n%s", id, mp.stderr)
		}
		return fmt.Errorf("member process %s not ready", id)
	})
	return mp
}

func (mp *memberProcess) exited() bool {
	select {
	case <-mp.done:
		return true
	default:
		return false
	}
}

// kill9 kills the process with SIGKILL (once) and waits until it is gone
// and all its output has been read.
func (mp *memberProcess) kill9() {
	if !mp.exited() {
		_ = mp.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-mp.done
	_ = mp.stdin.Close()
	if mp.killedAt.IsZero() {
		mp.killedAt = time.Now()
	}
}

// handlingLog parses a member process's stdout as it arrives.
type handlingLog struct {
	mu      sync.Mutex
	partial []byte
	ready   bool
	bySeq   map[uint64]*handling // by stream sequence, first handling
	repeats []handling           // later handlings of a sequence already handled
	handled int
	bad     []string
}

func newHandlingLog() *handlingLog { return &handlingLog{bySeq: map[uint64]*handling{}} }

func (l *handlingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.parse(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

// parse reads one line; lines of the test framework are ignored.
func (l *handlingLog) parse(line string) {
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "ready":
		l.ready = true
	case len(f) == 5 && f[0] == "start", len(f) == 6 && f[0] == "handled":
		p, err1 := strconv.Atoi(f[1])
		seq, err2 := strconv.ParseUint(f[3], 10, 64)
		start, err3 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			l.bad = append(l.bad, line)
			return
		}
		h := l.bySeq[seq]
		if h == nil {
			h = &handling{Partition: p, Key: f[2], Seq: seq, Start: time.Unix(0, start)}
			l.bySeq[seq] = h
		}
		if f[0] == "handled" {
			end, err := strconv.ParseInt(f[5], 10, 64)
			if err != nil {
				l.bad = append(l.bad, line)
				return
			}
			if !h.End.IsZero() { // redelivered to this member: only a lost ack explains it
				l.repeats = append(l.repeats, handling{Partition: p, Key: f[2], Seq: seq, Start: time.Unix(0, start), End: time.Unix(0, end)})
				return
			}
			h.End = time.Unix(0, end)
			l.handled++
		}
	}
}

func (l *handlingLog) isReady() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready
}

func (l *handlingLog) handledCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handled
}

// all returns every reported handling and the lines that did not parse.
func (l *handlingLog) all() (map[uint64]handling, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[uint64]handling, len(l.bySeq))
	for s, h := range l.bySeq {
		out[s] = *h
	}
	return out, append([]string(nil), l.bad...)
}

// repeated lists the handlings of messages the member had handled before.
func (l *handlingLog) repeated() []handling {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]handling(nil), l.repeats...)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
