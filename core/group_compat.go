package core

import (
	"fmt"
	"time"
)

// CompatibleWith reports why an existing group g does not fit the config
// a joining member asked for ("" if it does): ordered must match; mode,
// tags and retry settings must match where the member gave them (an empty
// mode, nil tags and zero retry settings mean "whatever the group has").
func (g GroupConfig) CompatibleWith(want GroupConfig) string {
	if want.Mode != "" && want.Mode != g.Mode {
		return fmt.Sprintf("mode is %s, member asked for %s", g.Mode, want.Mode)
	}
	if want.Ordered != g.Ordered {
		return fmt.Sprintf("ordered is %v, member asked for %v", g.Ordered, want.Ordered)
	}
	if want.Tags != nil && !sameSet(want.Tags, g.Tags) {
		return fmt.Sprintf("tags are %v, member asked for %v", g.Tags, want.Tags)
	}
	if want.MaxReconsume != 0 && want.MaxReconsume != g.MaxReconsume {
		return fmt.Sprintf("max_reconsume is %d, member asked for %d", g.MaxReconsume, want.MaxReconsume)
	}
	if want.RetryBackoff != nil && !sameDurations(want.RetryBackoff, g.RetryBackoff) {
		return fmt.Sprintf("retry_backoff is %v, member asked for %v", g.RetryBackoff, want.RetryBackoff)
	}
	return ""
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}

func sameDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
