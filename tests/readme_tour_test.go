package tests

import (
	"strings"
	"testing"

	"github.com/jetmq/jetmq/internal/testutil"
)

// TestReadmeTourTopicsAndGroups runs the README's topic and group tour as a
// newcomer types it, with the jetmq binary and the nats CLI against a
// fresh server: the group added after the publishes gets them with
// --start all, and a plain `nats consumer next` is its member.
func TestReadmeTourTopicsAndGroups(t *testing.T) {
	bin := natsCLI(t)
	s := testutil.StartServer(t)
	url := s.ClientURL()
	jetmq := func(args ...string) string {
		t.Helper()
		r := testutil.RunCLI(t, append(args, "-s", url)...)
		if r.Code != 0 {
			t.Fatalf("jetmq %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	jetmq("topic", "add", "orders", "--partitions", "4")
	runNats(t, bin, url, "pub", "orders.alice", "created")
	runNats(t, bin, url, "pub", "orders.alice.vip", "upgraded")
	if out := jetmq("topic", "info", "orders"); !strings.Contains(out, "Messages 2") {
		t.Fatalf("topic info after two publishes:\n%s", out)
	}
	jetmq("group", "add", "orders", "email", "--start", "all")
	out := runNats(t, bin, url, "consumer", "next", "orders", "email", "--count", "2")
	if !strings.Contains(out, "created") || !strings.Contains(out, "upgraded") {
		t.Fatalf("nats consumer next orders email:\n%s", out)
	}
	if out := jetmq("group", "info", "orders", "email"); !strings.Contains(out, "email") {
		t.Fatalf("group info:\n%s", out)
	}
}
