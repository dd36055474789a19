package ordercheck

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event is one handling of a message by a member.
type Event struct {
	Partition int
	Key       string
	Seq       uint64 // stream sequence
	Member    string
	Start     time.Time
	End       time.Time
	OK        bool // the handler succeeded (the message was acked)
}

// Published is one message that was stored.
type Published struct {
	Partition int
	Key       string
	Seq       uint64
}

// Checker collects published messages, handling events and dead letters.
// It is safe for concurrent use.
type Checker struct {
	mu        sync.Mutex
	published map[uint64]Published
	events    []Event
	dead      map[uint64]time.Time
}

// New returns an empty checker.
func New() *Checker {
	return &Checker{published: map[uint64]Published{}, dead: map[uint64]time.Time{}}
}

// Publish records a stored message.
func (c *Checker) Publish(p Published) {
	c.mu.Lock()
	c.published[p.Seq] = p
	c.mu.Unlock()
}

// Record records a handling.
func (c *Checker) Record(e Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

// Dead records that seq was dead-lettered at t (it counts as finished).
func (c *Checker) Dead(seq uint64, t time.Time) {
	c.mu.Lock()
	if _, ok := c.dead[seq]; !ok {
		c.dead[seq] = t
	}
	c.mu.Unlock()
}

// Handled is how many distinct published messages were handled
// successfully or dead-lettered.
func (c *Checker) Handled() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	done := map[uint64]bool{}
	for _, e := range c.events {
		if e.OK {
			done[e.Seq] = true
		}
	}
	for s := range c.dead {
		done[s] = true
	}
	return len(done)
}

// Report is the verdict.
type Report struct {
	Published  int
	Events     int
	Violations []string // a message handled before an earlier one of its partition finished
	KeyOrder   []string // a key's first handlings out of sequence order
	Overlaps   []string // two members on one partition at the same time
	Missing    []uint64 // published, never finished
	Duplicates int      // successful handlings beyond the first
	Members    map[string]int
}

// OK reports whether the run kept every guarantee.
func (r Report) OK() bool {
	return len(r.Violations) == 0 && len(r.KeyOrder) == 0 && len(r.Overlaps) == 0 && len(r.Missing) == 0
}

func (r Report) String() string {
	return fmt.Sprintf("published %d, handlings %d, violations %d, key-order %d, overlaps %d, missing %d, duplicates %d, per member %v%s",
		r.Published, r.Events, len(r.Violations), len(r.KeyOrder), len(r.Overlaps), len(r.Missing), r.Duplicates, r.Members, r.sample())
}

func (r Report) sample() string {
	var parts []string
	for _, l := range [][]string{r.Violations, r.KeyOrder, r.Overlaps} {
		if len(l) > 0 {
			parts = append(parts, strings.Join(l[:min(3, len(l))], "; "))
		}
	}
	if len(r.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing seqs %v", r.Missing[:min(10, len(r.Missing))]))
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n  " + strings.Join(parts, "\n  ")
}

// Check evaluates everything recorded so far.
func (c *Checker) Check() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Report{Published: len(c.published), Events: len(c.events), Members: map[string]int{}}
	finished := c.finishTimes()
	byPart := map[int][]Event{}
	for _, e := range c.events {
		byPart[e.Partition] = append(byPart[e.Partition], e)
		r.Members[e.Member]++
	}
	pubByPart := map[int][]uint64{}
	for s, p := range c.published {
		pubByPart[p.Partition] = append(pubByPart[p.Partition], s)
	}
	for p, evs := range byPart {
		seqs := pubByPart[p]
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		r.Violations = append(r.Violations, c.strictOrder(evs, seqs, finished)...)
		r.Overlaps = append(r.Overlaps, overlaps(evs)...)
	}
	r.KeyOrder = keyOrder(c.events)
	handled := map[uint64]int{}
	for _, e := range c.events {
		if e.OK {
			handled[e.Seq]++
		}
	}
	for s, n := range handled {
		if n > 1 {
			r.Duplicates += n - 1
		}
		_ = s
	}
	for s := range c.published {
		if _, ok := finished[s]; !ok {
			r.Missing = append(r.Missing, s)
		}
	}
	sort.Slice(r.Missing, func(i, j int) bool { return r.Missing[i] < r.Missing[j] })
	return r
}

