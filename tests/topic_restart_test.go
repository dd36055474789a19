package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// restartTopic is the topic the start-up window tests publish to.
const restartTopic = "orders"

// ackLedger records every message a publisher saw acknowledged, by its
// Nats-Msg-Id, with the subject it was published on.
type ackLedger struct {
	mu    sync.Mutex
	acked map[string]string
}

func (l *ackLedger) add(id, subj string) {
	l.mu.Lock()
	l.acked[id] = subj
	l.mu.Unlock()
}

func (l *ackLedger) snapshot() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out
}

// inputSubject is message i's input subject: keyed, keyed and tagged, or
// keyless, in turn.
func inputSubject(i int) string {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("%s.user-%d", restartTopic, i%97)
	case 1:
		return fmt.Sprintf("%s.user-%d.vip", restartTopic, i%97)
	}
	return restartTopic
}

// publishUntilAcked publishes one message with id until JetStream
// acknowledges it or ctx ends; a publish that fails (no responders while
// the node starts, a broken connection) is retried, and Nats-Msg-Id makes
// the retries harmless.
func publishUntilAcked(ctx context.Context, js jetstream.JetStream, l *ackLedger, id, subj string) {
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.PublishMsg(pctx, &nats.Msg{Subject: subj, Data: []byte(id), Header: nats.Header{semantics.HeaderNatsMsgID: []string{id}}})
		cancel()
		if err == nil {
			l.add(id, subj)
			return
		}
		time.Sleep(5 * time.Millisecond) // back off between retries of a failed publish
	}
}

// instantPublisher connects the moment the port accepts and publishes n
// messages at once, the way a client that reconnects by itself does.
func instantPublisher(ctx context.Context, t *testing.T, url string, l *ackLedger, round, n int) {
	var nc *nats.Conn
	for ctx.Err() == nil {
		c, err := nats.Connect(url, nats.Timeout(200*time.Millisecond), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
		if err == nil {
			nc = c
			break
		}
	}
	if nc == nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Error(err)
		return
	}
	for i := 0; i < n; i++ {
		publishUntilAcked(ctx, js, l, fmt.Sprintf("r%d-%d", round, i), inputSubject(i))
	}
}

// writeTopicConfig writes a one-node config with a fixed client port, so a
// restarted node is found at the same address.
func writeTopicConfig(t *testing.T, dir string, port int) string {
	t.Helper()
	cfg := filepath.Join(dir, "jetmq.yaml")
	yaml := fmt.Sprintf("nats:\n  store_dir: %s\n  port: %d\nhttp: \"\"\ntopics:\n  - name: %s\n    partitions: 8\n",
		filepath.Join(dir, "data"), port, restartTopic)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestTopicNoMisfileAcrossKill9Restarts kills the real binary with -9 again
// and again while a steady publisher stays attached, and each time a client
// publishes keyed, tagged and keyless messages the instant the port opens.
// Every acknowledged message must be stored once, on its stored form.
func TestTopicNoMisfileAcrossKill9Restarts(t *testing.T) {
	rounds, perRound := 5, 60
	if fullSize() {
		rounds = 20
	}
	dir := t.TempDir()
	port := testutil.FreePort(t)
	cfg := writeTopicConfig(t, dir, port)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	l := &ackLedger{acked: map[string]string{}}
	p := testutil.StartProcess(t, dir, "serve", "-c", cfg)
	p.WaitReady(t, 60*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	steady := startSteadyPublisher(ctx, t, url, l)
	waitAcked(t, l, 1)
	for r := 0; r < rounds; r++ {
		p.Kill9()
		done := make(chan struct{})
		go func() { defer close(done); instantPublisher(ctx, t, url, l, r, perRound) }()
		p = testutil.StartProcess(t, dir, "serve", "-c", cfg)
		p.WaitReady(t, 60*time.Second)
		<-done
	}
	stop()
	steady.Wait()

	acked := l.snapshot()
	stored := readStoredByID(t, url, restartTopic, len(acked))
	checkStoredForms(t, acked, stored, 8)
	t.Logf("%d restarts: %d acknowledged publishes, %d stored, 0 misfiled, 0 lost, 0 doubled", rounds, len(acked), len(stored))
}

// waitAcked waits until l holds at least n acknowledgements.
func waitAcked(t *testing.T, l *ackLedger, n int) {
	t.Helper()
	testutil.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if got := len(l.snapshot()); got < n {
			return fmt.Errorf("%d of %d acknowledged", got, n)
		}
		return nil
	})
}

