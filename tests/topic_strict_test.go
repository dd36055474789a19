package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rawAPI sends body as it is (no JSON encoding) and decodes the reply.
func rawAPI(t *testing.T, nc *nats.Conn, subject, body string, out any) error {
	t.Helper()
	resp, err := nc.Request(subject, []byte(body), 10*time.Second)
	if err != nil {
		t.Fatalf("request %s %s: %v", subject, body, err)
	}
	return semantics.DecodeReply(resp.Data, out)
}

// TestTopicAPIBodiesAreStrict: an unknown key is a 400 naming it (a typo
// must not silently create 8 partitions forever), an explicit zero is not
// "the default", and max_age under JetStream's 100 ms minimum is the
// client's mistake.
func TestTopicAPIBodiesAreStrict(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	for _, tc := range []struct{ body, names string }{
		{`{"partition":4}`, "partition"},
		{`{"partitions":4,"force":true,"colour":"red"}`, "colour"},
		{`{"partitions":0}`, "partitions"},
		{`{"replicas":0}`, "replicas"},
		{`{"partitions":"4"}`, "partitions"},
		{`{"max_age":"50ms"}`, "max_age"},
		{`{"max_age":"0s"}`, "max_age"},
		{`{"max_delay":"0s"}`, "max_delay"},
		{`{"max_bytes":-1}`, "max_bytes"},
		{`{"partitions":4} {"partitions":5}`, "after"},
	} {
		err := rawAPI(t, nc, "$MQ.API.TOPIC.CREATE.strict", tc.body, nil)
		wantCodeNaming(t, "CREATE "+tc.body, err, 400, tc.names)
	}
	// Settings this server cannot meet are the client's mistake too.
	err := rawAPI(t, nc, "$MQ.API.TOPIC.CREATE.strict", `{"replicas":3}`, nil)
	wantCodeNaming(t, "CREATE with replicas 3 on one server", err, 400, "replicas")
	err = rawAPI(t, nc, "$MQ.API.TOPIC.CREATE.strict", `{"max_bytes":99999999999999}`, nil)
	wantCodeNaming(t, "CREATE with more bytes than the server has", err, 400, "storage")
	if err := rawAPI(t, nc, "$MQ.API.TOPIC.INFO.strict", "", nil); !errors.Is(err, semantics.ErrNotFound) {
		t.Fatalf("a refused CREATE made the topic: %v", err)
	}
	js := testutil.JetStream(t, nc)
	if _, err := js.Stream(context.Background(), wire.InternalStream("strict")); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("a refused CREATE left its internal stream: %v", err)
	}
	if err := rawAPI(t, nc, "$MQ.API.TOPIC.CREATE.strict", `{"storage":"memory"}`, nil); err != nil {
		t.Fatalf("CREATE after refused ones: %v", err)
	}
	err = rawAPI(t, nc, "$MQ.API.TOPIC.UPDATE.orders", `{"partitons":8}`, nil)
	wantCodeNaming(t, "UPDATE with a typo", err, 400, "partitons")
	err = rawAPI(t, nc, semantics.TxnAPIPrefix+"LIST.orders", `{"parkd":true}`, nil)
	wantCodeNaming(t, "TXN.LIST with a typo", err, 400, "parkd")
}

// TestTopicMaxBytesCanBeRemoved: max_bytes 0 means no limit, on UPDATE
// too, and the topic status always shows it.
func TestTopicMaxBytesCanBeRemoved(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	maxBytes := func() (any, int64) {
		t.Helper()
		var st map[string]any
		if err := rawAPI(t, nc, "$MQ.API.TOPIC.INFO.orders", "", &st); err != nil {
			t.Fatal(err)
		}
		si, err := js.Stream(context.Background(), "orders")
		if err != nil {
			t.Fatal(err)
		}
		return st["config"].(map[string]any)["max_bytes"], si.CachedInfo().Config.MaxBytes
	}
	if got, stream := maxBytes(); got != float64(0) || stream != -1 {
		t.Fatalf("unlimited topic: status max_bytes %v, stream %d", got, stream)
	}
	if err := rawAPI(t, nc, "$MQ.API.TOPIC.UPDATE.orders", `{"max_bytes":1000000}`, nil); err != nil {
		t.Fatal(err)
	}
	if got, stream := maxBytes(); got != float64(1000000) || stream != 1000000 {
		t.Fatalf("limited topic: status max_bytes %v, stream %d", got, stream)
	}
	if err := rawAPI(t, nc, "$MQ.API.TOPIC.UPDATE.orders", `{"max_bytes":0}`, nil); err != nil {
		t.Fatal(err)
	}
	if got, stream := maxBytes(); got != float64(0) || stream != -1 {
		t.Fatalf("limit removed: status max_bytes %v, stream %d", got, stream)
	}
}

// TestTopicTamperedMetadataRefused: a topic stream whose jetmq metadata was
// changed through the JetStream API to a value CREATE would refuse is not
// served, and TOPIC.INFO answers with an error naming the metadata.
func TestTopicTamperedMetadataRefused(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	setMeta := func(key, value string) {
		t.Helper()
		si, err := js.Stream(ctx, txnTopic)
		if err != nil {
			t.Fatal(err)
		}
		sc := si.CachedInfo().Config
		sc.Metadata[key] = value
		if _, err := js.UpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	delayOK := func() error {
		_, err := delayReply(t, nc, "$MQ.DELAY.orders.k", nats.Header{semantics.HeaderDelay: {"1h"}}, nil)
		return err
	}
	for _, tc := range []struct{ key, value string }{
		{semantics.MetaPartitions, "100000"},
		{semantics.MetaPartitions, "0"},
		{semantics.MetaPartitions, "-1"},
		{semantics.MetaPartitions, "abc"},
		{semantics.MetaMaxDelay, "soon"},
	} {
		orig := map[string]string{semantics.MetaPartitions: "4", semantics.MetaMaxDelay: semantics.DefaultMaxDelay.String()}[tc.key]
		setMeta(tc.key, tc.value)
		err := rawAPI(t, nc, "$MQ.API.TOPIC.INFO.orders", "", nil)
		wantCodeNaming(t, fmt.Sprintf("INFO with %s=%q", tc.key, tc.value), err, 409, tc.key)
		if !strings.Contains(err.Error(), tc.value) {
			t.Fatalf("INFO error %q does not quote the bad value %q", err, tc.value)
		}
		testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
			if err := delayOK(); !errors.Is(err, semantics.ErrNotFound) {
				return fmt.Errorf("delay on a topic with %s=%q: %v, want 404 (not served)", tc.key, tc.value, err)
			}
			return nil
		})
		setMeta(tc.key, orig)
		testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, delayOK)
	}
	var list struct {
		Topics []struct{} `json:"topics"`
	}
	setMeta(semantics.MetaPartitions, "100000")
	if err := rawAPI(t, nc, "$MQ.API.TOPIC.LIST", "", &list); err != nil || len(list.Topics) != 0 {
		t.Fatalf("LIST with a tampered topic: %v %+v, want it left out", err, list)
	}
	err := rawAPI(t, nc, "$MQ.API.TOPIC.UPDATE.orders", `{"partitions":8}`, nil)
	wantCodeNaming(t, "UPDATE of a tampered topic", err, 409, semantics.MetaPartitions)
}
