package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// apiHandler is the one shape of a request handler: it returns the reply
// body, or an error (an *APIError from the named constructors below for
// what the client should know; anything else answers 500). The adapters
// (answer, requestPool.serve, the transaction workers) own the timeout and
// the reply, so a handler never writes one itself.
type apiHandler func(ctx context.Context, m *nats.Msg) (any, error)

// answer runs h on m under the API timeout and replies with its result.
func answer(h apiHandler, m *nats.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	v, err := h(ctx, m)
	reply(m, v, err)
}

// serveNow answers each request on the subscription's own goroutine: for
// handlers that only read this node's memory or make one quick call.
func serveNow(h apiHandler) nats.MsgHandler {
	return func(m *nats.Msg) { answer(h, m) }
}

// requestPool answers requests in goroutines of their own, at most
// cap(slots) at once, so a slow JetStream call does not hold up the
// subscription; wg counts the requests in flight for Stop.
type requestPool struct {
	slots chan struct{}
	wg    *sync.WaitGroup
}

func newRequestPool(n int, wg *sync.WaitGroup) requestPool {
	return requestPool{slots: make(chan struct{}, n), wg: wg}
}

// serve adapts h to a subscription handler.
func (p requestPool) serve(h apiHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		p.slots <- struct{}{}
		p.wg.Add(1)
		go func() {
			defer func() { <-p.slots; p.wg.Done() }()
			answer(h, m)
		}()
	}
}

// decodeRequest decodes a request body strictly (unknown keys refused, an
// empty body is the zero request); what names the body in the 400.
func decodeRequest(what string, data []byte, v any) error {
	if err := core.DecodeStrict(data, v); err != nil {
		return errBadRequest("%s: %v", what, err)
	}
	return nil
}

// reply answers m with v, or with err in the contract's error shape.
func reply(m *nats.Msg, v any, err error) {
	if err != nil {
		respondAPIError(m, err)
		return
	}
	respondJSON(m, v)
}

// respondError answers a request with the contract's JSON error shape.
func respondError(m *nats.Msg, code int, format string, args ...any) {
	if m.Reply == "" {
		return
	}
	b, _ := json.Marshal(wire.ErrorReply{Error: &wire.APIError{Code: code, Description: fmt.Sprintf(format, args...)}})
	_ = m.Respond(b)
}

// respondAPIError answers with the code of the *APIError in err, else 500.
func respondAPIError(m *nats.Msg, err error) {
	var ae *wire.APIError
	if errors.As(err, &ae) {
		respondError(m, ae.Code, "%s", ae.Description)
		return
	}
	respondError(m, wire.CodeInternal, "%v", err)
}

// respondJSON answers a request with v as JSON.
func respondJSON(m *nats.Msg, v any) {
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		respondError(m, wire.CodeInternal, "encode reply: %v", err)
		return
	}
	switch err := m.Respond(b); {
	case errors.Is(err, nats.ErrMaxPayload):
		respondError(m, wire.CodeTooLarge, "reply of %d bytes exceeds the server's max_payload: ask for less", len(b))
	case err != nil:
		// Silence would leave the client waiting for its timeout.
		respondError(m, wire.CodeInternal, "reply of %d bytes not sent: %v", len(b), err)
	}
}

// apiErr builds an *APIError. Handlers use the named constructors below,
// one per code of the contract (wire.Code*).
func apiErr(code int, format string, args ...any) *wire.APIError {
	return &wire.APIError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// errBadRequest: the request itself is wrong (subject, headers, body).
func errBadRequest(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeBadRequest, format, args...)
}

// errForbidden: the caller cannot prove it is who it claims to be (an
// ordered member without the token its JOIN gave it).
func errForbidden(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeForbidden, format, args...)
}

// errNotFound: the topic, group or transaction named does not exist.
func errNotFound(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeNotFound, format, args...)
}

// errConflict: the request is well formed but the state it meets refuses
// it (an ended transaction, a different config, tampered metadata).
func errConflict(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeConflict, format, args...)
}

// errTooLarge: the message does not fit the server's max_payload.
func errTooLarge(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeTooLarge, format, args...)
}

// errInternal: the server failed in a way retrying will not cure.
func errInternal(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeInternal, format, args...)
}

// errNotImplemented: this server does not serve that kind of request.
func errNotImplemented(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeNotImplemented, format, args...)
}

// errTopicNotFound: the topic named does not exist.
func errTopicNotFound(topic string) *wire.APIError {
	return errNotFound("topic %q not found", topic)
}

// errGroupNotFound: the group named does not exist on its topic.
func errGroupNotFound(topic, group string) *wire.APIError {
	return errNotFound("group %q of topic %q not found", group, topic)
}

// errUnavailable: JetStream did not answer or is not ready; retry.
func errUnavailable(format string, args ...any) *wire.APIError {
	return apiErr(wire.CodeUnavailable, format, args...)
}

// brokerHeaderReserve is what a stored message may need beyond the
// client's own headers and body: the broker's bookkeeping headers.
const brokerHeaderReserve = 1024

// checkStoredSize refuses a message that would not fit the server's
// max_payload once the broker's headers are added (413).
func checkStoredSize(m *nats.Msg, maxPayload int64, what string) error {
	size := len(m.Data) + headerSize(m.Header)
	if int64(size+brokerHeaderReserve) > maxPayload {
		return errTooLarge("message of %d bytes (with headers) is too large: a %s may have at most %d bytes, %d less than the server's max_payload for the broker's headers",
			size, what, maxPayload-brokerHeaderReserve, brokerHeaderReserve)
	}
	return nil
}

// startupWait bounds how long a service's start-up waits for JetStream to
// accept its state (a cluster that is still forming, a stream electing a
// leader).
const startupWait = time.Minute

// retryStartup runs f until it succeeds, fails with an error that waiting
// will not cure, or startupWait passes. Each attempt gets a short deadline
// of its own: a JetStream request sent before the meta leader is elected
// gets no answer at all, and must not use up the whole wait.
func retryStartup(ctx context.Context, log *slog.Logger, what string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startupWait)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(actx)
		acancel()
		if err == nil || !retryable(err) {
			return err
		}
		log.Info("JetStream not ready yet; retrying", "what", what, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// JetStream error codes of a cluster that cannot place replicas yet.
const (
	errCodeInsufficientResources jetstream.ErrorCode = 10023
	errCodeNoSuitablePeers       jetstream.ErrorCode = 10005
)

// retryable reports whether err may pass by waiting: a timeout, no
// responders, a cluster without a leader or enough peers yet, a JetStream
// 5xx, a jetmq 503.
func retryable(err error) bool {
	var ae *wire.APIError
	if errors.As(err, &ae) {
		// Only "unavailable" passes with time; a 500 says retrying
		// will not cure it (a malformed registry entry, say).
		return ae.Code == wire.CodeUnavailable
	}
	var jae *jetstream.APIError
	if errors.As(err, &jae) {
		return jae.Code >= 500 || jae.ErrorCode == errCodeInsufficientResources || jae.ErrorCode == errCodeNoSuitablePeers
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrJetStreamNotEnabled)
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
