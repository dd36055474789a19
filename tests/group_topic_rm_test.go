package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// Deleting a topic forgets its groups: after TOPIC.DELETE (what `jetmq
// topic rm` sends) or a plain JetStream stream delete, GROUP.LIST lists
// none of them, the registry and member records are gone, and a topic
// made again with the same name starts without groups; other topics'
// groups stay.
func TestGroupTopicDeleteForgetsGroups(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "keep", Partitions: 1}),
		withGroups(semantics.GroupConfig{Name: "stays", Topic: "keep"}), unguarded)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	kv, err := js.KeyValue(context.Background(), "jetmq_groups")
	if err != nil {
		t.Fatal(err)
	}
	for _, viaTopicAPI := range []bool{true, false} {
		for _, cmd := range []struct{ subj, body string }{
			{semantics.APIPrefix + "TOPIC.CREATE.gone", `{"partitions":2}`},
			{semantics.GroupAPIPrefix + "CREATE.gone.email", `{}`},
			{semantics.GroupAPIPrefix + "CREATE.gone.cache", `{"mode":"broadcasting"}`},
			{semantics.GroupJoinPrefix + "gone.cache", `{"member":"c1"}`},
		} {
			if err := rawRequest(t, nc, cmd.subj, cmd.body); err != nil {
				t.Fatalf("%s: %v", cmd.subj, err)
			}
		}
		// The first member to join creates the member registry.
		mkv, err := js.KeyValue(context.Background(), "jetmq_members")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mkv.Get(context.Background(), "gone.cache.c1"); err != nil {
			t.Fatalf("member record of c1 before the topic is deleted: %v", err)
		}
		if viaTopicAPI {
			if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.DELETE.gone", nil, nil); err != nil {
				t.Fatal(err)
			}
		} else if err := js.DeleteStream(context.Background(), "gone"); err != nil {
			t.Fatal(err)
		}
		testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			var list semantics.GroupList
			if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LIST", nil, &list); err != nil {
				return err
			}
			if len(list.Groups) != 1 || list.Groups[0].Config.Topic != "keep" {
				return fmt.Errorf("topic API %v: groups listed %+v, want only keep/stays", viaTopicAPI, list.Groups)
			}
			for _, key := range []string{"gone.email", "gone.cache"} {
				if _, err := kv.Get(context.Background(), key); err == nil {
					return fmt.Errorf("registry still has %s", key)
				}
			}
			if _, err := mkv.Get(context.Background(), "gone.cache.c1"); err == nil {
				return fmt.Errorf("member record of a deleted topic's group remains")
			}
			return nil
		})
	}
	// A group whose topic went while no node heard the advisory (written
	// here by hand) is dropped by the next LIST, and its entry with it.
	if _, err := kv.Put(context.Background(), "ghost.g", []byte(`{"name":"g","topic":"ghost"}`)); err != nil {
		t.Fatal(err)
	}
	var list semantics.GroupList
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"LIST", nil, &list); err != nil || len(list.Groups) != 1 {
		t.Fatalf("LIST with a group of a missing topic: %+v %v, want only keep/stays", list.Groups, err)
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, err := kv.Get(context.Background(), "ghost.g"); err == nil {
			return fmt.Errorf("registry still has ghost.g")
		}
		return nil
	})
}

// rawRequest sends body as is and decodes only the error, if any.
func rawRequest(t *testing.T, nc *nats.Conn, subj, body string) error {
	t.Helper()
	resp, err := nc.Request(subj, []byte(body), 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subj, err)
	}
	return semantics.DecodeReply(resp.Data, nil)
}
