package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// apiTimeout bounds one admin request.
const apiTimeout = 15 * time.Second

// request sends body (JSON-encoded unless nil) to an admin subject on a
// new connection and decodes the reply into out; a jetmq error reply
// becomes a *wire.APIError.
func (g *globalFlags) request(subject string, body any, out any) error {
	nc, err := g.connect()
	if err != nil {
		return fmt.Errorf("connect %s: %w", g.server, err)
	}
	defer nc.Close()
	return requestOn(nc, subject, body, out)
}

// requestOn is request on an open connection.
func requestOn(nc *nats.Conn, subject string, body any, out any) error {
	m := nats.NewMsg(subject)
	if body != nil {
		var err error
		if m.Data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	resp, err := requestMsgOn(nc, m)
	if err != nil {
		return err
	}
	return wire.DecodeReply(resp.Data, out)
}

// requestMsgOn sends m on nc and waits for the reply. A permissions
// violation that the server reports meanwhile (the publish, or the reply
// subscription, denied) ends the wait at once: the server drops a denied
// publish silently, so the request would otherwise only time out.
func requestMsgOn(nc *nats.Conn, m *nats.Msg) (*nats.Msg, error) {
	denied, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, stop := context.WithTimeout(denied, apiTimeout)
	defer stop()
	nc.SetErrorHandler(func(c *nats.Conn, s *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			cancel(err)
			return
		}
		asyncError(c, s, err)
	})
	defer nc.SetErrorHandler(asyncError)
	resp, err := nc.RequestMsgWithContext(ctx, m)
	if cause := context.Cause(denied); errors.Is(cause, nats.ErrPermissionViolation) {
		return nil, permissionDenied(m.Subject, cause)
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%s: no jetmq server answered (is %q a jetmq server, and may this user use $MQ.API?)", m.Subject, nc.ConnectedUrlRedacted())
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%s: no reply within %s: %w", m.Subject, apiTimeout, nats.ErrTimeout)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", m.Subject, err)
	}
	return resp, nil
}

// permissionDenied says which permission the server refused.
func permissionDenied(subject string, err error) error {
	detail := strings.TrimPrefix(err.Error(), nats.ErrPermissionViolation.Error()+": ")
	return fmt.Errorf("%s: permission denied (%s): an admin user needs publish on $MQ.API.> and $MQ.TXN.> and subscribe on _INBOX.>", subject, detail)
}

// asyncError reports an asynchronous connection error (a slow consumer,
// say) on stderr, as nats.go's default handler does.
func asyncError(_ *nats.Conn, _ *nats.Subscription, err error) {
	fmt.Fprintln(os.Stderr, "jetmq:", err)
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns: a header row, then rows.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

func (t *table) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
