package wire

import (
	"errors"
	"fmt"
	"time"

	"github.com/jetmq/jetmq/core"
)

// Message, delayed-message and lag inspection (docs/PROTOCOL.md,
// "Inspecting messages"): $MQ.API.MSG.GET|LIST|TRACE.<topic>,
// $MQ.API.DELAY.LIST|CANCEL.<topic>, $MQ.API.GROUP.LAG.<topic>.<group>.
const (
	MsgAPIPrefix   = APIPrefix + "MSG."
	DelayAPIPrefix = APIPrefix + "DELAY."
)

// Page sizes of MSG.LIST and DELAY.LIST.
const (
	DefaultMsgPage = 100
	MaxMsgPage     = 1000
)

// MsgGetRequest is the body of MSG.GET and MSG.TRACE: a sequence of the
// topic stream.
type MsgGetRequest struct {
	Seq uint64 `json:"seq"`
}

// ParseMsgGetRequest decodes and checks a MSG.GET or MSG.TRACE body.
func ParseMsgGetRequest(body []byte) (MsgGetRequest, error) {
	var r MsgGetRequest
	if err := core.DecodeStrict(body, &r); err != nil {
		return r, err
	}
	if r.Seq == 0 {
		return r, errors.New("seq: give the stream sequence of the message (1 or more)")
	}
	return r, nil
}

// MsgListRequest is the body of MSG.LIST: exactly one of Key, StartSeq and
// StartTime selects the messages (EndTime only with StartTime); Next, the
// cursor of the previous page, continues the same listing.
type MsgListRequest struct {
	Key       string     `json:"key,omitempty"`
	StartSeq  uint64     `json:"start_seq,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	EndTime   *time.Time `json:"end_time,omitempty"`
	Limit     *int       `json:"limit,omitempty"`
	Next      uint64     `json:"next,omitempty"`
}

// ParseMsgListRequest decodes and checks a MSG.LIST body.
func ParseMsgListRequest(body []byte) (MsgListRequest, error) {
	var w struct {
		MsgListRequest
		StartTime *string `json:"start_time,omitempty"`
		EndTime   *string `json:"end_time,omitempty"`
	}
	if err := core.DecodeStrict(body, &w); err != nil {
		return w.MsgListRequest, err
	}
	r := w.MsgListRequest
	for _, f := range []struct {
		key string
		in  *string
		out **time.Time
	}{{"start_time", w.StartTime, &r.StartTime}, {"end_time", w.EndTime, &r.EndTime}} {
		if f.in == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, *f.in)
		if err != nil {
			return r, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", f.key, *f.in)
		}
		*f.out = &at
	}
	n := 0
	for _, given := range []bool{r.Key != "", r.StartSeq != 0, r.StartTime != nil} {
		if given {
			n++
		}
	}
	if n != 1 {
		return r, errors.New("give exactly one of key, start_seq and start_time")
	}
	if r.Key != "" {
		if err := core.ValidateToken("key", r.Key); err != nil {
			return r, err
		}
	}
	if r.EndTime != nil && (r.StartTime == nil || r.EndTime.Before(*r.StartTime)) {
		return r, errors.New("end_time: only with start_time, and not before it")
	}
	return r, checkLimit(r.Limit)
}

// PageLimit is the page size limit asks for (DefaultMsgPage when nil).
func PageLimit(limit *int) int {
	if limit == nil {
		return DefaultMsgPage
	}
	return *limit
}

func checkLimit(limit *int) error {
	if limit != nil && (*limit < 1 || *limit > MaxMsgPage) {
		return fmt.Errorf("limit: %d is out of range: give 1 to %d (default %d)", *limit, MaxMsgPage, DefaultMsgPage)
	}
	return nil
}

// TopicMsg is one stored message of a topic (MSG.GET, MSG.LIST, and the
// message of MSG.TRACE without its data). Headers are the message's own,
// without the ones direct get adds; Size counts headers and data.
type TopicMsg struct {
	Seq       uint64              `json:"seq"`
	Subject   string              `json:"subject"`
	Partition int                 `json:"partition"`
	Key       string              `json:"key"`
	Tag       string              `json:"tag,omitempty"`
	Time      time.Time           `json:"time"`
	Headers   map[string][]string `json:"headers,omitempty"`
	Data      []byte              `json:"data"`
	Size      int                 `json:"size"`
	// DataOmitted: the body alone would not fit a reply; MSG.GET it, or
	// read the stream directly.
	DataOmitted bool `json:"data_omitted,omitempty"`
}

// MsgList is the reply of MSG.LIST: Next is the cursor to send for the
// next page (0 when there is none).
type MsgList struct {
	Messages []TopicMsg `json:"messages"`
	Next     uint64     `json:"next,omitempty"`
}

// DelayListRequest is the body of DELAY.LIST: from the internal stream's
// sequence From (the cursor of the previous page), at most Limit.
type DelayListRequest struct {
	From  uint64 `json:"from,omitempty"`
	Limit *int   `json:"limit,omitempty"`
}

// ParseDelayListRequest decodes and checks a DELAY.LIST body.
func ParseDelayListRequest(body []byte) (DelayListRequest, error) {
	var r DelayListRequest
	if err := core.DecodeStrict(body, &r); err != nil {
		return r, err
	}
	return r, checkLimit(r.Limit)
}

// DelayedMsg is one delayed message still waiting.
type DelayedMsg struct {
	ID        string    `json:"id"`
	Seq       uint64    `json:"seq"`
	DeliverAt time.Time `json:"deliver_at"`
	Subject   string    `json:"subject"`
	Partition int       `json:"partition"`
	Key       string    `json:"key"`
	Tag       string    `json:"tag,omitempty"`
	Size      int       `json:"size"`
}

// DelayList is the reply of DELAY.LIST, in the order the messages were
// stored. Total counts the waiting messages from the page's start on (all
// of them on the first page); Next is the cursor of the next page.
type DelayList struct {
	Delayed []DelayedMsg `json:"delayed"`
	Total   uint64       `json:"total"`
	Next    uint64       `json:"next,omitempty"`
}

// DelayCancelRequest is the body of DELAY.CANCEL: the id of the DELAY
// reply.
type DelayCancelRequest struct {
	ID string `json:"id"`
}

// ParseDelayCancelRequest decodes and checks a DELAY.CANCEL body.
func ParseDelayCancelRequest(body []byte) (DelayCancelRequest, error) {
	var r DelayCancelRequest
	if err := core.DecodeStrict(body, &r); err != nil {
		return r, err
	}
	if !core.IsName(r.ID, 64) {
		return r, fmt.Errorf("id: %q is not a delayed message id (the \"id\" of the DELAY reply)", r.ID)
	}
	return r, nil
}

// DelayCancelReply answers a cancel that removed the message.
type DelayCancelReply struct {
	Cancelled bool      `json:"cancelled"`
	ID        string    `json:"id"`
	Seq       uint64    `json:"seq"`
	DeliverAt time.Time `json:"deliver_at"`
}

// DelaySubject is where delayed message id waits in topic's internal
// stream, as a NATS message schedule: $MQ.INT.<topic>.D.<id>.
func DelaySubject(topic, id string) string { return InternalPrefix + topic + ".D." + id }

// DelayFilter selects every delayed message of topic still waiting.
func DelayFilter(topic string) string { return DelaySubject(topic, "*") }
