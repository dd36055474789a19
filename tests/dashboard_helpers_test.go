package tests

// Helpers of the dashboard tests: a real headless Chromium driven with
// chromedp against the dashboard of an in-process server.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// browserTimeout bounds everything one test does in the browser.
const browserTimeout = 90 * time.Second

// chromiumPath finds Debian's chromium (or $CHROMIUM). Without it the
// test is skipped, except in CI (CI set), where it fails: .ci/run
// installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "chromium not found (install it with: apt-get install -y chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts a headless Chromium with a fresh profile; it is closed
// when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1400, 1000))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// do runs actions, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.pageText())
	}
}

// pageText is the visible text of the page, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c := chromedp.FromContext(b.ctx); c != nil {
		ctx2, cancel2 := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel2()
		ctx = ctx2
	}
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// waitText waits until the element sel exists and its text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.innerText.includes(%s); })()`, jsString(sel), jsString(want))
	b.do(fmt.Sprintf("wait for %q in %s", want, sel), chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
}

// waitJS waits until the JavaScript expression is truthy.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
}

// text reads an element's text.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s) || {innerText: ""}).innerText`, jsString(sel))))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// attr reads an element's attribute ("" when absent).
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s)?.getAttribute(%s)) || ""`, jsString(sel), jsString(name))))
	if err != nil {
		b.t.Fatalf("read %s of %s: %v", name, sel, err)
	}
	return s
}

// click clicks the first element matching sel once it is visible.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.WaitVisible(sel), chromedp.Click(sel))
}

// fill sets an input's value.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.WaitVisible(sel), chromedp.SetValue(sel, value))
}

// choose picks value in the select sel, as a user does: the value
// changes and the page gets its change event.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s; e.dispatchEvent(new Event("change", {bubbles: true})); return e.value; })()`, jsString(sel), jsString(value))
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil || got != value {
		b.t.Fatalf("choose %q in %s: got %q, %v", value, sel, got, err)
	}
}

// upload sets the file input sel to the file at path.
func (b *browser) upload(sel, path string) {
	b.t.Helper()
	b.do("upload "+path+" to "+sel, chromedp.WaitVisible(sel), chromedp.SetUploadFiles(sel, []string{path}))
}

// open navigates to the dashboard page hash (#/…).
func (b *browser) open(base, hash string) {
	b.t.Helper()
	b.do("open "+hash, chromedp.Navigate(base+hash))
}

// login logs in with user and password and waits for the overview.
func (b *browser) login(base, user, password, inbox string) {
	b.t.Helper()
	b.open(base, "#/overview")
	b.fill("#login-user", user)
	b.fill("#login-password", password)
	if inbox != "" {
		b.fill("#login-inbox", inbox)
	}
	b.click("#login-submit")
	b.waitJS("logged in", `document.getElementById("login").hidden && !document.getElementById("nav").hidden`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// dashboardURL is the dashboard of s.
func dashboardURL(s *server.Server) string { return "http://" + s.HTTPAddr() + "/ui/" }

// contains reports whether s holds every part.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// mustAPI sends a JSON body to a $MQ.API subject and fails on an error
// reply.
func mustAPI(t *testing.T, nc *nats.Conn, subject, body string) {
	t.Helper()
	if err := rawAPI(t, nc, subject, body, nil); err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// visible reports whether the element exists and is not hidden.
func (b *browser) visible(sel string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && !e.hidden; })()`, jsString(sel))))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// screenshotOverview publishes while group email of orders consumes,
// until the overview (polling every 2 s, figures from a snapshot at most
// 2 s old) has drawn six rate samples, then writes a JPEG of the page to
// path.
func screenshotOverview(t *testing.T, b *browser, nc *nats.Conn, p *semantics.Producer, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := semantics.Subscribe(ctx, nc, "orders", "email", func(context.Context, *semantics.Delivery) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop(context.Background())
	samples := func() int {
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`+(document.getElementById("rate-chart")?.dataset.points || 0)`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := 0; samples() < 6; i++ {
		if ctx.Err() != nil {
			t.Fatalf("the overview drew %d rate samples in a minute", samples())
		}
		for j := range 200 {
			if _, err := p.Send(ctx, &semantics.Message{Topic: "orders", Key: fmt.Sprintf("user-%d", (i*200+j)%50), Data: []byte("order")}); err != nil && ctx.Err() == nil {
				t.Fatal(err)
			}
		}
	}
	img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
}
