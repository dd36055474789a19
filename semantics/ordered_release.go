package semantics

import (
	"encoding/json"
	"errors"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// Handing partitions back: graceful revokes and RELEASE requests.

// revokeLocked stops a runner gracefully and releases its partition.
func (m *orderedMember) revokeLocked(p int, r *partitionRunner) {
	if r.revoked {
		return
	}
	r.revoked = true
	r.validUntil.Store(0)
	m.released[p] = max(m.released[p], r.epoch)
	m.pendingReleases++
	go func() {
		defer m.releaseFinished()
		next, gap := r.finish()
		m.mu.Lock()
		if m.runners[p] == r {
			delete(m.runners, p)
			delete(m.suspended, p)
		}
		m.mu.Unlock()
		m.sendRelease(p, r.epoch, next, gap)
	}()
}

// releaseLocked tells the coordinator (in the background) that p at
// epoch is given up.
func (m *orderedMember) releaseLocked(p int, epoch, next uint64, refence bool) {
	m.released[p] = max(m.released[p], epoch)
	m.pendingReleases++
	go func() {
		defer m.releaseFinished()
		m.sendRelease(p, epoch, next, refence)
	}()
}

// releaseFinished marks one RELEASE request done and wakes stop when none
// is left.
func (m *orderedMember) releaseFinished() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pendingReleases--
	if m.pendingReleases == 0 {
		m.releasesIdle.Broadcast()
	}
}

// sendRelease requests RELEASE until the coordinator confirms or the
// member's connection is gone.
func (m *orderedMember) sendRelease(p int, epoch, next uint64, refence bool) {
	body, _ := json.Marshal(wire.ReleaseRequest{Token: m.join.MemberToken, Partition: p, Epoch: epoch, NextSeq: next, Refence: refence})
	for attempt := 0; attempt < 20; attempt++ {
		msg, err := m.nc.Request(m.join.ReleaseSubject, body, m.heartbeatInterval())
		if err == nil {
			var rr wire.ReleaseReply
			if wire.DecodeReply(msg.Data, &rr) == nil {
				return
			}
		}
		if errors.Is(err, nats.ErrConnectionClosed) {
			return
		}
	}
}
