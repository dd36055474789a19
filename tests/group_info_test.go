package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// withMaxPayload gives the node a native config file setting max_payload.
func withMaxPayload(t *testing.T, n int) func(*server.Config) {
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("max_payload: %d\n", n)), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *server.Config) { c.NATS.ConfigFile = path }
}

// joinMembers joins n clustering members m000… with raw JOIN requests.
func joinMembers(t *testing.T, nc *nats.Conn, topic, group string, n int) {
	t.Helper()
	for i := range n {
		var jr semantics.JoinReply
		if err := apiRequest(t, nc, semantics.GroupJoinPrefix+topic+"."+group, semantics.JoinRequest{Member: fmt.Sprintf("m%03d", i)}, &jr); err != nil {
			t.Fatal(err)
		}
	}
}

func infoPage(t *testing.T, nc *nats.Conn, topic, group string, body any) (semantics.GroupStatus, error) {
	t.Helper()
	var st semantics.GroupStatus
	err := apiRequest(t, nc, semantics.GroupAPIPrefix+"INFO."+topic+"."+group, body, &st)
	return st, err
}

// Heartbeats of 20,000 made-up ids leave no trace; GROUP.INFO of a group
// with more members than fit max_payload answers a page (the default page
// shrinks to fit, offset/limit walk the rest), and a page asked for that
// cannot fit is a 413 error, never silence.
func TestGroupInfoPagedAndHeartbeatsOnlyForJoined(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withMaxPayload(t, 32*1024), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "workers", Topic: "orders"}))
	nc := testutil.Connect(t, s.ClientURL())
	const members = 300
	joinMembers(t, nc, "orders", "workers", members)
	for i := range 20000 {
		if err := nc.Publish(fmt.Sprintf("%sorders.workers.fake%05d", semantics.GroupHeartbeatPrefix, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish(semantics.GroupHeartbeatPrefix+"orders.nogroup.fake", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	first, err := infoPage(t, nc, "orders", "workers", nil)
	if err != nil {
		t.Fatalf("default page: %v", err)
	}
	if first.MembersTotal != members || first.MembersOffset != 0 || len(first.Members) == 0 || len(first.Members) >= members {
		t.Fatalf("default page: total %d offset %d, %d members; want total %d and a first page that fits 32 KiB", first.MembersTotal, first.MembersOffset, len(first.Members), members)
	}
	seen := map[string]bool{}
	for off := 0; off < members; {
		st, err := infoPage(t, nc, "orders", "workers", semantics.GroupInfoRequest{Offset: off, Limit: 100})
		if err != nil {
			t.Fatalf("page at %d: %v", off, err)
		}
		if st.MembersTotal != members || st.MembersOffset != off || len(st.Members) == 0 {
			t.Fatalf("page at %d: total %d offset %d, %d members", off, st.MembersTotal, st.MembersOffset, len(st.Members))
		}
		for _, m := range st.Members {
			if strings.HasPrefix(m.Member, "fake") || seen[m.Member] {
				t.Fatalf("page at %d lists %q (fake or twice)", off, m.Member)
			}
			seen[m.Member] = true
		}
		off += len(st.Members)
	}
	if len(seen) != members {
		t.Fatalf("pages list %d members, want %d", len(seen), members)
	}
	if _, err := infoPage(t, nc, "orders", "workers", semantics.GroupInfoRequest{Limit: members}); !isAPIError(err, 413) {
		t.Fatalf("page of %d members over 32 KiB: %v, want 413", members, err)
	}
	if _, err := infoPage(t, nc, "orders", "workers", map[string]int{"limt": 5}); !isAPIError(err, 400) || !strings.Contains(err.Error(), "limt") {
		t.Fatalf("unknown key: %v, want 400 naming it", err)
	}
	var list semantics.GroupList
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LIST.orders", nil, &list); err != nil || len(list.Groups) != 1 ||
		list.Groups[0].MembersTotal != members || len(list.Groups[0].Members) != semantics.ListMemberPage {
		t.Fatalf("LIST: %v %+v, want workers with its first %d of %d members", err, list.Groups, semantics.ListMemberPage, members)
	}
	// A reply that still cannot fit is an error reply, never silence.
	for i := range 12 {
		group := fmt.Sprintf("g%02d", i)
		if err := rawRequest(t, nc, semantics.GroupAPIPrefix+"CREATE.orders."+group, "{}"); err != nil {
			t.Fatal(err)
		}
		joinMembers(t, nc, "orders", group, semantics.ListMemberPage)
	}
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LIST.orders", nil, &list); !isAPIError(err, 413) {
		t.Fatalf("LIST over 32 KiB: %v, want 413", err)
	}
	r := testutil.RunCLI(t, "-s", s.ClientURL(), "group", "info", "orders", "workers", "--offset", "290", "--limit", "20")
	if r.Code != 0 || !strings.Contains(r.Stdout, "of 300 (showing 10 from offset 290") || !strings.Contains(r.Stdout, "m299") {
		t.Fatalf("jetmq group info --offset 290: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// One malformed entry in the registry bucket is skipped (and logged) by
// GROUP.LIST instead of failing it for every topic; INFO of that entry
// says what is wrong (500) and DELETE removes it. A wildcard where the
// topic goes is a 400.
func TestGroupListSkipsMalformedEntry(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "workers", Topic: "orders"}), unguarded)
	nc := testutil.Connect(t, s.ClientURL())
	kv, err := testutil.JetStream(t, nc).KeyValue(context.Background(), "jetmq_groups")
	if err != nil {
		t.Fatal(err)
	}
	for key, val := range map[string]string{"orders.broken": "{", "orders.wrong": `{"name":"other","topic":"orders"}`} {
		if _, err := kv.Put(context.Background(), key, []byte(val)); err != nil {
			t.Fatal(err)
		}
	}
	for _, subj := range []string{"LIST", "LIST.orders"} {
		var list semantics.GroupList
		if err := apiRequest(t, nc, semantics.GroupAPIPrefix+subj, nil, &list); err != nil {
			t.Fatalf("%s with a malformed entry: %v", subj, err)
		}
		if len(list.Groups) != 1 || list.Groups[0].Config.Name != "workers" {
			t.Fatalf("%s lists %+v, want only workers", subj, list.Groups)
		}
	}
	if _, err := infoPage(t, nc, "orders", "broken", nil); !isAPIError(err, 500) || !strings.Contains(err.Error(), "orders.broken") {
		t.Fatalf("info of the malformed entry: %v, want 500 naming it", err)
	}
	var del semantics.DeleteReply
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"DELETE.orders.broken", nil, &del); err != nil || !del.Deleted {
		t.Fatalf("delete malformed entry: %+v %v", del, err)
	}
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LIST.*", nil, &semantics.GroupList{}); !isAPIError(err, 400) {
		t.Fatalf("LIST.*: %v, want 400", err)
	}
}

