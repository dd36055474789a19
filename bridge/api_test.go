package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNamedErrorConstructors(t *testing.T) {
	cases := []struct {
		name string
		err  *wire.APIError
		code int
		desc string
	}{
		{"bad request", errBadRequest("x %d", 1), wire.CodeBadRequest, "x 1"},
		{"forbidden", errForbidden("x"), wire.CodeForbidden, "x"},
		{"not found", errNotFound("x"), wire.CodeNotFound, "x"},
		{"conflict", errConflict("x"), wire.CodeConflict, "x"},
		{"too large", errTooLarge("x"), wire.CodeTooLarge, "x"},
		{"internal", errInternal("x"), wire.CodeInternal, "x"},
		{"not implemented", errNotImplemented("x"), wire.CodeNotImplemented, "x"},
		{"unavailable", errUnavailable("x"), wire.CodeUnavailable, "x"},
		{"topic not found", errTopicNotFound("T"), wire.CodeNotFound, `topic "T" not found`},
		{"group not found", errGroupNotFound("T", "g"), wire.CodeNotFound, `group "g" of topic "T" not found`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Code != tc.code || tc.err.Description != tc.desc {
				t.Fatalf("want %d %q, got %d %q", tc.code, tc.desc, tc.err.Code, tc.err.Description)
			}
		})
	}
}

func jsErr(code int, errCode jetstream.ErrorCode) *jetstream.APIError {
	return &jetstream.APIError{Code: code, ErrorCode: errCode, Description: "js says no"}
}

func TestRetryable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", context.DeadlineExceeded, true},
		{"wrapped deadline", fmt.Errorf("create: %w", context.DeadlineExceeded), true},
		{"nats timeout", nats.ErrTimeout, true},
		{"no responders", nats.ErrNoResponders, true},
		{"jetstream not enabled", jetstream.ErrJetStreamNotEnabled, true},
		{"nats jetstream not enabled", nats.ErrJetStreamNotEnabled, true},
		{"jetstream 503", jsErr(503, 10008), true},
		{"insufficient resources", jsErr(400, errCodeInsufficientResources), true},
		{"no suitable peers", jsErr(400, errCodeNoSuitablePeers), true},
		{"jetstream 400", jsErr(400, errCodeSubjectOverlap), false},
		{"jetstream 404", jsErr(404, 10059), false},
		{"api 503", errUnavailable("x"), true},
		{"api 500", errInternal("x"), false},
		{"api 501", errNotImplemented("x"), false},
		{"api 409", errConflict("x"), false},
		{"api 400", errBadRequest("x"), false},
		{"plain error", errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.err); got != tc.want {
				t.Fatalf("retryable(%v): want %v, got %v", tc.err, tc.want, got)
			}
		})
	}
}

func TestStreamAdminError(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
		say  string
	}{
		{"subject overlap", jsErr(400, errCodeSubjectOverlap), wire.CodeConflict, "another stream captures the topic's subjects"},
		{"replicas without a cluster", jsErr(500, errCodeReplicasNotSupported), wire.CodeBadRequest, "js says no"},
		{"storage exceeded", jsErr(500, errCodeStorageResourcesExceeded), wire.CodeBadRequest, "js says no"},
		{"memory exceeded", jsErr(500, errCodeMemoryResourcesExceeded), wire.CodeBadRequest, "js says no"},
		{"any jetstream 400", jsErr(400, 10052), wire.CodeBadRequest, "js says no"},
		{"no peers yet", jsErr(500, errCodeNoSuitablePeers), wire.CodeUnavailable, "js says no"},
		{"jetstream 503", jsErr(503, 10008), wire.CodeUnavailable, "js says no"},
		{"timeout", context.DeadlineExceeded, wire.CodeUnavailable, "deadline"},
		{"other", errors.New("disk on fire"), wire.CodeInternal, "disk on fire"},
		{"jetstream 404", jsErr(404, 10059), wire.CodeInternal, "js says no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := streamAdminError("create stream T", tc.err)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), "create stream T: ") || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("want the error to name what failed and say %q, got %q", tc.say, err)
			}
		})
	}
}

