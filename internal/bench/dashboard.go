package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/dashboard"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// dashboardMaxTopics is the size the dashboard target is stated for:
// 1,000 topics with one group each.
const dashboardMaxTopics = 1000

// dashboardEndpoints are the JSON endpoints behind the pages, {t} the
// topic and {g} the group of a detail page.
var dashboardEndpoints = []string{
	"overview", "topics", "groups", "txns",
	"topics/{t}", "groups/{t}/{g}", "msgs/{t}?start_seq=1&limit=50",
	"delayed/{t}", "dlq/{t}/{g}",
}

// runDashboardAPI measures the dashboard's JSON endpoints as a browser
// calls them (HTTP, session cookie, one NATS request behind each) with
// msgs/100 topics (at most 1,000), one clustering group each and one
// message per topic: msgs/100 requests (at least 1,000, at most msgs) spread round-robin
// over the endpoints, 4 at a time, while the summary snapshot rebuilds in
// the background as it does with a page open. p50/p99 are per request;
// the notes give each endpoint's p99 and the snapshot's rebuild time.
func runDashboardAPI(ctx context.Context, env *Env) (Result, error) {
	n := min(dashboardMaxTopics, max(10, env.Msgs/100))
	nc, err := env.Connect()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	topics, err := createDashboardTopics(ctx, nc, env, n)
	defer deleteTopics(nc, topics)
	if err != nil {
		return Result{}, err
	}
	base, stop, err := serveDashboard(env)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	c, err := dashboardLogin(ctx, base)
	if err != nil {
		return Result{}, err
	}
	if _, err := dashboardGet(ctx, c, base+"overview?fresh=1"); err != nil {
		return Result{}, err
	}
	reqs := min(env.Msgs, max(1000, env.Msgs/100))
	lat, per, elapsed, err := dashboardLoad(ctx, c, base, topics, reqs, env)
	if err != nil {
		return Result{}, err
	}
	r := NewResult(lat.Len(), elapsed, lat)
	r.Notes = fmt.Sprintf("%d topics, %d groups; p99 per endpoint: %s", n, n, per)
	if body, err := dashboardGet(ctx, c, base+"overview"); err == nil {
		if i := strings.Index(body, `"took_ms":`); i >= 0 {
			r.Notes += "; snapshot rebuild " + strings.SplitN(body[i+10:], ",", 2)[0] + " ms"
		}
	}
	return r, nil
}

// createDashboardTopics creates n topics with a group and a message each.
func createDashboardTopics(ctx context.Context, nc *nats.Conn, env *Env, n int) ([]string, error) {
	var topics []string
	for i := range n {
		t := env.Name("dash", fmt.Sprint(i))
		if err := createTopic(ctx, nc, t, 1); err != nil {
			return topics, err
		}
		topics = append(topics, t)
		if err := apiCall(ctx, nc, wire.GroupAPIPrefix+"CREATE."+t+".g", `{}`); err != nil {
			return topics, err
		}
		if _, err := nc.RequestWithContext(ctx, t+".k", env.Payload()); err != nil {
			return topics, err
		}
		env.Progress(i+1, n)
	}
	return topics, nil
}

func deleteTopics(nc *nats.Conn, topics []string) {
	for _, t := range topics {
		deleteTopic(nc, t)
	}
}

// serveDashboard serves the dashboard (as the server's HTTP listener
// does) on a loopback port of its own, in front of env.URL: the harness's
// embedded server has no HTTP listener, and so it works against --server
// too (one without auth: the scenario logs in with any user).
func serveDashboard(env *Env) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	d := dashboard.New(dashboard.Options{ClientURL: func() string { return env.URL }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/ui/api/", func() { _ = srv.Close(); d.Close() }, nil
}

// dashboardLogin logs in with any user (a server without auth).
func dashboardLogin(ctx context.Context, base string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"login", strings.NewReader(`{"user":"bench","password":"bench"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("dashboard login: %s: %s", resp.Status, b)
	}
	return c, nil
}

func dashboardGet(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, b)
	}
	return string(b), err
}

// dashboardLoad sends reqs requests, 4 at a time, round-robin over the
// endpoints and topics.
func dashboardLoad(ctx context.Context, c *http.Client, base string, topics []string, reqs int, env *Env) (*Latencies, string, time.Duration, error) {
	var mu sync.Mutex
	all, per := NewLatencies(reqs), map[string]*Latencies{}
	for _, e := range dashboardEndpoints {
		per[e] = NewLatencies(reqs/len(dashboardEndpoints) + 1)
	}
	jobs := make(chan int)
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				e := dashboardEndpoints[i%len(dashboardEndpoints)]
				url := base + strings.NewReplacer("{t}", topics[(i/len(dashboardEndpoints))%len(topics)], "{g}", "g").Replace(e)
				t0 := time.Now()
				if _, err := dashboardGet(ctx, c, url); err != nil {
					errc <- err
					return
				}
				d := time.Since(t0)
				mu.Lock()
				all.Record(d)
				per[e].Record(d)
				mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for i := range reqs {
		select {
		case jobs <- i:
			env.Progress(i+1, reqs)
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	names := make([]string, 0, len(per))
	for e := range per {
		names = append(names, e)
	}
	sort.Strings(names)
	var notes []string
	for _, e := range names {
		if per[e].Len() > 0 {
			notes = append(notes, fmt.Sprintf("%s %.1f ms", strings.SplitN(e, "/", 2)[0]+endpointKind(e), float64(per[e].Percentile(99))/float64(time.Millisecond)))
		}
	}
	return all, strings.Join(notes, ", "), elapsed, err
}

// endpointKind tells the detail endpoints from the listings in the notes.
func endpointKind(e string) string {
	if strings.Contains(e, "{") {
		return "/…"
	}
	return ""
}
