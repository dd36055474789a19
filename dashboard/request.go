package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// requestTimeout bounds one NATS request of an endpoint.
const requestTimeout = 10 * time.Second

// request sends m on the session's connection and returns the reply's
// JSON. A jetmq or JetStream error reply ({"error":{"code",…}}) becomes
// an errJetmq with its code, a refused subject an errPermission.
func (s *session) request(ctx context.Context, m *nats.Msg) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	wctx, stop := s.perms.watch(ctx, m.Subject)
	defer stop()
	resp, err := s.nc.RequestMsgWithContext(wctx, m)
	if cause := context.Cause(wctx); errors.Is(cause, nats.ErrPermissionViolation) {
		return nil, errPermission("%s", strings.TrimPrefix(cause.Error(), "nats: "))
	}
	switch {
	case errors.Is(err, nats.ErrPermissionViolation):
		return nil, errPermission("%s", strings.TrimPrefix(err.Error(), "nats: "))
	case errors.Is(err, nats.ErrNoResponders):
		return nil, errUnavailable("%s: no responders (no jetmq service in this user's account, or it is not running)", m.Subject)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return nil, errTimeout("%s: no reply within %s", m.Subject, requestTimeout)
	case err != nil:
		return nil, errUnavailable("%s: %v", m.Subject, err)
	}
	if err := wire.DecodeReply(resp.Data, nil); err != nil {
		var ae *wire.APIError
		if errors.As(err, &ae) {
			return nil, errJetmq(ae)
		}
	}
	if len(resp.Data) == 0 {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid(resp.Data) {
		return nil, errUnavailable("%s: the reply is not JSON: %.200q", m.Subject, resp.Data)
	}
	return json.RawMessage(resp.Data), nil
}

// call sends body (JSON-encoded unless nil or already raw) to subject.
func (s *session) call(ctx context.Context, subject string, body any) (json.RawMessage, error) {
	m := nats.NewMsg(subject)
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		m.Data = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, errBadRequest("encode request: %v", err)
		}
		m.Data = data
	}
	return s.request(ctx, m)
}
