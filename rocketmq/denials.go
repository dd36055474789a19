package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// A NATS user's connection drops a publish its permissions deny and says
// so asynchronously (-ERR 'Permissions Violation for Publish to "<subject>"').
// A request on it would wait out its timeout, so the endpoint watches the
// connections of the users it acts as: a violation on a subject fails the
// requests waiting on that subject at once, with ErrForbidden, which the
// client gets as FORBIDDEN.

// ErrForbidden is a publish the NATS user's permissions deny.
type ErrForbidden struct{ Subject string }

func (e *ErrForbidden) Error() string {
	return fmt.Sprintf("the NATS user's permissions deny publishing to %q", e.Subject)
}

// denials is one connection's waiting requests by subject.
type denials struct {
	mu      sync.Mutex
	waiting map[string]map[*context.CancelCauseFunc]struct{}
}

var watched sync.Map // *nats.Conn -> *denials

// watchDenials installs the violation watch on a user's connection.
func watchDenials(nc *nats.Conn) {
	d := &denials{waiting: map[string]map[*context.CancelCauseFunc]struct{}{}}
	watched.Store(nc, d)
	prev := nc.ErrorHandler()
	nc.SetErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			d.deny(deniedSubject(err.Error()))
		}
		if prev != nil {
			prev(c, sub, err)
		}
	})
}

// deniedSubject reads the subject out of nats-server's violation text.
func deniedSubject(msg string) string {
	const marker = "for Publish to "
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	s := strings.TrimSpace(msg[i+len(marker):])
	s = strings.Trim(s, `"'`)
	if j := strings.IndexAny(s, `"' `); j >= 0 {
		s = s[:j]
	}
	return s
}

// deny fails the requests waiting on subject. Permissions are checked
// after the account's subject mappings, and jetmq maps a topic's input
// subjects (orders.alice.vip is checked as orders.<p>.alice.vip): a denied
// subject no request waits on fails the requests on its topic, the first
// token (topic names are one token; $ subjects are not mapped).
func (d *denials) deny(subject string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	hit := []string{subject}
	if len(d.waiting[subject]) == 0 {
		hit = nil
		if topic, _, _ := strings.Cut(subject, "."); topic != "" && !strings.HasPrefix(topic, "$") {
			for s := range d.waiting {
				if t, _, _ := strings.Cut(s, "."); t == topic {
					hit = append(hit, s)
				}
			}
		}
	}
	for _, s := range hit {
		for cancel := range d.waiting[s] {
			(*cancel)(&ErrForbidden{Subject: s})
		}
		delete(d.waiting, s)
	}
}

// watchPublish returns a context that ends with ErrForbidden as its cause
// when nc's user may not publish to subject; release it when done.
func watchPublish(ctx context.Context, nc *nats.Conn, subject string) (context.Context, func()) {
	v, ok := watched.Load(nc)
	if !ok {
		return ctx, func() {}
	}
	d := v.(*denials)
	cctx, cancel := context.WithCancelCause(ctx)
	d.mu.Lock()
	if d.waiting[subject] == nil {
		d.waiting[subject] = map[*context.CancelCauseFunc]struct{}{}
	}
	d.waiting[subject][&cancel] = struct{}{}
	d.mu.Unlock()
	return cctx, func() {
		d.mu.Lock()
		delete(d.waiting[subject], &cancel)
		if len(d.waiting[subject]) == 0 {
			delete(d.waiting, subject)
		}
		d.mu.Unlock()
		cancel(nil)
	}
}

// denied is err, or the permission violation that ended ctx.
func denied(ctx context.Context, err error) error {
	var f *ErrForbidden
	if err != nil && errors.As(context.Cause(ctx), &f) {
		return f
	}
	return err
}

// requestWatched is nc.RequestMsgWithContext failing at once on a
// permission violation.
func requestWatched(ctx context.Context, nc *nats.Conn, m *nats.Msg) (*nats.Msg, error) {
	wctx, release := watchPublish(ctx, nc, m.Subject)
	defer release()
	reply, err := nc.RequestMsgWithContext(wctx, m)
	return reply, denied(wctx, err)
}
