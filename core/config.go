package core

import (
	"fmt"
	"time"
)

// ConfigError names the configuration key that is wrong and what is wrong
// with it; its Error is the one line the binary prints before exiting 2.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Problem }

// ConfigErrorf builds the *ConfigError for key from a format.
func ConfigErrorf(key, format string, args ...any) error {
	return &ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// Limits and defaults of the topic model.
const (
	MaxPartitions        = 1024
	DefaultPartitions    = 8
	DefaultMaxDelay      = 30 * 24 * time.Hour
	DefaultTopicMaxAge   = 168 * time.Hour
	StorageFile          = "file"
	StorageMemory        = "memory"
	DefaultCheckImmunity = 6 * time.Second
	DefaultCheckInterval = 30 * time.Second
	DefaultCheckTimeout  = 3 * time.Second
	DefaultMaxChecks     = 15
	// DefaultCheckRate resolves a storm of 10,000 orphaned transactions in
	// about 4 s while leaving most of a small machine to normal traffic.
	DefaultCheckRate       = 2500
	DefaultMaxReconsume    = 16
	DefaultMemberTTL       = 30 * time.Second
	DefaultSessionTimeout  = 3 * time.Second
	MinSessionTimeout      = time.Second
	DefaultSuspend         = time.Second
	ModeClustering         = "clustering"
	ModeBroadcasting       = "broadcasting"
	StartNew               = "new"
	StartAll               = "all"
	StartLastPerKey        = "last_per_key"
	defaultTopicReplicas   = 1
	maxReplicas            = 5
	maxRetryBackoffEntries = 64
)

// Minimums that keep every duration driving a timer a real interval: no
// busy loop, no zero ticker.
const (
	MinTopicMaxAge   = 100 * time.Millisecond // JetStream's own minimum
	MinCheckInterval = 100 * time.Millisecond
	MinCheckTimeout  = 100 * time.Millisecond
	MinMemberTTL     = time.Second
	MinSuspend       = 10 * time.Millisecond
)

// DefaultRetryBackoff is RocketMQ's reconsume ladder.
var DefaultRetryBackoff = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 3 * time.Minute,
	4 * time.Minute, 5 * time.Minute, 6 * time.Minute, 7 * time.Minute, 8 * time.Minute,
	9 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
}

// TopicConfig describes one topic: a JetStream stream of the same name whose
// messages are spread over Partitions by sharding key.
type TopicConfig struct {
	Name       string        `mapstructure:"name" json:"name"`
	Partitions int           `mapstructure:"partitions" json:"partitions"`
	Replicas   int           `mapstructure:"replicas" json:"replicas"`
	MaxAge     time.Duration `mapstructure:"max_age" json:"max_age"`
	MaxBytes   int64         `mapstructure:"max_bytes" json:"max_bytes"`
	Storage    string        `mapstructure:"storage" json:"storage"`
	MaxDelay   time.Duration `mapstructure:"max_delay" json:"max_delay"`
}

// SetDefaults fills every zero field with its default.
func (c *TopicConfig) SetDefaults() {
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Replicas == 0 {
		c.Replicas = defaultTopicReplicas
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultTopicMaxAge
	}
	if c.Storage == "" {
		c.Storage = StorageFile
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = DefaultMaxDelay
	}
}

// Validate checks a topic whose defaults are set; key prefixes error keys.
func (c *TopicConfig) Validate(key string) error {
	if err := ValidateTopicName(c.Name); err != nil {
		return ConfigErrorf(key+".name", "%v", err)
	}
	if err := CheckPartitions(key+".partitions", c.Partitions); err != nil {
		return err
	}
	if c.Replicas < 1 || c.Replicas > maxReplicas {
		return ConfigErrorf(key+".replicas", "%d is out of range 1-%d", c.Replicas, maxReplicas)
	}
	if c.MaxAge < MinTopicMaxAge {
		return ConfigErrorf(key+".max_age", "%s is below the minimum %s", c.MaxAge, MinTopicMaxAge)
	}
	if c.MaxBytes < 0 {
		return ConfigErrorf(key+".max_bytes", "negative size %d (0 means no limit)", c.MaxBytes)
	}
	if c.Storage != StorageFile && c.Storage != StorageMemory {
		return ConfigErrorf(key+".storage", "%q is not one of file, memory", c.Storage)
	}
	return CheckMaxDelay(key+".max_delay", c.MaxDelay)
}

// CheckPartitions checks a partition count given under key.
func CheckPartitions(key string, n int) error {
	if n < 1 || n > MaxPartitions {
		return ConfigErrorf(key, "%d is out of range 1-%d", n, MaxPartitions)
	}
	return nil
}

// CheckMaxDelay checks a max_delay given under key.
func CheckMaxDelay(key string, d time.Duration) error {
	if d <= 0 {
		return ConfigErrorf(key, "%s is not a positive duration", d)
	}
	return nil
}

// TxnConfig holds the check-back timing of half messages.
type TxnConfig struct {
	CheckImmunity time.Duration `mapstructure:"check_immunity" json:"check_immunity"`
	CheckInterval time.Duration `mapstructure:"check_interval" json:"check_interval"`
	CheckTimeout  time.Duration `mapstructure:"check_timeout" json:"check_timeout"`
	MaxChecks     int           `mapstructure:"max_checks" json:"max_checks"`
	// CheckRate bounds the check-back requests one node sends per second
	// (over all its topics), so that a storm of orphaned transactions
	// coming due at once is spread out instead of starving normal traffic.
	CheckRate int `mapstructure:"check_rate" json:"check_rate"`
}

