package core

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
	MaxBytes   int64  `json:"max_bytes"` // always shown: 0 is "no limit"
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

// TopicRequest is the body of TOPIC.CREATE and TOPIC.UPDATE (decode it
// with DecodeStrict). A field given sets that setting, and is checked as
// given: an explicit 0 is not "the default". A field left out keeps its
// default on CREATE and its current value on UPDATE.
type TopicRequest struct {
	Name       *string `json:"name"`
	Partitions *int    `json:"partitions"`
	Replicas   *int    `json:"replicas"`
	MaxAge     *string `json:"max_age"`
	MaxBytes   *int64  `json:"max_bytes"` // 0: no limit
	Storage    *string `json:"storage"`
	MaxDelay   *string `json:"max_delay"`
	// Force raises partitions although ordered groups have pending
	// messages (UPDATE).
	Force bool `json:"force"`
}

// Overlay returns base with the fields given in r; the caller validates
// the result.
func (r TopicRequest) Overlay(base TopicConfig) (TopicConfig, error) {
	c := base
	setIf(&c.Name, r.Name)
	setIf(&c.Partitions, r.Partitions)
	setIf(&c.Replicas, r.Replicas)
	setIf(&c.MaxBytes, r.MaxBytes)
	setIf(&c.Storage, r.Storage)
	for _, d := range []struct {
		key string
		in  *string
		out *time.Duration
	}{{"max_age", r.MaxAge, &c.MaxAge}, {"max_delay", r.MaxDelay, &c.MaxDelay}} {
		if d.in == nil {
			continue
		}
		v, err := time.ParseDuration(*d.in)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not a duration like 90s or 168h", d.key, *d.in)
		}
		*d.out = v
	}
	return c, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
