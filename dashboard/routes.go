package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// Subjects the endpoints use (docs/PROTOCOL.md).
const (
	apiPrefix     = wire.APIPrefix
	summarySubj   = apiPrefix + "SUMMARY"
	topicAPI      = apiPrefix + "TOPIC."
	groupAPI      = wire.GroupAPIPrefix
	dlqAPI        = wire.DLQAPIPrefix
	msgAPI        = wire.MsgAPIPrefix
	delayAPI      = wire.DelayAPIPrefix
	txnAPI        = wire.TxnAPIPrefix
	txnEndPrefix  = "$MQ.TXN."
	headerTxnBy   = "Mq-Txn-By"
	txnByOperator = "operator"
)

// routes registers the JSON endpoints: each is one request on the user's
// connection (the group page's two, and a replay of selected dead letters,
// are small bounded fan-ins).
func (h *Handler) routes() {
	pass := map[string]func(r *http.Request) (string, bodyFrom){
		"GET /ui/api/overview":                      fixed(summarySubj, freshBody),
		"GET /ui/api/topics":                        fixed(summarySubj+".TOPICS", summaryBody),
		"GET /ui/api/groups":                        fixed(summarySubj+".GROUPS", summaryBody),
		"GET /ui/api/txns":                          fixed(summarySubj+".TXNS", summaryBody),
		"GET /ui/api/topics/{topic}":                on(topicAPI+"INFO.{topic}", noBody),
		"POST /ui/api/topics/{topic}":               on(topicAPI+"CREATE.{topic}", jsonBody),
		"PUT /ui/api/topics/{topic}":                on(topicAPI+"UPDATE.{topic}", jsonBody),
		"DELETE /ui/api/topics/{topic}":             on(topicAPI+"DELETE.{topic}", noBody),
		"POST /ui/api/groups/{topic}/{group}":       on(groupAPI+"CREATE.{topic}.{group}", jsonBody),
		"DELETE /ui/api/groups/{topic}/{group}":     on(groupAPI+"DELETE.{topic}.{group}", noBody),
		"POST /ui/api/groups/{topic}/{group}/reset": on(groupAPI+"RESET.{topic}.{group}", jsonBody),
		"GET /ui/api/groups/{topic}/{group}/lag":    on(groupAPI+"LAG.{topic}.{group}", noBody),
		"GET /ui/api/txns/{topic}/{txid}":           on(txnAPI+"INFO.{topic}.{txid}", noBody),
		"GET /ui/api/dlq/{topic}/{group}":           on(dlqAPI+"LIST.{topic}.{group}", queryBody("from:uint", "limit:int")),
		"GET /ui/api/dlq/{topic}/{group}/{seq}":     on(dlqAPI+"SHOW.{topic}.{group}", seqBody),
		"POST /ui/api/dlq/{topic}/{group}/purge":    on(dlqAPI+"PURGE.{topic}.{group}", noBody),
		"GET /ui/api/msgs/{topic}":                  on(msgAPI+"LIST.{topic}", queryBody("key:str", "start_seq:uint", "start_time:str", "end_time:str", "limit:int", "next:uint")),
		"GET /ui/api/msgs/{topic}/{seq}":            on(msgAPI+"GET.{topic}", seqBody),
		"GET /ui/api/msgs/{topic}/{seq}/trace":      on(msgAPI+"TRACE.{topic}", seqBody),
		"POST /ui/api/msgs/{topic}/{seq}/resend":    on(msgAPI+"RESEND.{topic}", seqAndJSON),
		"GET /ui/api/delayed/{topic}":               on(delayAPI+"LIST.{topic}", queryBody("from:uint", "limit:int")),
		"POST /ui/api/delayed/{topic}/{id}/cancel":  on(delayAPI+"CANCEL.{topic}", idBody),
	}
	for pattern, f := range pass {
		h.mux.HandleFunc(pattern, h.withSession(passThrough(f)))
	}
	h.mux.HandleFunc("GET /ui/api/groups/{topic}/{group}", h.withSession(groupDetail))
	h.mux.HandleFunc("POST /ui/api/txns/{topic}/{txid}/{end}", h.withSession(endTxn))
	h.mux.HandleFunc("POST /ui/api/dlq/{topic}/{group}/replay", h.withSession(replayDLQ))
	h.mux.HandleFunc("GET /ui/api/dlq/{topic}/{group}/export", h.withSession(exportDLQ))
	h.mux.HandleFunc("POST /ui/api/topics/{topic}/send", h.withSession(sendTest))
}

// bodyFrom builds a request body from the HTTP request.
type bodyFrom func(r *http.Request) (any, error)

func fixed(subject string, b bodyFrom) func(*http.Request) (string, bodyFrom) {
	return func(*http.Request) (string, bodyFrom) { return subject, b }
}

