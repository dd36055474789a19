package tests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"fmt"

	"github.com/jetmq/jetmq/internal/testutil"
)

func TestTopicCLI(t *testing.T) {
	s := testutil.StartServer(t)
	url := s.ClientURL()
	run := func(wantCode int, args ...string) string {
		t.Helper()
		r := testutil.RunCLI(t, append([]string{"-s", url}, args...)...)
		if r.Code != wantCode {
			t.Fatalf("jetmq %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.Code, wantCode, r.Stdout, r.Stderr)
		}
		return r.Stdout + r.Stderr
	}
	out := run(0, "topic", "add", "orders", "--partitions", "4", "--max-age", "2h")
	if !strings.Contains(out, "Topic orders: 4 partitions") {
		t.Fatalf("add printed:\n%s", out)
	}
	nc := testutil.Connect(t, url)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := nc.Publish("orders."+k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Messages          uint64 `json:"messages"`
		PartitionMessages []struct {
			Messages uint64 `json:"messages"`
		} `json:"partition_messages"`
	}
	testutil.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if err := json.Unmarshal([]byte(run(0, "topic", "info", "orders", "--json")), &st); err != nil {
			return err
		}
		if st.Messages != 5 {
			return fmt.Errorf("info shows %d messages, want 5", st.Messages)
		}
		return nil
	})
	if len(st.PartitionMessages) != 4 {
		t.Fatalf("info shows %d partitions", len(st.PartitionMessages))
	}
	if out := run(0, "topic", "info", "orders"); !strings.Contains(out, "orders.3.>") {
		t.Fatalf("info table lacks the partition filters:\n%s", out)
	}
	if out := run(0, "topic", "ls"); !strings.Contains(out, "orders") || !strings.Contains(out, "PARTITIONS") {
		t.Fatalf("ls printed:\n%s", out)
	}
	run(0, "topic", "update", "orders", "--partitions", "8")
	if out := run(1, "topic", "update", "orders", "--partitions", "2"); !strings.Contains(out, "lowering partitions") {
		t.Fatalf("lowering printed:\n%s", out)
	}
	if out := run(1, "topic", "info", "nope"); !strings.Contains(out, `topic "nope" not found`) {
		t.Fatalf("unknown topic printed:\n%s", out)
	}
	if out := run(1, "topic", "add", "bad.name"); !strings.Contains(out, "invalid topic name") && !strings.Contains(out, "400") {
		t.Fatalf("bad name printed:\n%s", out)
	}
	run(0, "topic", "rm", "orders")
	var list struct {
		Topics []any `json:"topics"`
	}
	if err := json.Unmarshal([]byte(run(0, "topic", "ls", "--json")), &list); err != nil || len(list.Topics) != 0 {
		t.Fatalf("ls after rm: %v %v", list, err)
	}
}
