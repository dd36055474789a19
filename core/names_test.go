package core

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"orders", true}, {"Order_s-1", true}, {strings.Repeat("a", 64), true},
		{"", false}, {strings.Repeat("a", 65), false}, {"a.b", false}, {"a*", false},
		{"a>", false}, {"a b", false}, {"ä", false}, {"a~", false},
	} {
		for what, validate := range map[string]func(string) error{"topic": ValidateTopicName, "group": ValidateGroupName, "member": ValidateMemberID} {
			if err := validate(c.name); (err == nil) != c.ok {
				t.Errorf("%s %q: err %v, want ok %v", what, c.name, err, c.ok)
			}
		}
	}
	if ValidateTxnID(strings.Repeat("x", 128)) != nil || ValidateTxnID(strings.Repeat("x", 129)) == nil || ValidateTxnID("~") == nil {
		t.Error("transaction ids are 1-128 of [A-Za-z0-9_-]")
	}
}
