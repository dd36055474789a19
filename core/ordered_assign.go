package core

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Ordered groups: the pure ownership state machine the broker's
// coordinator runs for one clustering group with ordered: true. It holds
// no I/O; the coordinator feeds it heartbeats, releases, leaves and clock
// ticks, executes the steps it plans (fence the partition's consumer, then
// grant; or notify a revoke) and persists OrderedState after every change.
//
// Safety rests on three rules:
//   - a partition is granted only when nobody owns it: after its owner
//     released it, left, or was silent for session_timeout (its own lease,
//     counted from when it sent its last answered heartbeat, ran out before
//     ours);
//   - every grant raises the partition's epoch, and the coordinator fences
//     the partition's consumer (resets its delivery state to the ack floor)
//     between the old owner's end and the new owner's start;
//   - a partition being revoked is no longer renewed, so an owner that
//     never answers the revoke has lost its lease by RevokedAt +
//     session_timeout, when the coordinator takes it by force.

// PartitionLease is the durable ownership record of one partition.
type PartitionLease struct {
	Partition int `json:"partition"`
	// Owner is the member allowed to process the partition ("" = free).
	Owner string `json:"owner,omitempty"`
	// Epoch rises with every grant; a member hands a message to its
	// handler only while it holds the partition at the current epoch.
	Epoch uint64 `json:"epoch"`
	// Revoking: the owner was asked to finish and release the partition.
	Revoking bool `json:"revoking,omitempty"`
}

// OrderedState is what the coordinator persists: one lease per partition.
type OrderedState struct {
	Partitions []PartitionLease `json:"partitions"`
}

// StepKind says what a planned step does.
type StepKind int

const (
	// StepGrant: fence the partition's consumer, then call Granted.
	StepGrant StepKind = iota + 1
	// StepRevoke: the owner was marked revoking; tell it.
	StepRevoke
)

// Step is one action the coordinator executes.
type Step struct {
	Kind      StepKind
	Partition int
	Member    string
}

func (s Step) String() string {
	if s.Kind == StepGrant {
		return fmt.Sprintf("grant p%d to %s", s.Partition, s.Member)
	}
	return fmt.Sprintf("revoke p%d from %s", s.Partition, s.Member)
}

// Ownership is the state machine of one ordered group.
type Ownership struct {
	state     OrderedState
	session   time.Duration
	lastSeen  map[string]time.Time
	revokedAt map[int]time.Time
	// avoid: member -> until when it gets no partitions, having held one
	// without consuming it (see MoveStalled).
	avoid map[string]time.Time
	// leaving: members that said they are stopping; they get nothing.
	leaving map[string]bool
	// Rebalances counts plans that moved at least one partition; Grants
	// and Revokes count steps.
	Rebalances, Grants, Revokes uint64
}

// NewOwnership starts from a persisted state (nil: nothing owned) of a
// topic with the given partitions. Owners named in the state are assumed
// alive as of now, so that a coordinator taking over gives them one
// session_timeout to show up before their partitions move.
func NewOwnership(st *OrderedState, partitions int, session time.Duration, now time.Time) *Ownership {
	o := &Ownership{session: session, lastSeen: map[string]time.Time{}, revokedAt: map[int]time.Time{}, avoid: map[string]time.Time{}, leaving: map[string]bool{}}
	if st != nil {
		o.state.Partitions = append(o.state.Partitions, st.Partitions...)
	}
	for p := len(o.state.Partitions); p < partitions; p++ {
		o.state.Partitions = append(o.state.Partitions, PartitionLease{Partition: p})
	}
	for i := range o.state.Partitions {
		l := &o.state.Partitions[i]
		l.Partition = i
		if l.Owner != "" {
			o.lastSeen[l.Owner] = now
			if l.Revoking {
				o.revokedAt[i] = now
			}
		}
	}
	return o
}

