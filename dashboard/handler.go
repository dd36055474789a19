package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

//go:embed static
var staticFiles embed.FS

// Defaults of Options.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	DefaultMaxSessions = 256
	// maxBody bounds a request body (a test message, a topic config).
	maxBody = 1 << 20
)

// Options configures the dashboard.
type Options struct {
	// ClientURL returns the NATS URL sessions connect to (the server's
	// client listener).
	ClientURL func() string
	Logger    *slog.Logger
	// IdleTimeout ends a session unused for that long; MaxAge ends any
	// session that old. Defaults: DefaultIdleTimeout, DefaultMaxAge.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// MaxSessions bounds the sessions (each holds a NATS connection).
	MaxSessions int
	// SecureCookie marks the session cookie Secure (set it when the
	// dashboard is reached over HTTPS).
	SecureCookie bool
}

// Handler is the dashboard: mount it at /ui/.
type Handler struct {
	opts     Options
	sessions *sessions
	mux      *http.ServeMux
	stop     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// New returns the dashboard handler; Close it when the server stops.
func New(o Options) *Handler {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{opts: o, sessions: newSessions(o.IdleTimeout, o.MaxAge, o.MaxSessions), mux: http.NewServeMux(), stop: make(chan struct{})}
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/ui/", http.FileServerFS(static))
	h.mux.Handle("GET /ui/", securityHeaders(files))
	h.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) })
	h.mux.HandleFunc("POST /ui/api/login", h.login)
	h.mux.HandleFunc("GET /ui/api/session", h.withSession(h.sessionInfo))
	h.mux.HandleFunc("POST /ui/api/logout", h.withSession(h.logout))
	h.routes()
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		h.mux.HandleFunc(m+" /ui/api/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, newErr(http.StatusNotFound, "request", "no endpoint %s %s", r.Method, r.URL.Path))
		})
	}
	h.wg.Add(1)
	go h.sweepLoop()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close ends every session and stops the expiry sweep.
func (h *Handler) Close() {
	h.once.Do(func() { close(h.stop) })
	h.wg.Wait()
	h.sessions.closeAll()
}

// Sessions is the number of open sessions.
func (h *Handler) Sessions() int { return h.sessions.count() }

func (h *Handler) sweepLoop() {
	defer h.wg.Done()
	t := time.NewTicker(min(time.Minute, h.opts.IdleTimeout/2))
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			h.sessions.sweep(now)
		}
	}
}

// securityHeaders keeps the pages from being framed or running anything
// but their own scripts.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// endpoint is an API handler with its session.
type endpoint func(ctx context.Context, s *session, r *http.Request) (any, error)

// withSession finds the session, checks CSRF on writes, runs f and writes
// its answer.
func (h *Handler) withSession(f endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.sessions.get(r)
		if err == nil && isWrite(r) {
			err = checkWrite(r, s)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		ctx := context.WithValue(r.Context(), responseKey{}, w)
		v, err := f(ctx, s, r.WithContext(ctx))
		if err != nil {
			writeError(w, err)
			return
		}
		if v != nil {
			writeJSON(w, v)
		}
	}
}

// sessionReply tells the page who is logged in and its CSRF token.
type sessionReply struct {
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"`
	Server  string    `json:"server"`
	Expires time.Time `json:"expires"`
}

func (h *Handler) reply(s *session) sessionReply {
	return sessionReply{User: s.user, CSRF: s.csrf, Server: s.nc.ConnectedUrlRedacted(), Expires: s.created.Add(h.opts.MaxAge)}
}

func (h *Handler) sessionInfo(_ context.Context, s *session, _ *http.Request) (any, error) {
	return h.reply(s), nil
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	// A cross-site form cannot send JSON without a CORS preflight, which
	// this handler never grants: so a login cannot be forged either.
	if r.Header.Get("Content-Type") != "application/json" {
		writeError(w, errCSRF("login wants Content-Type: application/json"))
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		writeError(w, errCSRF("refused: a %s login", site))
		return
	}
	var c Credentials
	if err := decodeJSON(io.LimitReader(r.Body, maxBody), &c); err != nil {
		writeError(w, err)
		return
	}
	nc, pw, err := connect(h.opts.ClientURL(), c, 5*time.Second)
	if err != nil {
		h.opts.Logger.Info("dashboard login refused", "user", c.who(), "remote", r.RemoteAddr, "err", err)
		writeError(w, err)
		return
	}
	s, err := h.sessions.add(c.who(), nc, pw)
	if err != nil {
		nc.Close()
		writeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: "/ui/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: h.opts.SecureCookie, MaxAge: int(h.opts.MaxAge.Seconds())})
	h.opts.Logger.Info("dashboard login", "user", s.user, "remote", r.RemoteAddr)
	writeJSON(w, h.reply(s))
}

func (h *Handler) logout(_ context.Context, s *session, _ *http.Request) (any, error) {
	h.sessions.remove(s.id)
	return map[string]bool{"logged_out": true}, nil
}

// decodeJSON decodes one JSON object strictly.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("request body: %v", err)
	}
	return nil
}
