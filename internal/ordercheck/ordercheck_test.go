package ordercheck

import (
	"testing"
	"time"
)

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

func TestChecker(t *testing.T) {
	pub := []Published{{0, "a", 1}, {0, "b", 2}, {0, "a", 3}, {1, "c", 4}}
	cases := []struct {
		name                                 string
		events                               []Event
		dead                                 []uint64
		violations, keyOrder, overlaps, miss int
		dups                                 int
	}{
		{"clean", []Event{{0, "a", 1, "m1", at(0), at(1), true}, {0, "b", 2, "m1", at(2), at(3), true}, {0, "a", 3, "m1", at(4), at(5), true}, {1, "c", 4, "m2", at(0), at(9), true}}, nil, 0, 0, 0, 0, 0},
		{"redelivered tail after handover", []Event{{0, "a", 1, "m1", at(0), at(1), true}, {0, "b", 2, "m1", at(2), at(3), true}, {0, "b", 2, "m2", at(10), at(11), true}, {0, "a", 3, "m2", at(12), at(13), true}, {1, "c", 4, "m2", at(0), at(1), true}}, nil, 0, 0, 0, 0, 1},
		{"skip ahead", []Event{{0, "b", 2, "m1", at(0), at(1), true}, {0, "a", 1, "m1", at(2), at(3), true}, {0, "a", 3, "m1", at(4), at(5), true}, {1, "c", 4, "m2", at(0), at(1), true}}, nil, 1, 0, 0, 0, 0},
		{"key out of order", []Event{{0, "a", 3, "m1", at(0), at(1), true}, {0, "a", 1, "m1", at(2), at(3), true}, {0, "b", 2, "m1", at(4), at(5), true}, {1, "c", 4, "m2", at(0), at(1), true}}, nil, 1, 1, 0, 0, 0},
		{"overlap", []Event{{0, "a", 1, "m1", at(0), at(5), true}, {0, "b", 2, "m2", at(6), at(7), true}, {0, "a", 3, "m1", at(6), at(8), true}, {1, "c", 4, "m2", at(0), at(1), true}}, nil, 1, 0, 1, 0, 0},
		{"missing and failed attempt", []Event{{0, "a", 1, "m1", at(0), at(1), false}, {0, "b", 2, "m1", at(2), at(3), true}}, nil, 1, 0, 0, 3, 0},
		{"dead letter counts as finished", []Event{{0, "b", 2, "m1", at(2), at(3), true}, {0, "a", 3, "m1", at(4), at(5), true}, {1, "c", 4, "m2", at(0), at(1), true}}, []uint64{1}, 0, 0, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			for _, p := range pub {
				c.Publish(p)
			}
			for _, e := range tc.events {
				c.Record(e)
			}
			for _, s := range tc.dead {
				c.Dead(s, at(1))
			}
			r := c.Check()
			if len(r.Violations) != tc.violations || len(r.KeyOrder) != tc.keyOrder || len(r.Overlaps) != tc.overlaps || len(r.Missing) != tc.miss || r.Duplicates != tc.dups {
				t.Fatalf("got %s", r)
			}
			if r.OK() != (tc.violations+tc.keyOrder+tc.overlaps+tc.miss == 0) {
				t.Fatalf("OK() = %v for %s", r.OK(), r)
			}
		})
	}
}
