package rocketmq

import (
	"fmt"
	"slices"
	"strings"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
)

// parseFilter reads a TAG filter expression ("*", "a", "a || b") into the
// group tags (subject tokens) it selects; nil means every tag. SQL92 is
// refused: jetmq filters by subject, never by properties.
func parseFilter(f *v2.FilterExpression) ([]string, *v2.Status) {
	if f == nil {
		return nil, nil
	}
	switch f.GetType() {
	case v2.FilterType_TAG, v2.FilterType_FILTER_TYPE_UNSPECIFIED:
	case v2.FilterType_SQL:
		return nil, status(v2.Code_ILLEGAL_FILTER_EXPRESSION, "SQL92 filter expressions are not supported by jetmq: filter by TAG (groups select tags by subject)")
	default:
		return nil, status(v2.Code_ILLEGAL_FILTER_EXPRESSION, fmt.Sprintf("unknown filter type %v", f.GetType()))
	}
	expr := strings.TrimSpace(f.GetExpression())
	if expr == "" || expr == "*" {
		return nil, nil
	}
	var tags []string
	for _, part := range strings.Split(expr, "||") {
		t := strings.TrimSpace(part)
		if t == "" || t == "*" {
			return nil, status(v2.Code_ILLEGAL_FILTER_EXPRESSION, fmt.Sprintf("tag filter %q: empty tag or '*' among tags", expr))
		}
		tok, err := EncodeToken(t)
		if err != nil {
			return nil, status(v2.Code_ILLEGAL_FILTER_EXPRESSION, fmt.Sprintf("tag filter %q: tag %q: %v", expr, t, err))
		}
		if !slices.Contains(tags, tok) {
			tags = append(tags, tok)
		}
	}
	return tags, nil
}

// checkFilter refuses a filter that selects other tags than the group
// does: the group's consumer delivers what the group selects, and a
// RocketMQ member cannot narrow it for itself without taking messages
// from the group's other members.
func checkFilter(f *v2.FilterExpression, g core.GroupConfig) *v2.Status {
	tags, st := parseFilter(f)
	if st != nil || tags == nil {
		return st
	}
	want := slices.Clone(tags)
	have := slices.Clone(g.Tags)
	slices.Sort(want)
	slices.Sort(have)
	if slices.Equal(want, have) {
		return nil
	}
	return status(v2.Code_ILLEGAL_FILTER_EXPRESSION, fmt.Sprintf("filter %q selects tags %v, but group %q of topic %q selects %v: every member of a group gets the group's tags (use \"*\", or another group)",
		f.GetExpression(), want, g.Name, g.Topic, tagList(have)))
}

func tagList(t []string) any {
	if len(t) == 0 {
		return "all tags"
	}
	return t
}
