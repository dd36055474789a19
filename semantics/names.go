package semantics

import (
	"fmt"
	"regexp"
	"strings"
)

// Name limits from the contract.
var (
	topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	txnIDRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	groupNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// ValidateTopicName reports whether name is a legal topic name.
func ValidateTopicName(name string) error {
	if !topicNameRE.MatchString(name) {
		return fmt.Errorf("invalid topic name %q: want 1-64 of [A-Za-z0-9_-]", name)
	}
	return nil
}

// ValidateGroupName reports whether name is a legal consumer-group name.
func ValidateGroupName(name string) error {
	if !groupNameRE.MatchString(name) {
		return fmt.Errorf("invalid group name %q: want 1-64 of [A-Za-z0-9_-]", name)
	}
	return nil
}

// ValidateTxnID reports whether id is a legal transaction id.
func ValidateTxnID(id string) error {
	if !txnIDRE.MatchString(id) {
		return fmt.Errorf("invalid transaction id %q: want 1-128 of [A-Za-z0-9_-]", id)
	}
	return nil
}

// ValidateToken reports whether s can be one NATS subject token, which is
// what a sharding key or a tag must be: non-empty, printable, and free of
// '.', '*', '>' and white space.
func ValidateToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(s) > 255 {
		return fmt.Errorf("%s %q is longer than 255 bytes", what, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f
	}); i >= 0 {
		return fmt.Errorf("%s %q has %q at %d: a %s must be one subject token without '.', '*', '>' or white space", what, s, s[i], i, what)
	}
	return nil
}
