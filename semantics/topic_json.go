package semantics

import (
	"encoding/json"
	"fmt"
	"time"
)

// topicJSON is TopicConfig on the wire: durations as Go duration strings.
type topicJSON struct {
	Name       string `json:"name,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
	Replicas   int    `json:"replicas,omitempty"`
	MaxAge     string `json:"max_age,omitempty"`
	MaxBytes   int64  `json:"max_bytes,omitempty"`
	Storage    string `json:"storage,omitempty"`
	MaxDelay   string `json:"max_delay,omitempty"`
}

// MarshalJSON writes durations as Go duration strings ("168h0m0s").
func (c TopicConfig) MarshalJSON() ([]byte, error) {
	j := topicJSON{Name: c.Name, Partitions: c.Partitions, Replicas: c.Replicas, MaxBytes: c.MaxBytes, Storage: c.Storage}
	if c.MaxAge != 0 {
		j.MaxAge = c.MaxAge.String()
	}
	if c.MaxDelay != 0 {
		j.MaxDelay = c.MaxDelay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads durations as Go duration strings.
func (c *TopicConfig) UnmarshalJSON(b []byte) error {
	var j topicJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var err error
	*c = TopicConfig{Name: j.Name, Partitions: j.Partitions, Replicas: j.Replicas, MaxBytes: j.MaxBytes, Storage: j.Storage}
	if c.MaxAge, err = parseDurationField("max_age", j.MaxAge); err != nil {
		return err
	}
	if c.MaxDelay, err = parseDurationField("max_delay", j.MaxDelay); err != nil {
		return err
	}
	return nil
}

func parseDurationField(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like 90s or 168h", key, s)
	}
	return d, nil
}