// on fills {name} placeholders of subject from the path. The mux keeps a
// value to one path segment; a segment that is not one subject token is
// refused here, before it could change the subject's shape.
func on(subject string, b bodyFrom) func(*http.Request) (string, bodyFrom) {
	return func(r *http.Request) (string, bodyFrom) {
		out := subject
		for {
			i := strings.Index(out, "{")
			if i < 0 {
				return out, b
			}
			j := strings.Index(out[i:], "}")
			name := out[i+1 : i+j]
			v := r.PathValue(name)
			if !subjectToken(v) {
				return "", func(*http.Request) (any, error) { return nil, errBadRequest("%s %q is not a valid name", name, v) }
			}
			out = out[:i] + v + out[i+j+1:]
		}
	}
}

// subjectToken reports whether v is one NATS subject token.
func subjectToken(v string) bool {
	return v != "" && !strings.ContainsAny(v, ".*> \t\r\n")
}

func passThrough(f func(*http.Request) (string, bodyFrom)) endpoint {
	return func(ctx context.Context, s *session, r *http.Request) (any, error) {
		subject, b := f(r)
		body, err := b(r)
		if err != nil {
			return nil, err
		}
		return s.call(ctx, subject, body)
	}
}

func noBody(*http.Request) (any, error) { return nil, nil }

// jsonBody passes the request's JSON body on as it is (the jetmq API
// checks it strictly and names a bad key).
func jsonBody(r *http.Request) (any, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errBadRequest("read body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, errBadRequest("the body is not JSON")
	}
	return json.RawMessage(b), nil
}

// freshBody asks the summary for a new snapshot with ?fresh=1.
func freshBody(r *http.Request) (any, error) {
	if r.URL.Query().Get("fresh") != "" {
		return map[string]bool{"fresh": true}, nil
	}
	return nil, nil
}

func summaryBody(r *http.Request) (any, error) {
	return queryBody("fresh:bool", "topic:str", "offset:int", "limit:int")(r)
}

// queryBody turns the query parameters named ("name:type") into a JSON
// object; parameters not given stay out of it.
func queryBody(fields ...string) bodyFrom {
	return func(r *http.Request) (any, error) {
		q := r.URL.Query()
		out := map[string]any{}
		for _, f := range fields {
			name, kind, _ := strings.Cut(f, ":")
			v := q.Get(name)
			if v == "" {
				continue
			}
			switch kind {
			case "str":
				out[name] = v
			case "bool":
				out[name] = v != "0" && v != "false"
			case "int", "uint":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || (kind == "uint" && n < 0) {
					return nil, errBadRequest("%s: %q is not a number", name, v)
				}
				out[name] = n
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
}

func pathSeq(r *http.Request) (uint64, error) {
	n, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || n == 0 {
		return 0, errBadRequest("seq %q is not a sequence number", r.PathValue("seq"))
	}
	return n, nil
}

func seqBody(r *http.Request) (any, error) {
	n, err := pathSeq(r)
	if err != nil {
		return nil, err
	}
	return map[string]uint64{"seq": n}, nil
}

// seqAndJSON adds the path's seq to the JSON body's fields.
func seqAndJSON(r *http.Request) (any, error) {
	n, err := pathSeq(r)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if b, _ := io.ReadAll(r.Body); len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			return nil, errBadRequest("request body: %v", err)
		}
	}
	body["seq"] = n
	return body, nil
}

func idBody(r *http.Request) (any, error) {
	return map[string]string{"id": r.PathValue("id")}, nil
}

// groupDetail answers a group's status (with its members and ordered
// partitions) and its lag per partition and member: two requests.
func groupDetail(ctx context.Context, s *session, r *http.Request) (any, error) {
	t, g := r.PathValue("topic"), r.PathValue("group")
	if !subjectToken(t) || !subjectToken(g) {
		return nil, errBadRequest("bad topic or group name")
	}
	type result struct {
		raw json.RawMessage
		err error
	}
	lagc := make(chan result, 1)
	go func() {
		raw, err := s.call(ctx, groupAPI+"LAG."+t+"."+g, nil)
		lagc <- result{raw, err}
	}()
	info, err := s.call(ctx, groupAPI+"INFO."+t+"."+g, nil)
	lag := <-lagc
	if err != nil {
		return nil, err
	}
	out := map[string]any{"info": info, "lag": lag.raw}
	if lag.err != nil {
		out["lag_error"] = lag.err
	}
	return out, nil
}

// endTxn commits or rolls back a transaction as an operator.
func endTxn(ctx context.Context, s *session, r *http.Request) (any, error) {
	t, id, end := r.PathValue("topic"), r.PathValue("txid"), r.PathValue("end")
	if !subjectToken(t) || !subjectToken(id) {
		return nil, errBadRequest("bad topic or transaction id")
	}
	var op string
	switch end {
	case "commit":
		op = "COMMIT."
	case "rollback":
		op = "ROLLBACK."
	default:
		return nil, errBadRequest("want commit or rollback, not %q", end)
	}
	m := nats.NewMsg(txnEndPrefix + op + t + "." + id)
	m.Header.Set(headerTxnBy, txnByOperator)
	return s.request(ctx, m)
}
