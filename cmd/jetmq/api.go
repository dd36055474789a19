package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// apiTimeout bounds one admin request.
const apiTimeout = 15 * time.Second

// request sends body (JSON-encoded unless nil) to an admin subject on a
// new connection and decodes the reply into out; a jetmq error reply
// becomes a *semantics.APIError.
func (g *globalFlags) request(subject string, body any, out any) error {
	nc, err := g.connect()
	if err != nil {
		return fmt.Errorf("connect %s: %w", g.server, err)
	}
	defer nc.Close()
	return requestOn(nc, subject, body, out)
}

// requestOn is request on an open connection.
func requestOn(nc *nats.Conn, subject string, body any, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	resp, err := nc.Request(subject, data, apiTimeout)
	if err != nil {
		if err == nats.ErrNoResponders {
			return fmt.Errorf("%s: no jetmq server answered (is %q a jetmq server, and may this user use $MQ.API?)", subject, nc.ConnectedUrlRedacted())
		}
		return fmt.Errorf("%s: %w", subject, err)
	}
	return semantics.DecodeReply(resp.Data, out)
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns: a header row, then rows.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

func (t *table) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
