package bridge

import (
	"bytes"
	"encoding/json"

	"github.com/jetmq/jetmq/wire"
)

// replyHeadroom is what a reply leaves of max_payload for the NATS
// message headers around it.
const replyHeadroom = 1024

// decodeInfoRequest reads a GROUP.INFO body: empty, or offset and limit;
// anything else is a 400 naming what is wrong.
func decodeInfoRequest(body []byte) (wire.GroupInfoRequest, error) {
	var req wire.GroupInfoRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, errBadRequest("group info request: %v (want {\"offset\":N,\"limit\":M})", err)
	}
	if req.Offset < 0 || req.Limit < 0 {
		return req, errBadRequest("group info request: offset and limit must not be negative")
	}
	return req, nil
}

// pageMembers cuts st's members (all of them, sorted) to the page at
// offset of at most limit members.
func pageMembers(st wire.GroupStatus, offset, limit int) wire.GroupStatus {
	st.MembersTotal, st.MembersOffset = len(st.Members), offset
	end := min(len(st.Members), offset+limit)
	if offset >= end {
		st.Members = []wire.MemberStatus{}
		return st
	}
	st.Members = st.Members[offset:end]
	return st
}

// fitPage encodes the page req asks for. Without a limit the default page
// shrinks until the reply fits maxPayload; a page the client asked for
// that does not fit is a 413.
func fitPage(st wire.GroupStatus, req wire.GroupInfoRequest, maxPayload int) (json.RawMessage, error) {
	limit := req.Limit
	if limit == 0 {
		limit = wire.DefaultMemberPage
	}
	room := maxPayload - replyHeadroom
	for {
		b, err := json.Marshal(pageMembers(st, req.Offset, limit))
		if err != nil {
			return nil, errInternal("encode group status: %v", err)
		}
		if len(b) <= room {
			return b, nil
		}
		if req.Limit != 0 || limit <= 1 {
			return nil, errTooLarge("group info of %d members from offset %d is %d bytes, over the server's max_payload (%d): ask for a smaller \"limit\"",
				limit, req.Offset, len(b), maxPayload)
		}
		limit = max(1, min(limit-1, limit*room/len(b)))
	}
}