// State is a copy of the durable state.
func (o *Ownership) State() OrderedState {
	return OrderedState{Partitions: slices.Clone(o.state.Partitions)}
}

// Lease returns partition p's lease.
func (o *Ownership) Lease(p int) PartitionLease { return o.state.Partitions[p] }

// Members lists the live members, sorted.
func (o *Ownership) Members() []string {
	out := make([]string, 0, len(o.lastSeen))
	for m := range o.lastSeen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Live reports whether member is a live member.
func (o *Ownership) Live(member string) bool { _, ok := o.lastSeen[member]; return ok }

// Heartbeat records that member is alive; it reports whether the member
// is new (a rebalance is due).
func (o *Ownership) Heartbeat(member string, now time.Time) bool {
	_, known := o.lastSeen[member]
	o.lastSeen[member] = now
	return !known
}

// Release frees partition p if member owns it at epoch. It reports
// whether anything changed; a stale release (older epoch, other owner) is
// ignored.
func (o *Ownership) Release(member string, p int, epoch uint64) bool {
	if p < 0 || p >= len(o.state.Partitions) {
		return false
	}
	l := &o.state.Partitions[p]
	if l.Owner != member || l.Epoch != epoch {
		return false
	}
	o.free(p)
	return true
}

// Leave removes member; having released what it could, it promises to
// process nothing any more, so its partitions are free at once.
func (o *Ownership) Leave(member string) bool {
	_, known := o.lastSeen[member]
	delete(o.lastSeen, member)
	delete(o.leaving, member)
	changed := known
	for p := range o.state.Partitions {
		if o.state.Partitions[p].Owner == member {
			o.free(p)
			changed = true
		}
	}
	return changed
}

// Tick expires members silent for session_timeout and takes revoked
// partitions whose owner did not release them within session_timeout. It
// reports whether anything changed.
func (o *Ownership) Tick(now time.Time) bool {
	changed := false
	for m, at := range o.lastSeen {
		if now.Sub(at) >= o.session {
			changed = o.Leave(m) || changed
		}
	}
	for p, at := range o.revokedAt {
		if now.Sub(at) >= o.session {
			o.free(p)
			changed = true
		}
	}
	return changed
}

// MoveStalled revokes partition p from its owner, which holds it without
// consuming it, and gives that member no partitions for StalledAvoid
// (its others move too, gracefully), unless no other member is live. It
// reports whether anything changed.
func (o *Ownership) MoveStalled(p int, now time.Time) bool {
	if p < 0 || p >= len(o.state.Partitions) {
		return false
	}
	l := &o.state.Partitions[p]
	if l.Owner == "" || l.Revoking {
		return false
	}
	o.avoid[l.Owner] = now.Add(StalledAvoid)
	l.Revoking = true
	o.revokedAt[p] = now
	o.Revokes++
	return true
}

// SetLeaving marks a live member as stopping: from now on it is granted
// nothing and its partitions are revoked, so each goes to another member
// as soon as it is released. It reports whether anything changed.
func (o *Ownership) SetLeaving(member string) bool {
	if !o.Live(member) || o.leaving[member] {
		return false
	}
	o.leaving[member] = true
	return true
}

// eligible lists the live members that may own partitions now: not
// leaving, and not avoided unless all the others are.
func (o *Ownership) eligible(now time.Time) []string {
	var live []string
	for _, m := range o.Members() {
		if !o.leaving[m] {
			live = append(live, m)
		}
	}
	var out []string
	for _, m := range live {
		if until, ok := o.avoid[m]; ok && now.Before(until) {
			continue
		}
		delete(o.avoid, m)
		out = append(out, m)
	}
	if len(out) == 0 {
		return live
	}
	return out
}

func (o *Ownership) free(p int) {
	l := &o.state.Partitions[p]
	l.Owner, l.Revoking = "", false
	delete(o.revokedAt, p)
}

// Plan computes the balanced, sticky target and returns the steps toward
// it: revokes (already applied: the partitions are marked revoking now)
// and grants of free partitions (to be applied with Granted once the
// partition is fenced).
func (o *Ownership) Plan(now time.Time) []Step {
	target := o.target(now)
	var steps []Step
	for p, l := range o.state.Partitions {
		want := target[p]
		switch {
		case l.Owner == "" && want != "":
			steps = append(steps, Step{Kind: StepGrant, Partition: p, Member: want})
		case l.Owner != "" && !l.Revoking && want != l.Owner:
			o.state.Partitions[p].Revoking = true
			o.revokedAt[p] = now
			o.Revokes++
			steps = append(steps, Step{Kind: StepRevoke, Partition: p, Member: l.Owner})
		}
	}
	if len(steps) > 0 {
		o.Rebalances++
	}
	return steps
}

// Granted records that p was fenced and now belongs to member, with a new
// epoch. It refuses a grant that no longer fits (p taken meanwhile, or
// the member gone).
func (o *Ownership) Granted(p int, member string) (PartitionLease, bool) {
	l := &o.state.Partitions[p]
	if l.Owner != "" || !o.Live(member) {
		return *l, false
	}
	l.Owner, l.Epoch, l.Revoking = member, l.Epoch+1, false
	o.Grants++
	return *l, true
}

// Target is the assignment Plan steers toward: partition -> member ("" if
// no member is live). Live members get ⌊P/n⌋ or ⌈P/n⌉ partitions; the
// members already holding the most keep the larger shares, every member
// keeps as many of its partitions as its share allows, and only the rest
// move. Members beyond the partition count get none (hot standbys).
func (o *Ownership) Target() []string { return o.target(time.Now()) }

func (o *Ownership) target(now time.Time) []string {
	members := o.eligible(now)
	target := make([]string, len(o.state.Partitions))
	if len(members) == 0 {
		return target
	}
	held := map[string][]int{}
	for p, l := range o.state.Partitions {
		if l.Owner != "" && !l.Revoking && slices.Contains(members, l.Owner) {
			held[l.Owner] = append(held[l.Owner], p)
		}
	}
	// Members holding more come first and get the larger shares.
	sort.SliceStable(members, func(i, j int) bool { return len(held[members[i]]) > len(held[members[j]]) })
	n, total := len(members), len(o.state.Partitions)
	quota := map[string]int{}
	for i, m := range members {
		quota[m] = total / n
		if i < total%n {
			quota[m]++
		}
	}
	for _, m := range members {
		for _, p := range held[m] {
			if quota[m] == 0 {
				break
			}
			target[p] = m
			quota[m]--
		}
	}
	// Revoking partitions stay with their owner until released; the rest
	// go to whoever still has room, in member order.
	for p, l := range o.state.Partitions {
		if target[p] != "" || (l.Revoking && o.Live(l.Owner)) {
			continue
		}
		for _, m := range members {
			if quota[m] > 0 {
				target[p] = m
				quota[m]--
				break
			}
		}
	}
	return target
}

// Counts returns how many partitions each live member owns (revoking ones
// included), for balance checks and status.
func (o *Ownership) Counts() map[string]int {
	out := map[string]int{}
	for _, m := range o.Members() {
		out[m] = 0
	}
	for _, l := range o.state.Partitions {
		if l.Owner != "" {
			out[l.Owner]++
		}
	}
	return out
}

// Standby reports whether member owns nothing and the target gives it
// nothing.
func (o *Ownership) Standby(member string) bool {
	if len(o.MemberLeases(member)) > 0 {
		return false
	}
	for _, m := range o.Target() {
		if m == member {
			return false
		}
	}
	return true
}

// MemberLeases lists the partitions member owns or is releasing.
func (o *Ownership) MemberLeases(member string) []PartitionLease {
	var out []PartitionLease
	for _, l := range o.state.Partitions {
		if l.Owner == member {
			out = append(out, l)
		}
	}
	return out
}
