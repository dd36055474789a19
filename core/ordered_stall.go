package core

import "time"

// The coordinator's safety net against an owner that holds a partition
// and does not consume it (a member whose pull ended without it
// noticing, a client with a bug): it samples every partition consumer
// and moves a partition that has unfinished messages, no waiting pull
// and no progress for StallAfter. Everything here is pure; the broker
// feeds it consumer figures.

// StallAfter is how long an owned partition may have unfinished messages,
// no waiting pull and no progress before the coordinator moves it:
// 3 × session_timeout, at least 5 s. A handler that takes longer than
// this for one message while more wait behind it looks the same and is
// moved too (gracefully: the owner finishes the message in hand).
func StallAfter(g GroupConfig) time.Duration { return max(5*time.Second, 3*g.SessionTimeout) }

// StalledAvoid is how long a member that stalled on a partition is not
// granted that partition again (unless no other member is live).
const StalledAvoid = time.Minute

// PartitionSample is one look at a partition: its lease from the
// coordinator and its consumer's figures from JetStream.
type PartitionSample struct {
	Owner     string
	Epoch     uint64
	Revoking  bool
	Suspended bool   // the owner says its head message waits for a retry
	Pending   uint64 // num_pending: not delivered yet
	AckPend   int    // num_ack_pending: delivered, not acked
	Waiting   int    // num_waiting: pull requests waiting
	Delivered uint64 // delivered.stream_seq
	AckFloor  uint64 // ack_floor.stream_seq
}

// idleWithWork: the owner has messages to finish and nobody asks for them.
func (s PartitionSample) idleWithWork() bool {
	return s.Owner != "" && !s.Revoking && !s.Suspended && (s.Pending > 0 || s.AckPend > 0) && s.Waiting == 0
}

// sameProgress reports whether nothing moved between two samples.
func (s PartitionSample) sameProgress(o PartitionSample) bool {
	return s.Owner == o.Owner && s.Epoch == o.Epoch && s.Delivered == o.Delivered && s.AckFloor == o.AckFloor
}

// StallDetector tracks, per partition, since when it has been idle with
// work and without progress.
type StallDetector struct {
	after time.Duration
	last  map[int]PartitionSample
	since map[int]time.Time // zero: not idle with work
}

// NewStallDetector returns a detector that reports a partition stalled
// after the given time.
func NewStallDetector(after time.Duration) *StallDetector {
	return &StallDetector{after: after, last: map[int]PartitionSample{}, since: map[int]time.Time{}}
}

// Observe records partition p's sample taken at now and reports whether
// p is stalled: idle with work and without progress since at least
// after ago.
func (d *StallDetector) Observe(p int, s PartitionSample, now time.Time) bool {
	prev, seen := d.last[p]
	d.last[p] = s
	if !s.idleWithWork() {
		delete(d.since, p)
		return false
	}
	since, idle := d.since[p]
	if !seen || !idle || !prev.sameProgress(s) {
		d.since[p] = now
		return false
	}
	return now.Sub(since) >= d.after
}

// Forget drops what is known about p (its lease moved on).
func (d *StallDetector) Forget(p int) {
	delete(d.last, p)
	delete(d.since, p)
}
