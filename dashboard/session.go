package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// cookieName is the session cookie.
const cookieName = "jetmq_session"

// csrfHeader carries the session's CSRF token on every write.
const csrfHeader = "X-CSRF-Token"

// session is one logged-in user: a NATS connection as that user.
type session struct {
	id      string
	csrf    string
	user    string
	nc      *nats.Conn
	perms   *permWatch
	created time.Time

	mu   sync.Mutex
	used time.Time
}

func (s *session) touch(now time.Time) {
	s.mu.Lock()
	s.used = now
	s.mu.Unlock()
}

func (s *session) expired(now time.Time, idle, maxAge time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Sub(s.used) > idle || now.Sub(s.created) > maxAge
}

// sessions holds the live sessions.
type sessions struct {
	idle, maxAge time.Duration
	max          int

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(idle, maxAge time.Duration, max int) *sessions {
	return &sessions{idle: idle, maxAge: maxAge, max: max, m: map[string]*session{}}
}

// randomToken is 32 random bytes, URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// add registers a session for nc.
func (ss *sessions) add(user string, nc *nats.Conn, perms *permWatch) (*session, error) {
	now := time.Now()
	s := &session{id: randomToken(), csrf: randomToken(), user: user, nc: nc, perms: perms, created: now, used: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.max {
		return nil, errTooMany("the dashboard has %d sessions open, its limit: log out elsewhere or wait for sessions to expire", len(ss.m))
	}
	ss.m[s.id] = s
	return s, nil
}

// get finds the live session of r's cookie; an expired one is closed.
func (ss *sessions) get(r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, errUnauthorized("not logged in")
	}
	now := time.Now()
	ss.mu.Lock()
	s := ss.m[c.Value]
	ss.mu.Unlock()
	if s == nil {
		return nil, errUnauthorized("not logged in (the session ended)")
	}
	if s.expired(now, ss.idle, ss.maxAge) {
		ss.remove(s.id)
		return nil, errUnauthorized("the session expired: log in again")
	}
	if s.nc.IsClosed() {
		ss.remove(s.id)
		return nil, errUnauthorized("the NATS connection of the session closed: log in again")
	}
	s.touch(now)
	return s, nil
}

// remove ends a session and closes its connection.
func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	s := ss.m[id]
	delete(ss.m, id)
	ss.mu.Unlock()
	if s != nil {
		s.nc.Close()
	}
}

// sweep ends every expired session.
func (ss *sessions) sweep(now time.Time) {
	ss.mu.Lock()
	var gone []string
	for id, s := range ss.m {
		if s.expired(now, ss.idle, ss.maxAge) || s.nc.IsClosed() {
			gone = append(gone, id)
		}
	}
	ss.mu.Unlock()
	for _, id := range gone {
		ss.remove(id)
	}
}

// closeAll ends every session.
func (ss *sessions) closeAll() {
	ss.mu.Lock()
	ids := make([]string, 0, len(ss.m))
	for id := range ss.m {
		ids = append(ids, id)
	}
	ss.mu.Unlock()
	for _, id := range ids {
		ss.remove(id)
	}
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// checkWrite refuses a request that changes something unless it carries
// the session's CSRF token and does not come from another site.
func checkWrite(r *http.Request, s *session) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errCSRF("refused: a %s request", site)
	}
	tok := r.Header.Get(csrfHeader)
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) != 1 {
		return errCSRF("missing or wrong %s header: reload the page", csrfHeader)
	}
	return nil
}

func isWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}
