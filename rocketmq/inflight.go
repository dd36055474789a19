package rocketmq

import (
	"sync"
	"time"
)

// maxKeepAlive bounds how long a push consumer's message is kept alive
// without an ack, even while its client lives.
const maxKeepAlive = time.Hour

// inflight keeps push consumers' messages alive with +WPI while their
// client's session lives (RocketMQ's auto-renew), so that a long handler
// is not redelivered elsewhere, and a dead client's messages move on after
// the group's ack wait.
type inflight struct {
	e  *Endpoint
	mu sync.Mutex
	m  map[string]*inflightEntry // ack reply subject -> entry
}

type inflightEntry struct {
	client  string
	since   time.Time
	last    time.Time
	ackWait time.Duration
}

func newInflight(e *Endpoint) *inflight { return &inflight{e: e, m: map[string]*inflightEntry{}} }

func (f *inflight) add(reply, client string, ackWait time.Duration) {
	if ackWait <= 0 {
		ackWait = 3 * time.Second
	}
	now := time.Now()
	f.mu.Lock()
	f.m[reply] = &inflightEntry{client: client, since: now, last: now, ackWait: ackWait}
	f.mu.Unlock()
}

func (f *inflight) remove(reply string) {
	f.mu.Lock()
	delete(f.m, reply)
	f.mu.Unlock()
}

func (f *inflight) dropClient(client string) {
	f.mu.Lock()
	for r, en := range f.m {
		if en.client == client {
			delete(f.m, r)
		}
	}
	f.mu.Unlock()
}

func (f *inflight) keepAliveLoop() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-f.e.ctx.Done():
			return
		case <-t.C:
		}
		f.renew(time.Now())
	}
}

func (f *inflight) renew(now time.Time) {
	var due []string
	f.mu.Lock()
	for r, en := range f.m {
		switch {
		case now.Sub(en.since) > maxKeepAlive, en.client != "" && !f.e.clients.alive(en.client):
			delete(f.m, r)
		case now.Sub(en.last) >= en.ackWait/3:
			en.last = now
			due = append(due, r)
		}
	}
	f.mu.Unlock()
	for _, r := range due {
		_ = f.e.nc.Publish(r, []byte("+WPI"))
	}
}
