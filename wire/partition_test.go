package wire

import (
	"testing"
)

func TestParseStoredSubject(t *testing.T) {
	good := map[string]StoredMessage{
		"orders.3.user-1":     {Topic: "orders", Partition: 3, Key: "user-1"},
		"orders.0.user-1.vip": {Topic: "orders", Partition: 0, Key: "user-1", Tag: "vip"},
	}
	for subj, want := range good {
		if got, err := ParseStoredSubject(subj); err != nil || got != want {
			t.Errorf("ParseStoredSubject(%q) = %+v, %v; want %+v", subj, got, err, want)
		}
	}
	for _, bad := range []string{"", "orders", "orders.1", "orders.1.k.t.u", "orders.1.k.t.", "orders.x.k", "orders.-1.k"} {
		if _, err := ParseStoredSubject(bad); err == nil {
			t.Errorf("ParseStoredSubject(%q) gave no error", bad)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseStoredSubject("orders.3.user-1.vip") }); n != 0 {
		t.Errorf("ParseStoredSubject allocates %v times per call", n)
	}
}
