package tests

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
)

// rmqCommand and rmqEvent are internal/rmqdriver's command and event
// lines (see there).
type rmqCommand struct {
	Op       string `json:"op"`
	ID       string `json:"id,omitempty"`
	Group    string `json:"group,omitempty"`
	Rate     int    `json:"rate,omitempty"`
	Least    int    `json:"least,omitempty"`
	Body     string `json:"body,omitempty"`
	Key      string `json:"key,omitempty"`
	Mod      int    `json:"mod,omitempty"`
	MsgGroup string `json:"msg_group,omitempty"`
	Workers  int    `json:"workers,omitempty"`
}

type rmqEvent struct {
	Ev   string `json:"ev"`
	ID   string `json:"id"`
	Body string `json:"body"`
	TxID string `json:"txid"`
	Plan int    `json:"plan"`
	Err  string `json:"err"`
}

// rmqDriver is an internal/rmqdriver process: official RocketMQ clients
// run outside the race-checked test binary (their own data races would
// fail any test that runs them through node failures).
type rmqDriver struct {
	t       *testing.T
	cmd     *exec.Cmd
	in      io.WriteCloser
	answers chan rmqEvent // "ready" or "error", one per command
	stopped chan struct{} // closed on "stopped"
	exited  chan struct{}
	stderr  *lockedBuffer
}

// startRMQDriver starts a driver of the RocketMQ endpoints endpoint
// (';'-separated) and topic orders. Every event other than the answers
// to commands goes to handle, in order, from one goroutine.
func startRMQDriver(t *testing.T, endpoint string, handle func(rmqEvent)) *rmqDriver {
	t.Helper()
	d := &rmqDriver{t: t, answers: make(chan rmqEvent, 1), stopped: make(chan struct{}), exited: make(chan struct{}), stderr: &lockedBuffer{}}
	d.cmd = exec.Command(testutil.RMQDriverBinary(t), "-endpoint", endpoint, "-topic", "orders")
	d.cmd.Stderr = d.stderr
	var err error
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			var e rmqEvent
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			switch e.Ev {
			case "ready", "error":
				d.answers <- e
			case "stopped":
				close(d.stopped)
			default:
				handle(e)
			}
		}
		_ = d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() && d.stderr.String() != "" {
			t.Logf("rmqdriver stderr:\n%s", d.stderr.String())
		}
	})
	return d
}

// do sends c and waits for the driver to have carried it out.
func (d *rmqDriver) do(c rmqCommand) {
	d.t.Helper()
	b, _ := json.Marshal(c)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("rmqdriver %s: %v", c.Op, err)
	}
	select {
	case e := <-d.answers:
		if e.Ev == "error" {
			d.t.Fatalf("rmqdriver %s %s: %s", c.Op, c.ID, e.Err)
		}
	case <-time.After(60 * time.Second):
		d.t.Fatalf("rmqdriver %s %s: no answer in 60 s", c.Op, c.ID)
	case <-d.exited:
		d.t.Fatalf("rmqdriver exited:\n%s", d.stderr.String())
	}
}

// stopSends ends the senders and workers (each after its least) and
// waits until all have returned: every acknowledgement has been handled
// by then.
func (d *rmqDriver) stopSends() {
	d.t.Helper()
	d.do(rmqCommand{Op: "stop"})
	select {
	case <-d.stopped:
	case <-time.After(2 * time.Minute):
		d.t.Fatal("rmqdriver senders did not stop in 2 minutes")
	}
}

// quit stops the push consumers and waits for the driver to exit.
func (d *rmqDriver) quit() {
	b, _ := json.Marshal(rmqCommand{Op: "quit"})
	_, _ = d.in.Write(append(b, '\n'))
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
	}
}
