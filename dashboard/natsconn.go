package dashboard

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Credentials is what the login form sends: one of user and password,
// token, or the content of a creds file (or a bare nkey seed).
type Credentials struct {
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	Creds    string `json:"creds,omitempty"`
	// InboxPrefix is the user's own inbox prefix, for users that may only
	// subscribe to _INBOX_<user>.> (docs/PROTOCOL.md, Permissions).
	InboxPrefix string `json:"inbox_prefix,omitempty"`
}

// who names the user in the page and in the connection name.
func (c Credentials) who() string {
	switch {
	case c.User != "":
		return c.User
	case c.Token != "":
		return "token user"
	case c.Creds != "":
		return "creds user"
	}
	return "anonymous"
}

// options turns the credentials into nats.go options.
func (c Credentials) options() ([]nats.Option, error) {
	var opts []nats.Option
	given := 0
	if c.User != "" || c.Password != "" {
		given++
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		given++
		opts = append(opts, nats.Token(c.Token))
	}
	if strings.TrimSpace(c.Creds) != "" {
		given++
		o, err := credsOption([]byte(c.Creds))
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	if given > 1 {
		return nil, errBadRequest("give one of user and password, token, or creds")
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	return opts, nil
}

// credsOption reads a creds file's content: a user JWT with its seed, or
// a bare nkey seed.
func credsOption(b []byte) (nats.Option, error) {
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return nil, errBadRequest("creds: no nkey seed found: %v", err)
	}
	sign := func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) }
	if jwt, err := nkeys.ParseDecoratedJWT(b); err == nil && strings.HasPrefix(jwt, "eyJ") {
		return nats.UserJWT(func() (string, error) { return jwt, nil }, sign), nil
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, errBadRequest("creds: %v", err)
	}
	return nats.Nkey(pub, sign), nil
}

// permWatch ends the requests whose subject the server refused: nats-server
// drops a denied publish and reports it only as an asynchronous error, so
// a request would otherwise wait for its timeout.
type permWatch struct {
	mu      sync.Mutex
	waiting map[*waiter]struct{}
}

type waiter struct {
	subject string
	cancel  context.CancelCauseFunc
}

func newPermWatch() *permWatch { return &permWatch{waiting: map[*waiter]struct{}{}} }

// handle is the connection's error handler.
func (p *permWatch) handle(_ *nats.Conn, _ *nats.Subscription, err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	text := err.Error()
	// "Permissions Violation for Publish to "X"": the requests on X; a
	// refused subscription (the reply inbox) fails every waiting request.
	all := strings.Contains(text, "Subscription to")
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.waiting {
		if all || strings.Contains(text, `"`+w.subject+`"`) {
			w.cancel(err)
		}
	}
}

// watch returns a context that ends when subject is refused, and the
// function that stops watching.
func (p *permWatch) watch(ctx context.Context, subject string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &waiter{subject: subject, cancel: cancel}
	p.mu.Lock()
	p.waiting[w] = struct{}{}
	p.mu.Unlock()
	return ctx, func() {
		p.mu.Lock()
		delete(p.waiting, w)
		p.mu.Unlock()
		cancel(nil)
	}
}

// connect opens the user's NATS connection; a refused login is an
// errUnauthorized with the server's reason.
func connect(url string, c Credentials, timeout time.Duration) (*nats.Conn, *permWatch, error) {
	opts, err := c.options()
	if err != nil {
		return nil, nil, err
	}
	pw := newPermWatch()
	opts = append(opts, nats.Name("jetmq dashboard: "+c.who()), nats.Timeout(timeout),
		nats.ErrorHandler(pw.handle), nats.MaxReconnects(-1))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization") {
			return nil, nil, errUnauthorized("login refused by the NATS server: %v", err)
		}
		return nil, nil, errUnavailable("cannot connect to %s: %v", url, err)
	}
	return nc, pw, nil
}