// SetDefaults fills every zero field with its default.
func (c *TxnConfig) SetDefaults() {
	if c.CheckImmunity == 0 {
		c.CheckImmunity = DefaultCheckImmunity
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	if c.MaxChecks == 0 {
		c.MaxChecks = DefaultMaxChecks
	}
	if c.CheckRate == 0 {
		c.CheckRate = DefaultCheckRate
	}
}

// Validate checks a transaction config whose defaults are set.
func (c *TxnConfig) Validate(key string) error {
	for _, d := range []struct {
		name     string
		v, least time.Duration
	}{{"check_immunity", c.CheckImmunity, 0}, {"check_interval", c.CheckInterval, MinCheckInterval}, {"check_timeout", c.CheckTimeout, MinCheckTimeout}} {
		if d.v < 0 {
			return ConfigErrorf(key+"."+d.name, "negative duration %s", d.v)
		}
		if d.v < d.least {
			return ConfigErrorf(key+"."+d.name, "%s is below the minimum %s", d.v, d.least)
		}
	}
	if c.MaxChecks < 0 {
		return ConfigErrorf(key+".max_checks", "negative count %d", c.MaxChecks)
	}
	if c.CheckRate < 0 {
		return ConfigErrorf(key+".check_rate", "negative rate %d", c.CheckRate)
	}
	return nil
}

// GroupConfig describes a consumer group of a topic.
type GroupConfig struct {
	Name           string          `mapstructure:"name" json:"name"`
	Topic          string          `mapstructure:"topic" json:"topic"`
	Mode           string          `mapstructure:"mode" json:"mode"`
	Ordered        bool            `mapstructure:"ordered" json:"ordered"`
	Tags           []string        `mapstructure:"tags" json:"tags"`
	MaxReconsume   int             `mapstructure:"max_reconsume" json:"max_reconsume"`
	RetryBackoff   []time.Duration `mapstructure:"retry_backoff" json:"retry_backoff"`
	Start          string          `mapstructure:"start" json:"start"`
	MemberTTL      time.Duration   `mapstructure:"member_ttl" json:"member_ttl"`
	SessionTimeout time.Duration   `mapstructure:"session_timeout" json:"session_timeout"`
	Suspend        time.Duration   `mapstructure:"suspend" json:"suspend"`
}

// SetDefaults fills every zero field with its default.
func (c *GroupConfig) SetDefaults() {
	if c.Mode == "" {
		c.Mode = ModeClustering
	}
	if c.MaxReconsume == 0 {
		c.MaxReconsume = DefaultMaxReconsume
	}
	if c.RetryBackoff == nil {
		c.RetryBackoff = append([]time.Duration(nil), DefaultRetryBackoff...)
	}
	if c.Start == "" {
		c.Start = StartNew
	}
	if c.MemberTTL == 0 {
		c.MemberTTL = DefaultMemberTTL
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.Suspend == 0 {
		c.Suspend = DefaultSuspend
	}
}

// Validate checks a group whose defaults are set.
func (c *GroupConfig) Validate(key string) error {
	if err := ValidateGroupName(c.Name); err != nil {
		return ConfigErrorf(key+".name", "%v", err)
	}
	if err := ValidateTopicName(c.Topic); err != nil {
		return ConfigErrorf(key+".topic", "%v", err)
	}
	if c.Mode != ModeClustering && c.Mode != ModeBroadcasting {
		return ConfigErrorf(key+".mode", "%q is not one of clustering, broadcasting", c.Mode)
	}
	for i, t := range c.Tags {
		if err := ValidateToken("tag", t); err != nil {
			return ConfigErrorf(fmt.Sprintf("%s.tags[%d]", key, i), "%v", err)
		}
	}
	if c.MaxReconsume < 1 {
		return ConfigErrorf(key+".max_reconsume", "%d must be at least 1", c.MaxReconsume)
	}
	if len(c.RetryBackoff) == 0 {
		return ConfigErrorf(key+".retry_backoff", "empty: give at least one duration")
	}
	if len(c.RetryBackoff) > maxRetryBackoffEntries {
		return ConfigErrorf(key+".retry_backoff", "%d entries, at most %d", len(c.RetryBackoff), maxRetryBackoffEntries)
	}
	for i, d := range c.RetryBackoff {
		if d <= 0 {
			return ConfigErrorf(fmt.Sprintf("%s.retry_backoff[%d]", key, i), "%s is not positive", d)
		}
		if i > 0 && d <= c.RetryBackoff[i-1] {
			return ConfigErrorf(fmt.Sprintf("%s.retry_backoff[%d]", key, i), "%s is not greater than the entry before it (%s): the ladder must increase", d, c.RetryBackoff[i-1])
		}
	}
	if c.Start != StartNew && c.Start != StartAll && c.Start != StartLastPerKey {
		return ConfigErrorf(key+".start", "%q is not one of new, all, last_per_key", c.Start)
	}
	if c.MemberTTL < MinMemberTTL {
		return ConfigErrorf(key+".member_ttl", "%s is below the minimum %s", c.MemberTTL, MinMemberTTL)
	}
	if c.SessionTimeout < MinSessionTimeout {
		return ConfigErrorf(key+".session_timeout", "%s is below the minimum %s", c.SessionTimeout, MinSessionTimeout)
	}
	if c.Suspend < MinSuspend {
		return ConfigErrorf(key+".suspend", "%s is below the minimum %s", c.Suspend, MinSuspend)
	}
	return nil
}