// startSteadyPublisher publishes keyed messages one after another through
// every restart on one connection that reconnects by itself.
func startSteadyPublisher(ctx context.Context, t *testing.T, url string, l *ackLedger) *sync.WaitGroup {
	t.Helper()
	nc := testutil.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	js := testutil.JetStream(t, nc)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			publishUntilAcked(ctx, js, l, fmt.Sprintf("s-%d", i), inputSubject(i))
		}
	}()
	return &wg
}

// storedMsg is where one message was stored.
type storedMsg struct {
	subject string
	count   int
}

// readStoredByID reads the whole topic stream and returns, per Nats-Msg-Id,
// the subject it is stored on and how many copies there are.
func readStoredByID(t *testing.T, url, topic string, atLeast int) map[string]*storedMsg {
	t.Helper()
	nc := testutil.Connect(t, url)
	js := testutil.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A node that has just started or joined may not serve the JetStream
	// API for a moment ("no responders"): wait for it rather than fail.
	var c jetstream.Consumer
	var s jetstream.Stream
	testutil.CheckFor(t, time.Minute, 200*time.Millisecond, func() (err error) {
		if s, err = js.Stream(ctx, topic); err != nil {
			return err
		}
		c, err = js.OrderedConsumer(ctx, topic, jetstream.OrderedConsumerConfig{})
		return err
	})
	total := int(s.CachedInfo().State.Msgs)
	if total < atLeast {
		t.Fatalf("topic holds %d messages, fewer than the %d acknowledged", total, atLeast)
	}
	out := map[string]*storedMsg{}
	for read := 0; read < total; {
		b, err := c.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if errors.Is(err, nats.ErrNoResponders) && ctx.Err() == nil {
			// The node this client reached is still catching up after the
			// restarts: ask again shortly (ctx bounds the whole read).
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			read++
			id := m.Headers().Get(semantics.HeaderNatsMsgID)
			if sm, ok := out[id]; ok {
				sm.count++
				continue
			}
			out[id] = &storedMsg{subject: m.Subject(), count: 1}
		}
		if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
			t.Fatal(err)
		}
	}
	return out
}

// checkStoredForms asserts that every acknowledged message is stored
// exactly once, on the stored form of the subject it was published on.
func checkStoredForms(t *testing.T, acked map[string]string, stored map[string]*storedMsg, partitions int) {
	t.Helper()
	var lost, doubled, misfiled int
	for id, in := range acked {
		sm, ok := stored[id]
		switch {
		case !ok:
			lost++
		case sm.count > 1:
			doubled++
		case !isStoredFormOf(in, sm.subject, partitions):
			misfiled++
			if misfiled <= 5 {
				t.Errorf("published on %s, stored on %s", in, sm.subject)
			}
		}
	}
	if lost+doubled+misfiled > 0 {
		t.Fatalf("of %d acknowledged: %d lost, %d doubled, %d misfiled", len(acked), lost, doubled, misfiled)
	}
}

// isStoredFormOf reports whether stored is where a publish on input belongs.
func isStoredFormOf(input, stored string, partitions int) bool {
	sm, err := wire.ParseStoredSubject(stored)
	if err != nil || sm.Partition >= partitions {
		return false
	}
	if input == restartTopic {
		return sm.Key == semantics.KeylessKey && sm.Tag == ""
	}
	key, tag, _ := strings.Cut(strings.TrimPrefix(input, restartTopic+"."), ".")
	return sm.Key == key && sm.Tag == tag && sm.Partition == semantics.Partition(key, partitions)
}
