package core

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// settle runs plans, granting at once and releasing every revoke, until
// nothing moves; it returns the number of partitions that changed owner.
func settle(t *testing.T, o *Ownership, now time.Time) int {
	t.Helper()
	moved := 0
	for round := 0; round < 10; round++ {
		steps := o.Plan(now)
		if len(steps) == 0 {
			return moved
		}
		for _, s := range steps {
			switch s.Kind {
			case StepGrant:
				if _, ok := o.Granted(s.Partition, s.Member); !ok {
					t.Fatalf("grant refused: %v", s)
				}
				moved++
			case StepRevoke:
				l := o.Lease(s.Partition)
				if !o.Release(s.Member, s.Partition, l.Epoch) {
					t.Fatalf("release refused: %v", s)
				}
			}
		}
	}
	t.Fatal("assignment does not settle")
	return moved
}

func checkBalanced(t *testing.T, o *Ownership, partitions int) {
	t.Helper()
	counts := o.Counts()
	lo, hi, sum := partitions, 0, 0
	for _, c := range counts {
		lo, hi, sum = min(lo, c), max(hi, c), sum+c
	}
	if len(counts) > 0 && (hi-lo > 1 || sum != partitions) {
		t.Fatalf("unbalanced: %v (sum %d of %d)", counts, sum, partitions)
	}
	seen := map[int]bool{}
	for p := 0; p < partitions; p++ {
		l := o.Lease(p)
		if len(counts) > 0 && l.Owner == "" {
			t.Fatalf("p%d unowned with members %v", p, counts)
		}
		seen[p] = true
	}
}

func TestOwnershipBalancedAndSticky(t *testing.T) {
	cases := []struct {
		name       string
		partitions int
		before     []string
		join       []string
		leave      []string
		maxMoved   int
	}{
		{"first member takes all", 16, nil, []string{"a"}, nil, 16},
		{"second member takes half", 16, []string{"a"}, []string{"b"}, nil, 8},
		{"fifth of four", 16, []string{"a", "b", "c", "d"}, []string{"e"}, nil, 3},
		{"two join four", 16, []string{"a", "b", "c", "d"}, []string{"e", "f"}, nil, 4},
		{"one of four leaves", 16, []string{"a", "b", "c", "d"}, nil, []string{"c"}, 4},
		{"standby joins full group", 2, []string{"a", "b"}, []string{"c"}, nil, 0},
		{"owner leaves, standby takes over", 2, []string{"a", "b", "c"}, nil, []string{"a"}, 1},
		{"global order standby", 1, []string{"a", "b", "c"}, nil, []string{"a"}, 1},
		{"uneven", 7, []string{"a", "b"}, []string{"c"}, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOwnership(nil, tc.partitions, 3*time.Second, t0)
			for _, m := range tc.before {
				o.Heartbeat(m, t0)
				settle(t, o, t0)
			}
			before := o.State()
			for _, m := range tc.join {
				if !o.Heartbeat(m, t0) {
					t.Fatalf("%s not reported new", m)
				}
			}
			for _, m := range tc.leave {
				o.Leave(m)
			}
			moved := settle(t, o, t0)
			checkBalanced(t, o, tc.partitions)
			if moved > tc.maxMoved {
				t.Fatalf("moved %d partitions, at most %d must move", moved, tc.maxMoved)
			}
			// Sticky: a partition changes owner only if its owner left or
			// had more than its share.
			for p, l := range o.State().Partitions {
				old := before.Partitions[p].Owner
				if old != "" && old != l.Owner && o.Live(old) && o.Counts()[old] < tc.partitions/len(o.Members()) {
					t.Fatalf("p%d moved from %s, which is below its share", p, old)
				}
			}
		})
	}
}

func TestOwnershipEpochsRiseWithEveryGrant(t *testing.T) {
	o := NewOwnership(nil, 2, time.Second, t0)
	o.Heartbeat("a", t0)
	settle(t, o, t0)
	if l := o.Lease(0); l.Owner != "a" || l.Epoch != 1 {
		t.Fatalf("lease %+v", l)
	}
	o.Heartbeat("b", t0)
	settle(t, o, t0)
	moved := 0
	for p := 0; p < 2; p++ {
		l := o.Lease(p)
		if l.Owner == "b" {
			moved++
			if l.Epoch != 2 {
				t.Fatalf("moved partition has epoch %d, want 2", l.Epoch)
			}
		}
	}
	if moved != 1 {
		t.Fatalf("b got %d partitions", moved)
	}
}

