package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
)

func TestDecodeGroupConfigIsStrict(t *testing.T) {
	for _, c := range []struct {
		body, err string
	}{
		{`{"mode":"broadcasting","retry_backoff":["1s","2s"]}`, ""},
		{`{"mdoe":"broadcasting"}`, `unknown key "mdoe"`},
		{`{"max_reconsume":"5"}`, "max_reconsume"},
		{`{"retry_backoff":["5"]}`, "retry_backoff[0]"},
		{`{"member_ttl":"1 minute"}`, "member_ttl"},
		{`{"mode":"clustering"} {}`, "one object"},
	} {
		g, err := core.DecodeGroupConfig([]byte(c.body))
		if c.err == "" {
			if err != nil || g.Mode != core.ModeBroadcasting || len(g.RetryBackoff) != 2 || g.RetryBackoff[1] != 2*time.Second {
				t.Fatalf("%s: %+v %v", c.body, g, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Fatalf("%s: error %v, want one naming %q", c.body, err, c.err)
		}
	}
}

func TestDecodeJoinRequestIsStrict(t *testing.T) {
	req, err := DecodeJoinRequest([]byte(`{"member":"m1","protocols":["ordered"],"create":{"ordered":true}}`))
	if err != nil || req.Member != "m1" || req.Create == nil || !req.Create.Ordered || !req.Speaks(ProtocolOrdered) {
		t.Fatalf("join request %+v %v", req, err)
	}
	if req, err := DecodeJoinRequest(nil); err != nil || req.Create != nil {
		t.Fatalf("empty join %+v %v", req, err)
	}
	for body, key := range map[string]string{
		`{"memebr":"m1"}`:                  `"memebr"`,
		`{"create":{"partitions":4}}`:      `create: unknown key "partitions"`,
		`{"create":{"max_reconsume":"x"}}`: "create: max_reconsume",
	} {
		if _, err := DecodeJoinRequest([]byte(body)); err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("%s: error %v, want one naming %s", body, err, key)
		}
	}
}

// FuzzGroupRequests feeds the group API's body parsers (group config,
// JOIN) and the topic API's strict decoder: they refuse or accept, never
// panic, and what they accept encodes back.
func FuzzGroupRequests(f *testing.F) {
	for _, s := range []string{`{"mode":"broadcasting"}`, `{"member":"a","create":{"ordered":true,"tags":["x"]}}`,
		`{"retry_backoff":["1s"]}`, `{"partitions":4,"max_age":"1h"}`, `[]`, `null`, `{"create":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, err := core.DecodeGroupConfig(b); err == nil {
			if _, err := g.MarshalJSON(); err != nil {
				t.Fatalf("accepted config does not encode: %v", err)
			}
		}
		_, _ = DecodeJoinRequest(b)
		var tr core.TopicRequest
		_ = core.DecodeStrict(b, &tr)
	})
}
