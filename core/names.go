package core

import (
	"fmt"
	"strings"
)

// IsName reports whether s is 1 to maxLen of [A-Za-z0-9_-], the alphabet
// of every name in the contract (topics, groups, members, transaction
// ids). It runs on every transaction request, hence no regexp.
func IsName(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateTopicName reports whether name is a legal topic name.
func ValidateTopicName(name string) error {
	if !IsName(name, 64) {
		return fmt.Errorf("invalid topic name %q: want 1-64 of [A-Za-z0-9_-]", name)
	}
	return nil
}

// ValidateGroupName reports whether name is a legal consumer-group name.
func ValidateGroupName(name string) error {
	if !IsName(name, 64) {
		return fmt.Errorf("invalid group name %q: want 1-64 of [A-Za-z0-9_-]", name)
	}
	return nil
}

// ValidateTxnID reports whether id is a legal transaction id.
func ValidateTxnID(id string) error {
	if !IsName(id, 128) {
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

// ValidateMemberID reports whether id is a legal member id.
func ValidateMemberID(id string) error {
	if !IsName(id, 64) {
		return fmt.Errorf("invalid member id %q: want 1-64 of [A-Za-z0-9_-]", id)
	}
	return nil
}