func TestStoreError(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"own error keeps its code", errConflict("ended"), wire.CodeConflict},
		{"wrapped own error", fmt.Errorf("x: %w", errNotFound("gone")), wire.CodeNotFound},
		{"max payload", nats.ErrMaxPayload, wire.CodeTooLarge},
		{"stream message too large", jsErr(400, jetstream.JSErrCodeStreamMessageExceedsMaximum), wire.CodeTooLarge},
		{"maximum payload in text", errors.New("nats: maximum payload exceeded"), wire.CodeTooLarge},
		{"deadline", context.DeadlineExceeded, wire.CodeUnavailable},
		{"timeout", nats.ErrTimeout, wire.CodeUnavailable},
		{"no responders", nats.ErrNoResponders, wire.CodeUnavailable},
		{"jetstream 503", jsErr(503, 10008), wire.CodeUnavailable},
		{"jetstream 500", jsErr(500, 10049), wire.CodeInternal},
		{"other", errors.New("boom"), wire.CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := storeError("store it", tc.err)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), "store it: ") {
				t.Fatalf("want the error to name what failed, got %q", err)
			}
		})
	}
}

func TestRegistryErr(t *testing.T) {
	wantCode(t, registryErr(fmt.Errorf("key T.g: %w", errMalformedEntry)), wire.CodeInternal)
	wantCode(t, registryErr(context.DeadlineExceeded), wire.CodeUnavailable)
}

func TestIsWrongLast(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"wrong last sequence", jsErr(400, jetstream.JSErrCodeStreamWrongLastSequence), true},
		{"its constant variant", jsErr(400, jetstream.JSErrCodeStreamWrongLastSequenceConstant), true},
		{"wrapped", fmt.Errorf("guard: %w", jsErr(400, jetstream.JSErrCodeStreamWrongLastSequence)), true},
		{"other jetstream error", jsErr(400, errCodeSubjectOverlap), false},
		{"nil", nil, false},
		{"plain", errors.New("wrong last sequence"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isWrongLast(tc.err); got != tc.want {
				t.Fatalf("isWrongLast(%v): want %v, got %v", tc.err, tc.want, got)
			}
		})
	}
}

func TestHeaderSize(t *testing.T) {
	cases := []struct {
		name string
		h    nats.Header
		want int
	}{
		{"none", nil, 12},
		{"one", nats.Header{"Ab": {"xyz"}}, 12 + 2 + 3 + 4},
		{"repeated values count each", nats.Header{"K": {"1", "22"}, "L": {""}}, 12 + (1 + 1 + 4) + (1 + 2 + 4) + (1 + 0 + 4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := headerSize(tc.h); got != tc.want {
				t.Fatalf("headerSize(%v): want %d, got %d", tc.h, tc.want, got)
			}
		})
	}
}

func TestCheckStoredSize(t *testing.T) {
	const maxPayload = 2048 // leaves 1024 bytes once the broker's reserve is kept
	cases := []struct {
		name string
		data int
		h    nats.Header
		code int
	}{
		{"fits exactly", 1024 - 12, nil, 0},
		{"one byte over", 1024 - 12 + 1, nil, wire.CodeTooLarge},
		{"headers count", 1024 - 12 - 8, nats.Header{"K": {"abc"}}, 0},
		{"headers push it over", 1024 - 12 - 7, nats.Header{"K": {"abc"}}, wire.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &nats.Msg{Data: make([]byte, tc.data), Header: tc.h}
			err := checkStoredSize(m, maxPayload, "delayed message")
			wantCode(t, err, tc.code)
			if err != nil && !strings.Contains(err.Error(), "a delayed message may have at most 1024 bytes") {
				t.Fatalf("want the limit named, got %q", err)
			}
		})
	}
}

func TestDecodeRequestAndValidateGroupRef(t *testing.T) {
	var v struct {
		Seq uint64 `json:"seq"`
	}
	wantCode(t, decodeRequest("request", []byte(`{"seq":3}`), &v), 0)
	if v.Seq != 3 {
		t.Errorf("decodeRequest: want seq 3, got %d", v.Seq)
	}
	wantCode(t, decodeRequest("request", []byte(`{"seq":3,"extra":1}`), &v), wire.CodeBadRequest)
	wantCode(t, decodeRequest("request", []byte(`{`), &v), wire.CodeBadRequest)

	cases := []struct {
		topic, group string
		code         int
	}{
		{"T", "g", 0},
		{"T.x", "g", wire.CodeBadRequest},
		{"T", "g*", wire.CodeBadRequest},
		{"", "g", wire.CodeBadRequest},
		{"T", "", wire.CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.topic+"/"+tc.group, func(t *testing.T) { wantCode(t, validateGroupRef(tc.topic, tc.group), tc.code) })
	}
}
