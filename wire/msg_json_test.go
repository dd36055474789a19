package wire

import (
	"strings"
	"testing"
)

// TestParseInspectionBodies: the bodies of MSG.GET, MSG.LIST, DELAY.LIST
// and DELAY.CANCEL, good and bad; a bad one names what is wrong.
func TestParseInspectionBodies(t *testing.T) {
	parse := map[string]func([]byte) error{
		"get":    func(b []byte) error { _, err := ParseMsgGetRequest(b); return err },
		"list":   func(b []byte) error { _, err := ParseMsgListRequest(b); return err },
		"delay":  func(b []byte) error { _, err := ParseDelayListRequest(b); return err },
		"cancel": func(b []byte) error { _, err := ParseDelayCancelRequest(b); return err },
	}
	for _, c := range []struct {
		kind, body, bad string
	}{
		{"get", `{"seq":7}`, ""},
		{"get", ``, "seq"},
		{"get", `{"seq":0}`, "seq"},
		{"get", `{"seq":-1}`, "seq: a JSON number"},
		{"get", `{"seq":1,"key":"k"}`, `unknown key "key"`},
		{"list", `{"key":"alice"}`, ""},
		{"list", `{"key":"_","limit":1000,"next":12}`, ""},
		{"list", `{"start_seq":5,"limit":1}`, ""},
		{"list", `{"start_time":"2026-01-02T15:04:05Z","end_time":"2026-01-02T16:00:00.5Z"}`, ""},
		{"list", `{}`, "exactly one of key, start_seq and start_time"},
		{"list", `{"key":"a","start_time":"2026-01-02T15:04:05Z"}`, "exactly one"},
		{"list", `{"key":"a.b"}`, "key"},
		{"list", `{"key":"a","limit":0}`, "limit: 0 is out of range"},
		{"list", `{"key":"a","limit":1001}`, "limit: 1001 is out of range"},
		{"list", `{"start_seq":1,"end_time":"2026-01-02T15:04:05Z"}`, "end_time: only with start_time"},
		{"list", `{"start_time":"2026-01-02T15:04:05Z","end_time":"2026-01-01T00:00:00Z"}`, "not before it"},
		{"list", `{"start_time":"noon"}`, `start_time: "noon" is not an RFC 3339 time`},
		{"list", `{"end_time":5}`, "end_time: a JSON number where a string is wanted"},
		{"list", `{"partition":1,"key":"a"}`, `unknown key "partition"`},
		{"delay", ``, ""},
		{"delay", `{"from":3,"limit":10}`, ""},
		{"delay", `{"limit":-1}`, "limit: -1 is out of range"},
		{"delay", `{"id":"x"}`, `unknown key "id"`},
		{"cancel", `{"id":"iVDTFGa1lgPcaiQqA6w6Ev"}`, ""},
		{"cancel", `{}`, "id"},
		{"cancel", `{"id":"a*"}`, `id: "a*" is not a delayed message id`},
		{"cancel", `{"id":"x"} {}`, "unexpected data after the JSON value"},
	} {
		err := parse[c.kind]([]byte(c.body))
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s %s: %v", c.kind, c.body, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%s %s: %v, want an error with %q", c.kind, c.body, err, c.bad)
		}
	}
}
