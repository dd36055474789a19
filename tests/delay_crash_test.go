package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// startBinaryWithTopic runs the real jetmq binary on dir with one topic.
func startBinaryWithTopic(t *testing.T, dir, topic string, partitions int) (*testutil.Process, string) {
	t.Helper()
	cfg := filepath.Join(dir, "jetmq.yaml")
	yaml := fmt.Sprintf("nats:\n  store_dir: %s\nhttp: \"\"\ntopics:\n  - name: %s\n    partitions: %d\n", filepath.Join(dir, "data"), topic, partitions)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartProcess(t, dir, "serve", "-c", cfg, "--port=-1")
	url, _ := p.WaitReady(t, 30*time.Second)
	return p, url
}

func TestDelayedMessagesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p, url := startBinaryWithTopic(t, dir, "orders", 4)
	nc := testutil.Connect(t, url)
	prod, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 20
	due := time.Now().Add(3 * time.Second)
	for i := 0; i < n; i++ {
		if _, err := prod.Send(ctx, &semantics.Message{Topic: "orders", Key: fmt.Sprintf("k%d", i), DeliverAt: due, Data: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	p.Kill9()
	nc.Close()

	_, url = startBinaryWithTopic(t, dir, "orders", 4)
	nc = testutil.Connect(t, url)
	js := testutil.JetStream(t, nc)
	msgs := consumeTopic(t, js, "orders")
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(seen) < n {
		select {
		case m := <-msgs:
			if now := time.Now(); now.Before(due) {
				t.Fatalf("%s delivered %s before its time", m.Subject(), due.Sub(now))
			}
			if seen[m.Subject()] {
				t.Fatalf("%s delivered twice", m.Subject())
			}
			seen[m.Subject()] = true
		case <-deadline:
			t.Fatalf("after kill -9 and restart only %d of %d delayed messages were delivered", len(seen), n)
		}
	}
}
