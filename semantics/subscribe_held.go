package semantics

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// heldSet is every message a member has received and not yet settled
// (acked, nak'd or terminated), with when it arrived.
type heldSet struct {
	mu    sync.Mutex
	msgs  map[jetstream.Msg]time.Time
	freed chan struct{} // signalled when a message is settled
}

func newHeldSet() *heldSet {
	return &heldSet{msgs: map[jetstream.Msg]time.Time{}, freed: make(chan struct{}, 1)}
}

func (h *heldSet) add(m jetstream.Msg) {
	h.mu.Lock()
	h.msgs[m] = time.Now()
	h.mu.Unlock()
}

func (h *heldSet) done(m jetstream.Msg) {
	h.mu.Lock()
	delete(h.msgs, m)
	h.mu.Unlock()
	select {
	case h.freed <- struct{}{}:
	default:
	}
}

func (h *heldSet) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

// older lists the messages held since before t, refreshing their time.
func (h *heldSet) older(t, now time.Time) []jetstream.Msg {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []jetstream.Msg
	for m, at := range h.msgs {
		if at.Before(t) {
			out = append(out, m)
			h.msgs[m] = now
		}
	}
	return out
}

// keepAlive keeps every held message from being redelivered while the
// member is alive: every third of the ack wait it sends a progress ack for
// each message held longer than that (queued or in a handler), until done
// is closed.
func (h *heldSet) keepAlive(ackWaitMs int64, done <-chan struct{}) {
	every := time.Duration(ackWaitMs) * time.Millisecond / 3
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			for _, m := range h.older(now.Add(-every), now) {
				_ = m.InProgress()
			}
		}
	}
}
