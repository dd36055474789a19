package server

import (
	"fmt"
	"testing"
)

func TestOwnerOf(t *testing.T) {
	live := []string{"n1", "n2", "n3"}
	if got := ownerOf("x", nil); got != "" {
		t.Fatalf("empty set: got %q, want \"\"", got)
	}
	if got := ownerOf("x", []string{"solo"}); got != "solo" {
		t.Fatalf("one node: got %q", got)
	}
	counts := map[string]int{}
	for i := 0; i < 300; i++ {
		name := fmt.Sprintf("singleton-%d", i)
		owner := ownerOf(name, live)
		// Every node computes the same answer whatever order it lists the
		// live nodes in.
		if again := ownerOf(name, []string{"n3", "n1", "n2"}); again != owner {
			t.Fatalf("%s: order changes the owner: %s vs %s", name, owner, again)
		}
		counts[owner]++
		// Removing a node that does not own name leaves name where it is.
		for _, gone := range live {
			if gone == owner {
				continue
			}
			var rest []string
			for _, n := range live {
				if n != gone {
					rest = append(rest, n)
				}
			}
			if got := ownerOf(name, rest); got != owner {
				t.Fatalf("%s moved from %s to %s when %s left", name, owner, got, gone)
			}
		}
	}
	for _, n := range live {
		if counts[n] < 50 {
			t.Fatalf("singletons spread unevenly: %v", counts)
		}
	}
}
