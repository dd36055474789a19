package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DelayRequest is a validated delayed publish; its time is decided by
// DeliveryTime once the topic's max_delay is known.
type DelayRequest struct {
	Topic, Key, Tag string
}

// ParseDelay validates a delayed publish: its subject
// ($MQ.DELAY.<topic>.<key>[.<tag>]) and its headers, which may not include
// what PREPARE refuses (CheckClientHeaders). It checks neither that the
// topic exists nor the delivery time.
func ParseDelay(subject string, h nats.Header) (DelayRequest, *APIError) {
	const want = DelayPrefix + "<topic>.<key>[.<tag>]"
	rest, ok := strings.CutPrefix(subject, DelayPrefix)
	if !ok {
		return DelayRequest{}, badRequest("subject %q: want %s", subject, want)
	}
	var r DelayRequest
	var aerr *APIError
	if r.Topic, r.Key, r.Tag, aerr = parseInput(rest, want); aerr != nil {
		return r, aerr
	}
	if r.Key == "" {
		return r, badRequest("subject %q has no key: want %s", subject, want)
	}
	return r, CheckClientHeaders(h)
}

// DeliveryTime decides when a delayed message is due from its headers
// Mq-Deliver-At (RFC 3339, nanoseconds allowed) or Mq-Delay (a Go duration):
// exactly one must be set. A time in the past means now; a time beyond
// now+maxDelay is refused. Pure: now is given.
func DeliveryTime(deliverAt, delay string, now time.Time, maxDelay time.Duration) (time.Time, error) {
	deliverAt, delay = strings.TrimSpace(deliverAt), strings.TrimSpace(delay)
	var at time.Time
	switch {
	case deliverAt != "" && delay != "":
		return time.Time{}, fmt.Errorf("set one of %s and %s, not both", HeaderDeliverAt, HeaderDelay)
	case deliverAt != "":
		t, err := time.Parse(time.RFC3339Nano, deliverAt)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05.123Z", HeaderDeliverAt, deliverAt)
		}
		at = t
	case delay != "":
		d, err := time.ParseDuration(delay)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %q is not a duration such as 90s or 1h30m", HeaderDelay, delay)
		}
		if d < 0 {
			return time.Time{}, fmt.Errorf("%s %q is negative", HeaderDelay, delay)
		}
		at = now.Add(d)
	default:
		return time.Time{}, fmt.Errorf("a delayed message needs %s or %s", HeaderDeliverAt, HeaderDelay)
	}
	if at.Before(now) {
		return now, nil
	}
	if maxDelay > 0 && at.Sub(now) > maxDelay {
		return time.Time{}, fmt.Errorf("delivery at %s is %s away, beyond the topic's max_delay %s", at.UTC().Format(time.RFC3339Nano), at.Sub(now).Round(time.Second), maxDelay)
	}
	return at, nil
}

// ScheduleAt formats t for the Nats-Schedule header with full nanosecond
// precision (nats.go's helper rounds to seconds and can fire early).
func ScheduleAt(t time.Time) string { return "@at " + t.UTC().Format(time.RFC3339Nano) }

// DelayReply answers a delayed publish.
type DelayReply struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Partition int       `json:"partition"`
	DeliverAt time.Time `json:"deliver_at"`
	Duplicate bool      `json:"duplicate,omitempty"`
	// ID names the waiting message for DELAY.LIST and DELAY.CANCEL: the
	// last token of its subject $MQ.INT.<topic>.D.<id>.
	ID string `json:"id"`
}
