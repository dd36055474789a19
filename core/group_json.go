package core

import (
	"encoding/json"
	"fmt"
	"time"
)

// groupJSON is GroupConfig on the wire: durations as Go duration strings.
type groupJSON struct {
	Name           string   `json:"name,omitempty"`
	Topic          string   `json:"topic,omitempty"`
	Mode           string   `json:"mode,omitempty"`
	Ordered        bool     `json:"ordered,omitempty"`
	Tags           []string `json:"tags,omitempty"`
	MaxReconsume   int      `json:"max_reconsume,omitempty"`
	RetryBackoff   []string `json:"retry_backoff,omitempty"`
	Start          string   `json:"start,omitempty"`
	MemberTTL      string   `json:"member_ttl,omitempty"`
	SessionTimeout string   `json:"session_timeout,omitempty"`
	Suspend        string   `json:"suspend,omitempty"`
}

// MarshalJSON writes durations as Go duration strings ("1m0s").
func (c GroupConfig) MarshalJSON() ([]byte, error) {
	j := groupJSON{Name: c.Name, Topic: c.Topic, Mode: c.Mode, Ordered: c.Ordered, Tags: c.Tags,
		MaxReconsume: c.MaxReconsume, Start: c.Start}
	for _, d := range c.RetryBackoff {
		j.RetryBackoff = append(j.RetryBackoff, d.String())
	}
	j.MemberTTL = durString(c.MemberTTL)
	j.SessionTimeout = durString(c.SessionTimeout)
	j.Suspend = durString(c.Suspend)
	return json.Marshal(j)
}

// UnmarshalJSON reads durations as Go duration strings; an error names the
// key. It is lenient about keys it does not know, so that a registry entry
// a newer jetmq wrote still reads; a client's request goes through
// DecodeGroupConfig instead.
func (c *GroupConfig) UnmarshalJSON(b []byte) error {
	var j groupJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	return j.into(c)
}

// DecodeGroupConfig decodes a group config a client sent: like
// UnmarshalJSON, but an unknown key is an error naming it.
func DecodeGroupConfig(b []byte) (GroupConfig, error) {
	var j groupJSON
	var c GroupConfig
	if err := DecodeStrict(b, &j); err != nil {
		return c, err
	}
	err := j.into(&c)
	return c, err
}

// into converts the wire form to c.
func (j *groupJSON) into(c *GroupConfig) error {
	*c = GroupConfig{Name: j.Name, Topic: j.Topic, Mode: j.Mode, Ordered: j.Ordered, Tags: j.Tags,
		MaxReconsume: j.MaxReconsume, Start: j.Start}
	if j.RetryBackoff != nil {
		c.RetryBackoff = []time.Duration{}
	}
	for i, s := range j.RetryBackoff {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("retry_backoff[%d]: %q is not a duration like 10s or 1m", i, s)
		}
		c.RetryBackoff = append(c.RetryBackoff, d)
	}
	var err error
	if c.MemberTTL, err = parseDurationField("member_ttl", j.MemberTTL); err != nil {
		return err
	}
	if c.SessionTimeout, err = parseDurationField("session_timeout", j.SessionTimeout); err != nil {
		return err
	}
	if c.Suspend, err = parseDurationField("suspend", j.Suspend); err != nil {
		return err
	}
	return nil
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
