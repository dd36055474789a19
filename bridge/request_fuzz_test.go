package bridge

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// fuzzSecret signs the member tokens of FuzzAdminBodiesAndMemberRequests.
var fuzzSecret = []byte("0123456789abcdef0123456789abcdef")

// adminBodies are the admin request bodies decoded with decodeRequest,
// one fresh value per call.
var adminBodies = map[string]func() any{
	"DLQ.LIST":    func() any { return &wire.DLQListRequest{} },
	"DLQ.SHOW":    func() any { return &wire.DLQShowRequest{} },
	"DLQ.REPLAY":  func() any { return &wire.DLQReplayRequest{} },
	"DLQ.EXPORT":  func() any { return &wire.DLQExportRequest{} },
	"GROUP.RESET": func() any { return &wire.ResetRequest{} },
	"MSG.RESEND":  func() any { return &wire.MsgResendRequest{} },
	"SUMMARY":     func() any { return &wire.SummaryRequest{} },
	"TXN.LIST":    func() any { return &wire.TxnListRequest{} },
}

// FuzzAdminBodiesAndMemberRequests feeds the admin API's body decoders
// (DLQ, GROUP.INFO and RESET, MSG, SUMMARY, TXN.LIST, DELAY.LIST/CANCEL)
// and an ordered coordinator's decoding and authorization of heartbeats,
// releases and leaves: nothing panics, a refusal is a 400 (403 for a
// member request without a valid token), and what is accepted encodes
// back to a body that is accepted again.
func FuzzAdminBodiesAndMemberRequests(f *testing.F) {
	svc := &orderedGroups{secret: fuzzSecret}
	token := svc.mintToken("T", "G", "m1")
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"seq":3}`, `{"seqs":[1,2],"limit":10}`, `{"offset":1,"limit":2}`,
		`{"start_seq":5}`, `{"member":"m1","time":"2024-01-01T00:00:00Z"}`, `{"subject":"T.0.k","last":true}`,
		`{"topics":["a"],"limit":5}`, `{"state":"open","offset":0}`, `{"partition":1,"epoch":2,"next_seq":3,"refence":true}`,
		`{"token":"` + token + `"}`, `{"token":"` + token + `","suspended":[1],"leaving":true}`,
		`{"token":"` + token + `","partition":0,"epoch":1}`, `{"token":"00.forged"}`, `{"extra":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for what, fresh := range adminBodies {
			req := fresh()
			if err := decodeRequest(what, b, req); err != nil {
				wantAPICode(t, what, err, wire.CodeBadRequest)
				continue
			}
			again, err := json.Marshal(req)
			if err != nil {
				t.Fatalf("%s: accepted %q does not encode: %v", what, b, err)
			}
			if err := decodeRequest(what, again, fresh()); err != nil {
				t.Fatalf("%s: accepted %q, re-encoded %s refused: %v", what, b, again, err)
			}
		}
		if req, err := decodeInfoRequest(b); err != nil {
			wantAPICode(t, "GROUP.INFO", err, wire.CodeBadRequest)
		} else if again, _ := json.Marshal(req); !decodesAgain(decodeInfoRequest, again) {
			t.Fatalf("GROUP.INFO: accepted %q, re-encoded %s refused", b, again)
		}
		for what, parse := range map[string]func([]byte) (any, error){
			"MSG.GET":      func(b []byte) (any, error) { return wire.ParseMsgGetRequest(b) },
			"MSG.LIST":     func(b []byte) (any, error) { return wire.ParseMsgListRequest(b) },
			"DELAY.LIST":   func(b []byte) (any, error) { return wire.ParseDelayListRequest(b) },
			"DELAY.CANCEL": func(b []byte) (any, error) { return wire.ParseDelayCancelRequest(b) },
		} {
			req, err := parse(b)
			if err != nil {
				continue
			}
			again, err := json.Marshal(req)
			if err != nil {
				t.Fatalf("%s: accepted %q does not encode: %v", what, b, err)
			}
			if _, err := parse(again); err != nil {
				t.Fatalf("%s: accepted %q, re-encoded %s refused: %v", what, b, again, err)
			}
		}
		for _, kind := range []string{"hb", "release", "leave"} {
			ev := coordEvent{kind: kind, member: "m1", msg: &nats.Msg{Data: b}}
			if ev.decode() != nil {
				continue // answered 400 before it reaches the coordinator
			}
			c := &coordinator{svc: svc, g: core.GroupConfig{Topic: "T", Name: "G"}, tokens: map[string]string{},
				own: core.NewOwnership(&core.OrderedState{}, 2, time.Second, time.Now())}
			aerr := c.authorize(ev)
			if valid := svc.validToken("T", "G", "m1", ev.token); valid != (aerr == nil) {
				t.Fatalf("%s %q: token valid %v, authorize %v", kind, b, valid, aerr)
			}
			if aerr != nil && aerr.Code != wire.CodeForbidden {
				t.Fatalf("%s %q: refused with %d, want 403", kind, b, aerr.Code)
			}
			// a token of m1's never speaks for m2
			ev.member = "m2"
			if aerr := c.authorize(ev); aerr == nil || aerr.Code != wire.CodeForbidden {
				t.Fatalf("%s %q as m2: authorize %v, want 403", kind, b, aerr)
			}
		}
	})
}

func decodesAgain[T any](decode func([]byte) (T, error), b []byte) bool {
	_, err := decode(b)
	return err == nil
}

func wantAPICode(t *testing.T, what string, err error, code int) {
	t.Helper()
	var ae *wire.APIError
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("%s: refused with %v, want code %d", what, err, code)
	}
}