// finishTimes is when each message was first finished: its first
// successful handling ended, or it was dead-lettered.
func (c *Checker) finishTimes() map[uint64]time.Time {
	out := map[uint64]time.Time{}
	for _, e := range c.events {
		if !e.OK {
			continue
		}
		if t, ok := out[e.Seq]; !ok || e.End.Before(t) {
			out[e.Seq] = e.End
		}
	}
	for s, t := range c.dead {
		if cur, ok := out[s]; !ok || t.Before(cur) {
			out[s] = t
		}
	}
	return out
}

// strictOrder: every handling of seq s in a partition must start after
// every earlier published message of that partition finished. latest[i]
// is the latest finish time among seqs[:i] (never: the zero time with
// missing set).
func (c *Checker) strictOrder(evs []Event, seqs []uint64, finished map[uint64]time.Time) []string {
	latest := make([]time.Time, len(seqs)+1)
	missingBefore := make([]int, len(seqs)+1) // index+1 of the first unfinished seq before i, 0 if none
	for i, s := range seqs {
		latest[i+1], missingBefore[i+1] = latest[i], missingBefore[i]
		t, ok := finished[s]
		if !ok && missingBefore[i] == 0 {
			missingBefore[i+1] = i + 1
		}
		if ok && t.After(latest[i+1]) {
			latest[i+1] = t
		}
	}
	var out []string
	for _, e := range evs {
		i := sort.Search(len(seqs), func(i int) bool { return seqs[i] >= e.Seq })
		switch {
		case missingBefore[i] != 0:
			out = append(out, fmt.Sprintf("p%d: %s handled seq %d (key %s) while seq %d never finished", e.Partition, e.Member, e.Seq, e.Key, seqs[missingBefore[i]-1]))
		case latest[i].After(e.Start):
			out = append(out, fmt.Sprintf("p%d: %s handled seq %d (key %s) at %s before an earlier message finished (%s)", e.Partition, e.Member, e.Seq, e.Key,
				e.Start.Format("15:04:05.000000"), latest[i].Format("15:04:05.000000")))
		}
	}
	return out
}

// overlaps finds two members handling one partition at the same time.
func overlaps(evs []Event) []string {
	sorted := append([]Event(nil), evs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	var out []string
	var last Event
	for i, e := range sorted {
		if i > 0 && e.Member != last.Member && e.Start.Before(last.End) {
			out = append(out, fmt.Sprintf("p%d: %s seq %d [%s] overlaps %s seq %d [%s]", e.Partition, e.Member, e.Seq,
				e.Start.Format("15:04:05.000000"), last.Member, last.Seq, last.End.Format("15:04:05.000000")))
		}
		if i == 0 || e.End.After(last.End) {
			last = e
		}
	}
	return out
}

// keyOrder checks that, per key, the first handlings come in sequence
// order (a redelivered tail may repeat earlier ones, never skip ahead).
func keyOrder(events []Event) []string {
	byKey := map[string][]Event{}
	for _, e := range events {
		byKey[e.Key] = append(byKey[e.Key], e)
	}
	var out []string
	for k, evs := range byKey {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Start.Before(evs[j].Start) })
		seen := map[uint64]bool{}
		var maxFirst uint64
		for _, e := range evs {
			if seen[e.Seq] {
				continue
			}
			seen[e.Seq] = true
			if e.Seq < maxFirst {
				out = append(out, fmt.Sprintf("key %s: seq %d first handled after seq %d", k, e.Seq, maxFirst))
			}
			maxFirst = max(maxFirst, e.Seq)
		}
	}
	return out
}

// PublishedList returns the recorded published messages.
func (c *Checker) PublishedList() []Published {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Published, 0, len(c.published))
	for _, p := range c.published {
		out = append(out, p)
	}
	return out
}
