package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/nats-io/nats.go"
)

func TestCheckClientHeaders(t *testing.T) {
	for _, c := range []struct {
		h     nats.Header
		takes []string
		bad   string
	}{
		{nats.Header{"X-Trace": {"1"}, HeaderNatsMsgID: {"m"}, HeaderDelay: {"1s"}}, nil, ""},
		{nats.Header{"Nats-Schedule-Source": {"x"}}, nil, "Nats-Schedule-Source"},
		{nats.Header{"nats-batch-id": {"x"}}, nil, "nats-batch-id"},
		{nats.Header{HeaderTxnBy: {"operator"}}, nil, HeaderTxnBy},
		{nats.Header{"MQ-TXN-ID": {"t"}}, nil, "MQ-TXN-ID"},
		{nats.Header{HeaderTxnID: {"t"}, HeaderProducerGroup: {"g"}}, []string{HeaderTxnID, HeaderProducerGroup}, ""},
		{nats.Header{HeaderTxnID: {"t"}, HeaderKey: {"k"}}, []string{HeaderTxnID}, HeaderKey},
	} {
		err := CheckClientHeaders(c.h, c.takes...)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%v: %v", c.h, err)
		case c.bad != "" && (err == nil || err.Code != 400 || !strings.Contains(err.Description, c.bad)):
			t.Errorf("%v: %v, want 400 naming %s", c.h, err, c.bad)
		}
	}
}

func TestDecodeStrictNamesTheKey(t *testing.T) {
	var r core.TopicRequest
	for body, want := range map[string]string{
		`{"partition":4}`:          `unknown key "partition"`,
		`{"partitions":"4"}`:       "partitions: a JSON string where an integer is wanted",
		`{"force":1}`:              "force: a JSON number where a boolean is wanted",
		`{"partitions":4} {}`:      "after the JSON value",
		`[1]`:                      "array",
		`{"max_bytes":1.5}`:        "max_bytes",
		`{"partitions":4}` + "\n ": "",
		"  ":                       "",
	} {
		err := core.DecodeStrict([]byte(body), &r)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestTopicRequestOverlayChecksExplicitValues(t *testing.T) {
	base := core.TopicConfig{Name: "t", MaxBytes: 1000}
	base.SetDefaults()
	zero, bytes0 := 0, int64(0)
	c, err := core.TopicRequest{Partitions: &zero}.Overlay(base)
	if err != nil || c.Validate("topic") == nil {
		t.Fatalf("explicit partitions 0: %+v %v, want a config Validate refuses", c, err)
	}
	c, err = core.TopicRequest{MaxBytes: &bytes0}.Overlay(base)
	if err != nil || c.MaxBytes != 0 || c.Validate("topic") != nil || c.Partitions != core.DefaultPartitions {
		t.Fatalf("max_bytes 0: %+v %v", c, err)
	}
	age := "50ms"
	if c, _ := (core.TopicRequest{MaxAge: &age}).Overlay(base); c.Validate("topic") == nil {
		t.Fatalf("max_age 50ms accepted")
	}
	soon := "soon"
	if _, err := (core.TopicRequest{MaxDelay: &soon}).Overlay(base); err == nil || !strings.Contains(err.Error(), "max_delay") {
		t.Fatalf("max_delay soon: %v", err)
	}
}

func TestParseTopicMetadata(t *testing.T) {
	n, d, err := ParseTopicMetadata(map[string]string{MetaPartitions: "4", MetaMaxDelay: "1h0m0s"})
	if err != nil || n != 4 || d != time.Hour {
		t.Fatalf("good metadata: %d %s %v", n, d, err)
	}
	for _, md := range []map[string]string{
		{MetaPartitions: "100000"}, {MetaPartitions: "0"}, {MetaPartitions: "-1"}, {MetaPartitions: "abc"}, {},
		{MetaPartitions: "4", MetaMaxDelay: "soon"}, {MetaPartitions: "4", MetaMaxDelay: "-1s"},
	} {
		if _, _, err := ParseTopicMetadata(md); err == nil || (!strings.Contains(err.Error(), MetaPartitions) && !strings.Contains(err.Error(), MetaMaxDelay)) {
			t.Errorf("%v: %v, want an error naming the key", md, err)
		}
	}
}

func FuzzParseDelay(f *testing.F) {
	f.Add("$MQ.DELAY.orders.alice.vip", "Nats-Msg-Id", "x")
	f.Add("$MQ.DELAY.orders.*", "Mq-Txn-By", "operator")
	f.Add("$MQ.DELAY..", "Nats-Schedule-Source", "$MQ.INT.orders.H.t.p")
	f.Fuzz(func(t *testing.T, subject, hk, hv string) {
		h := nats.Header{}
		h[hk] = []string{hv}
		r, err := ParseDelay(subject, h)
		if err != nil {
			if err.Code != 400 {
				t.Fatalf("code %d", err.Code)
			}
			return
		}
		if core.ValidateTopicName(r.Topic) != nil || core.ValidateToken("key", r.Key) != nil || (r.Tag != "" && core.ValidateToken("tag", r.Tag) != nil) {
			t.Fatalf("accepted a malformed delay subject %q: %+v", subject, r)
		}
		if reservedNATSHeader(hk) || isOneOf(hk, brokerHeaders) {
			t.Fatalf("accepted header %q", hk)
		}
	})
}
