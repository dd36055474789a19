package bridge

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// respondError answers a request with the contract's JSON error shape.
func respondError(m *nats.Msg, code int, format string, args ...any) {
	if m.Reply == "" {
		return
	}
	b, _ := json.Marshal(semantics.ErrorReply{Error: &semantics.APIError{Code: code, Description: fmt.Sprintf(format, args...)}})
	_ = m.Respond(b)
}

// respondAPIError answers with err's code when it is an *APIError, else 500.
func respondAPIError(m *nats.Msg, err error) {
	if ae, ok := err.(*semantics.APIError); ok {
		respondError(m, ae.Code, "%s", ae.Description)
		return
	}
	respondError(m, 500, "%v", err)
}

// respondJSON answers a request with v as JSON.
func respondJSON(m *nats.Msg, v any) {
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		respondError(m, 500, "encode reply: %v", err)
		return
	}
	_ = m.Respond(b)
}

// apiErr builds an *APIError.
func apiErr(code int, format string, args ...any) *semantics.APIError {
	return &semantics.APIError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// drainSub stops a subscription's intake and waits until the messages it
// already received have been handled (or ctx ends).
func drainSub(ctx context.Context, sub *nats.Subscription) error {
	if sub == nil || !sub.IsValid() {
		return nil
	}
	closed := sub.StatusChanged(nats.SubscriptionClosed)
	if err := sub.Drain(); err != nil {
		return err
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
