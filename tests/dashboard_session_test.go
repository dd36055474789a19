package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/dashboard"
	"github.com/jetmq/jetmq/internal/testutil"
)

// TestDashboardRefusesWritesWithoutCSRFAndEndsOldSessions drives the
// dashboard's JSON API over HTTP as a browser script would: a write
// without the session's CSRF token, or with another one, is refused with
// 403 kind "csrf" and changes nothing; with it, it works; and a session
// older than MaxAge is refused with 401.
func TestDashboardRefusesWritesWithoutCSRFAndEndsOldSessions(t *testing.T) {
	s := testutil.StartServer(t)
	const maxAge = 3 * time.Second
	d := dashboard.New(dashboard.Options{ClientURL: s.ClientURL, MaxAge: maxAge, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); d.Close() })
	base := "http://" + ln.Addr().String() + "/ui/api/"

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	call := func(method, path, csrf, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call(http.MethodPost, "login", "", `{"user":"anyone","password":"x"}`); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	loggedIn := time.Now()
	code, body := call(http.MethodGet, "session", "", "")
	var sess struct {
		CSRF string `json:"csrf"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &sess) != nil || sess.CSRF == "" {
		t.Fatalf("session: %d %s", code, body)
	}

	topics := func() string {
		_, b := call(http.MethodGet, "topics", "", "")
		return b
	}
	create := `{"partitions":2}`
	for _, token := range []string{"", "not-" + sess.CSRF} {
		code, body := call(http.MethodPost, "topics/csrf", token, create)
		if code != http.StatusForbidden || !strings.Contains(body, `"kind":"csrf"`) {
			t.Fatalf("write with CSRF token %q: %d %s, want 403 kind csrf", token, code, body)
		}
	}
	if strings.Contains(topics(), `"csrf"`) {
		t.Fatal("a refused write created the topic")
	}
	if code, body := call(http.MethodPost, "topics/csrf", sess.CSRF, create); code != http.StatusOK {
		t.Fatalf("write with the session's CSRF token: %d %s", code, body)
	}

	// The session ends at MaxAge however busy it is.
	testutil.CheckFor(t, maxAge+5*time.Second, 100*time.Millisecond, func() error {
		code, body := call(http.MethodGet, "session", "", "")
		if code == http.StatusUnauthorized {
			if time.Since(loggedIn) < maxAge {
				t.Fatalf("session ended after %s, before its max age %s", time.Since(loggedIn), maxAge)
			}
			return nil
		}
		if code != http.StatusOK {
			t.Fatalf("session: %d %s", code, body)
		}
		return errors.New(fmt.Sprint("session still open after ", time.Since(loggedIn).Round(time.Millisecond)))
	})
}