func TestOwnershipRevokeWaitsForRelease(t *testing.T) {
	o := NewOwnership(nil, 2, 3*time.Second, t0)
	o.Heartbeat("a", t0)
	settle(t, o, t0)
	o.Heartbeat("b", t0)
	steps := o.Plan(t0)
	if len(steps) != 1 || steps[0].Kind != StepRevoke || steps[0].Member != "a" {
		t.Fatalf("steps %v", steps)
	}
	p := steps[0].Partition
	// Nothing is granted while a holds it.
	if again := o.Plan(t0.Add(time.Second)); len(again) != 0 {
		t.Fatalf("planned %v while p%d is being revoked", again, p)
	}
	// A stale release (wrong epoch) changes nothing.
	if o.Release("a", p, 99) || o.Release("b", p, o.Lease(p).Epoch) {
		t.Fatal("stale or foreign release accepted")
	}
	// a keeps heartbeating but never releases: taken after session_timeout.
	o.Heartbeat("a", t0.Add(2*time.Second))
	o.Heartbeat("b", t0.Add(2*time.Second))
	if o.Tick(t0.Add(2900 * time.Millisecond)) {
		t.Fatal("revoke expired early")
	}
	if !o.Tick(t0.Add(3 * time.Second)) {
		t.Fatal("revoke did not expire")
	}
	steps = o.Plan(t0.Add(3 * time.Second))
	if len(steps) != 1 || steps[0].Kind != StepGrant || steps[0].Member != "b" || steps[0].Partition != p {
		t.Fatalf("steps %v", steps)
	}
}

func TestOwnershipDeadMemberExpires(t *testing.T) {
	o := NewOwnership(nil, 4, time.Second, t0)
	o.Heartbeat("a", t0)
	o.Heartbeat("b", t0)
	settle(t, o, t0)
	o.Heartbeat("a", t0.Add(900*time.Millisecond)) // b falls silent
	if o.Tick(t0.Add(999 * time.Millisecond)) {
		t.Fatal("b expired before session_timeout")
	}
	if !o.Tick(t0.Add(time.Second)) || o.Live("b") {
		t.Fatal("b did not expire")
	}
	settle(t, o, t0.Add(time.Second))
	if c := o.Counts(); c["a"] != 4 {
		t.Fatalf("counts %v", c)
	}
}

func TestOwnershipGrantedRefusesStaleGrants(t *testing.T) {
	o := NewOwnership(nil, 1, time.Second, t0)
	o.Heartbeat("a", t0)
	steps := o.Plan(t0)
	o.Leave("a")
	if _, ok := o.Granted(steps[0].Partition, "a"); ok {
		t.Fatal("granted to a member that left during the fence")
	}
	o.Heartbeat("b", t0)
	o.Heartbeat("c", t0)
	if _, ok := o.Granted(0, "b"); !ok {
		t.Fatal("grant refused")
	}
	if _, ok := o.Granted(0, "c"); ok {
		t.Fatal("granted an owned partition twice")
	}
}

func TestOwnershipRestoreKeepsEpochsAndOwners(t *testing.T) {
	o := NewOwnership(nil, 3, time.Second, t0)
	o.Heartbeat("a", t0)
	settle(t, o, t0)
	st := o.State()
	r := NewOwnership(&st, 4, time.Second, t0.Add(time.Minute)) // resized to 4
	if !r.Live("a") || r.Lease(2).Owner != "a" || r.Lease(2).Epoch != 1 || r.Lease(3).Owner != "" {
		t.Fatalf("restored %+v", r.State())
	}
	if steps := r.Plan(t0.Add(time.Minute)); len(steps) != 1 || steps[0].Partition != 3 {
		t.Fatalf("steps %v", steps)
	}
	// The restored owner gets one session_timeout to show up.
	if !r.Tick(t0.Add(time.Minute+time.Second)) || r.Lease(0).Owner != "" {
		t.Fatalf("silent restored owner kept %+v", r.Lease(0))
	}
}

func TestOwnershipChurnStaysBalanced(t *testing.T) {
	o := NewOwnership(nil, 16, time.Second, t0)
	members := []string{}
	for i := 0; i < 20; i++ {
		m := fmt.Sprintf("m%d", i)
		members = append(members, m)
		o.Heartbeat(m, t0)
		if i%3 == 2 {
			o.Leave(members[0])
			members = members[1:]
		}
		settle(t, o, t0)
		checkBalanced(t, o, 16)
	}
}

// TestLeavingMemberGetsNothingBack: a member that said it is leaving has
// its partitions revoked, and each one it releases goes to another
// member, never back to it (issue: released partitions were granted
// straight back to a member still live while it left).
func TestLeavingMemberGetsNothingBack(t *testing.T) {
	o := NewOwnership(nil, 4, 3*time.Second, t0)
	o.Heartbeat("a", t0)
	o.Heartbeat("b", t0)
	settle(t, o, t0)
	if !o.SetLeaving("a") || o.SetLeaving("a") {
		t.Fatal("SetLeaving should change things once")
	}
	for round := 0; round < 4; round++ {
		for _, s := range o.Plan(t0) {
			switch s.Kind {
			case StepGrant:
				if s.Member == "a" {
					t.Fatalf("granted p%d back to the leaving member", s.Partition)
				}
				o.Granted(s.Partition, s.Member)
			case StepRevoke:
				o.Release(s.Member, s.Partition, o.Lease(s.Partition).Epoch)
			}
		}
	}
	if n := o.Counts()["b"]; n != 4 {
		t.Fatalf("b owns %d partitions after a left, want 4", n)
	}
	if !o.Standby("a") || o.Standby("b") {
		t.Fatalf("standby: a %v b %v, want a only", o.Standby("a"), o.Standby("b"))
	}
}