// A node that restarts still counts the members that joined before: their
// heartbeats are checked against the member registry, not only against
// what this process saw join.
func TestGroupMembersKnownAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *server.Config) {
		c.Topics = []semantics.TopicConfig{{Name: "orders", Partitions: 2}}
		c.Groups = []semantics.GroupConfig{{Name: "workers", Topic: "orders"}}
	}
	s := startGroupServer(t, dir, cfg, unguarded)
	joinMembers(t, testutil.Connect(t, s.ClientURL()), "orders", "workers", 1)
	testutil.Shutdown(t, s)
	s = startGroupServer(t, dir, cfg, unguarded)
	nc := testutil.Connect(t, s.ClientURL())
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		for _, id := range []string{"m000", "never-joined"} {
			if err := nc.Publish(semantics.GroupHeartbeatPrefix+"orders.workers."+id, nil); err != nil {
				return err
			}
		}
		st, err := infoPage(t, nc, "orders", "workers", nil)
		if err != nil {
			return err
		}
		if len(st.Members) != 1 || st.Members[0].Member != "m000" || !st.Members[0].Live {
			return fmt.Errorf("members after restart %+v, want m000 live", st.Members)
		}
		return nil
	})
	// Deleting the group removes its member records with it.
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"DELETE.orders.workers", nil, nil); err != nil {
		t.Fatal(err)
	}
	mkv, err := testutil.JetStream(t, nc).KeyValue(context.Background(), "jetmq_members")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mkv.Get(context.Background(), "orders.workers.m000"); err == nil {
		t.Fatal("member record of a deleted group remains")
	}
}
