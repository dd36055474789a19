package wire

import "testing"

func TestGroupFilters(t *testing.T) {
	if f := GroupFilters("t", nil); len(f) != 0 {
		t.Fatalf("untagged filter %v: a whole-topic group is unfiltered (the topic stream holds only topic messages)", f)
	}
	if f := GroupFilters("t", []string{"x"}); len(f) != 1 || f[0] != "t.*.*.x" {
		t.Fatalf("one tag filter %v", f)
	}
}
