package core

import (
	"testing"
	"time"
)

func TestStallDetector(t *testing.T) {
	idle := PartitionSample{Owner: "m1", Epoch: 3, Pending: 10, Delivered: 40, AckFloor: 40}
	cases := []struct {
		name string
		next PartitionSample
		want bool
	}{
		{"idle with work, no progress", idle, true},
		{"a pull is waiting", with(idle, func(s *PartitionSample) { s.Waiting = 1 }), false},
		{"delivered moved", with(idle, func(s *PartitionSample) { s.Delivered = 41 }), false},
		{"ack floor moved", with(idle, func(s *PartitionSample) { s.AckFloor = 41 }), false},
		{"granted again", with(idle, func(s *PartitionSample) { s.Epoch = 4 }), false},
		{"nothing to do", with(idle, func(s *PartitionSample) { s.Pending = 0 }), false},
		{"held unacked only", with(idle, func(s *PartitionSample) { s.Pending, s.AckPend = 0, 5 }), true},
		{"suspended", with(idle, func(s *PartitionSample) { s.Suspended = true }), false},
		{"revoking", with(idle, func(s *PartitionSample) { s.Revoking = true }), false},
		{"unowned", with(idle, func(s *PartitionSample) { s.Owner = "" }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewStallDetector(5 * time.Second)
			base := idle
			if tc.next.AckPend > 0 {
				base = tc.next // the same condition throughout
			}
			if d.Observe(0, base, t0) {
				t.Fatal("stalled at the first sample")
			}
			if d.Observe(0, tc.next, t0.Add(4*time.Second)) && tc.next.sameProgress(base) {
				t.Fatal("stalled before StallAfter")
			}
			if got := d.Observe(0, tc.next, t0.Add(6*time.Second)); got != tc.want {
				t.Fatalf("stalled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStallDetectorRestartsAfterProgress(t *testing.T) {
	d := NewStallDetector(5 * time.Second)
	s := PartitionSample{Owner: "m1", Epoch: 1, Pending: 3, Delivered: 10, AckFloor: 10}
	d.Observe(0, s, t0)
	s.AckFloor = 11
	d.Observe(0, s, t0.Add(4*time.Second)) // progress: the clock starts again
	if d.Observe(0, s, t0.Add(8*time.Second)) {
		t.Fatal("stalled 4 s after progress")
	}
	if !d.Observe(0, s, t0.Add(9*time.Second)) {
		t.Fatal("not stalled 5 s after the last progress")
	}
}

func with(s PartitionSample, f func(*PartitionSample)) PartitionSample { f(&s); return s }

// TestMoveStalledGoesElsewhere: a partition taken from a member that did
// not consume it goes to another member, and that member gets no
// partitions until StalledAvoid has passed; with no other member it gets
// its partition back.
func TestMoveStalledGoesElsewhere(t *testing.T) {
	o := NewOwnership(nil, 2, 3*time.Second, t0)
	o.Heartbeat("a", t0)
	o.Heartbeat("b", t0)
	settle(t, o, t0)
	stuck := 0
	if o.Lease(0).Owner != "a" {
		stuck = 1
	}
	if !o.MoveStalled(stuck, t0) {
		t.Fatal("MoveStalled changed nothing")
	}
	if o.MoveStalled(stuck, t0) {
		t.Fatal("MoveStalled of a revoking partition changed something")
	}
	if !o.Lease(stuck).Revoking || !o.Release("a", stuck, o.Lease(stuck).Epoch) {
		t.Fatal("stalled partition not revoked")
	}
	settle(t, o, t0)
	if got := o.Lease(stuck).Owner; got != "b" {
		t.Fatalf("stalled partition went to %q, want b", got)
	}
	if n := o.Counts()["a"]; n != 0 {
		t.Fatalf("the stalled member still owns %d partitions", n)
	}
	if n := settle(t, o, t0.Add(time.Second)); n != 0 {
		t.Fatalf("%d partitions moved while nothing changed", n)
	}
	// After StalledAvoid the balance comes back.
	settle(t, o, t0.Add(StalledAvoid))
	checkBalanced(t, o, 2)

	solo := NewOwnership(nil, 1, 3*time.Second, t0)
	solo.Heartbeat("a", t0)
	settle(t, solo, t0)
	solo.MoveStalled(0, t0)
	solo.Heartbeat("a", t0.Add(2*time.Second))
	solo.Tick(t0.Add(3 * time.Second)) // never released: taken by force
	settle(t, solo, t0.Add(3*time.Second))
	if got := solo.Lease(0).Owner; got != "a" {
		t.Fatalf("only member did not get its stalled partition back: %q", got)
	}
}
