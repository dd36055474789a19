package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleRows() []Row {
	base := newRow(Scenario{Name: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 20000.4, P50Micros: 41.26, P99Micros: 230}, nil)
	slow := newRow(Scenario{Name: "txn-sync", Baseline: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 5000, P50Micros: 150, P99Micros: 900, Notes: "p50 3.6x raw"}, nil)
	slow.setRatio(base)
	failed := newRow(Scenario{Name: "broken", Baseline: RawPublishSync}, Result{}, errors.New("boom"))
	failed.setRatio(base)
	return []Row{base, slow, failed}
}

// decodeRows writes rows as JSON and decodes the "scenarios" list back.
func decodeRows(t *testing.T, rows []Row) map[string][]map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rows); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("WriteJSON wrote no JSON object of lists: %v\n%s", err, buf.String())
	}
	return doc
}

// checkField fails unless row[key] equals want.
func checkField(t *testing.T, row map[string]any, key string, want any) {
	t.Helper()
	if got, ok := row[key]; !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("%v %s: want %#v, got %#v (present: %v)", row["name"], key, want, got, ok)
	}
}

func TestWriteJSONShape(t *testing.T) {
	doc := decodeRows(t, sampleRows())
	if len(doc) != 1 {
		t.Fatalf("top level: want only \"scenarios\", got %v", doc)
	}
	rows := doc["scenarios"]
	if len(rows) != 3 {
		t.Fatalf("scenarios: want 3 rows, got %d: %v", len(rows), rows)
	}
	want := []string{"name", "msgs_per_sec", "p50_us", "p99_us", "baseline", "ratio"}
	allowed := append(slices.Clone(want), "notes")
	for _, r := range rows {
		for _, k := range want {
			if _, ok := r[k]; !ok {
				t.Errorf("%v: want key %q, got %v", r["name"], k, r)
			}
		}
		for k := range r {
			if !slices.Contains(allowed, k) {
				t.Errorf("%v: unexpected key %q: want only %v", r["name"], k, allowed)
			}
		}
	}
	wantBase := map[string]any{"name": "raw-publish-sync", "msgs_per_sec": 20000.0, "p50_us": 41.3, "p99_us": 230.0, "baseline": "", "ratio": 1.0}
	if !reflect.DeepEqual(rows[0], wantBase) {
		t.Errorf("baseline row: want %v, got %v", wantBase, rows[0])
	}
	checkField(t, rows[1], "baseline", "raw-publish-sync")
	checkField(t, rows[1], "ratio", 0.25)
	checkField(t, rows[1], "notes", "p50 3.6x raw")
	checkField(t, rows[2], "ratio", 0.0)
	checkField(t, rows[2], "notes", "error: boom")
}

func TestWriteJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, nil); err != nil {
		t.Fatalf("WriteJSON(nil): %v", err)
	}
	var got, want any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("WriteJSON(nil) wrote no JSON: %v\n%s", err, buf.String())
	}
	if err := json.Unmarshal([]byte(`{"scenarios":[]}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf(`WriteJSON(nil): want {"scenarios":[]}, got %s`, buf.String())
	}
}

func TestWriteTableShape(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleRows()); err != nil {
		t.Fatalf("WriteTable: %v", err)
	}
	lines := strings.Split(buf.String(), "\n")
	if len(lines) < 4 {
		t.Fatalf("table: want a header and 3 rows, got:\n%s", buf.String())
	}
	wantFields := [][]string{
		{"SCENARIO", "MSGS/S", "P50", "µs", "P99", "µs", "BASELINE", "RATIO"},
		{"raw-publish-sync", "20,000", "41.3", "230.0", "-", "1.00"},
		{"txn-sync", "5,000", "150.0", "900.0", "raw-publish-sync", "0.25"},
		{"broken", "FAILED", "-", "-", "raw-publish-sync", "-"},
	}
	for i, want := range wantFields {
		if got := strings.Fields(lines[i]); !slices.Equal(got, want) {
			t.Errorf("line %d: want %q, got %q", i, want, got)
		}
	}
	// Columns line up: every row is as wide as the header.
	width := len([]rune(lines[0]))
	for _, l := range lines[1:4] {
		if got := len([]rune(l)); got != width {
			t.Errorf("row %q: want width %d (the header's), got %d", l, width, got)
		}
	}
	notes := "notes:\n  txn-sync: p50 3.6x raw\n  broken: error: boom\n"
	if !strings.Contains(buf.String(), notes) {
		t.Errorf("table: want it to contain %q, got:\n%s", notes, buf.String())
	}
}

func TestNewResult(t *testing.T) {
	lat := NewLatencies(100)
	for i := 100; i >= 1; i-- {
		lat.Record(time.Duration(i) * time.Microsecond)
	}
	cases := []struct {
		name               string
		got                Result
		wantRate, p50, p99 float64
		checkRate          bool
	}{
		{"with latencies", NewResult(100, 2*time.Second, lat), 50, 50, 99, true},
		{"without latencies", NewResult(10, time.Second, nil), 0, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.checkRate && tc.got.MsgsPerSec != tc.wantRate {
				t.Errorf("msgs/s: want %v, got %v", tc.wantRate, tc.got.MsgsPerSec)
			}
			if tc.got.P50Micros != tc.p50 || tc.got.P99Micros != tc.p99 {
				t.Errorf("p50/p99: want %v/%v, got %v/%v", tc.p50, tc.p99, tc.got.P50Micros, tc.got.P99Micros)
			}
		})
	}
}

func TestLatenciesPercentile(t *testing.T) {
	lat := NewLatencies(0)
	check := func(p float64, want time.Duration) {
		t.Helper()
		if got := lat.Percentile(p); got != want {
			t.Errorf("p%v: want %v, got %v", p, want, got)
		}
	}
	check(50, 0)
	lat.Record(7 * time.Millisecond)
	check(50, 7*time.Millisecond)
	check(99, 7*time.Millisecond)
	lat.Record(time.Millisecond)
	check(50, time.Millisecond)
	check(99, 7*time.Millisecond)
}

func TestBarProgressDrawsOnlyThroughItsWriter(t *testing.T) {
	var buf bytes.Buffer
	p := NewBarProgress(&buf)
	p.Update("raw-consume", 512, 1000)
	p.Update("raw-consume", 1000, 1000)
	p.Update("raw-consume", 10, 20) // next phase: a new bar
	p.Finish("raw-consume")
	if !strings.Contains(buf.String(), "raw-consume") {
		t.Fatalf("progress: want it to name %q, got %q", "raw-consume", buf.String())
	}
}

func TestGroupThousands(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {123456, "123,456"}, {1234567, "1,234,567"}, {-4500, "-4,500"}}
	for _, tc := range cases {
		if got := groupThousands(tc.n); got != tc.want {
			t.Errorf("groupThousands(%d): want %q, got %q", tc.n, tc.want, got)
		}
	}
}

func TestWriteJSONReferenceFields(t *testing.T) {
	throughput := newRow(Scenario{Name: "cluster-consume", Baseline: RawConsume}, Result{Msgs: 100, MsgsPerSec: 8100.2,
		Reference: &Reference{Name: "plain-pair", Description: "two plain members", MsgsPerSec: 9999.6}}, nil)
	latency := newRow(Scenario{Name: "txn-latency", Baseline: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 5000, P50Micros: 137.04, P99Micros: 400,
		Reference: &Reference{Name: "null-bridge", Description: "two plain writes", Latency: true, MsgsPerSec: 9000, P50Micros: 82.46}}, nil)
	plain := newRow(Scenario{Name: "load-shift", Baseline: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 3000}, nil)
	failed := newRow(Scenario{Name: "txn", Baseline: RawPublishAsync}, Result{Reference: &Reference{Name: "null-bridge", MsgsPerSec: 1}}, errors.New("boom"))
	rows := decodeRows(t, []Row{throughput, latency, plain, failed})["scenarios"]
	if len(rows) != 4 {
		t.Fatalf("scenarios: want 4 rows, got %d: %v", len(rows), rows)
	}

	checkField(t, rows[0], "reference", "plain-pair")
	checkField(t, rows[0], "reference_msgs_per_sec", 10000.0)
	checkField(t, rows[0], "reference_ratio", 0.81) // 8,100 / 10,000
	checkAbsent(t, rows[0], "reference_p50_us")
	notes := "reference plain-pair (two plain members): 10,000 msgs/s, jetmq/reference 0.81"
	if got, _ := rows[0]["notes"].(string); !strings.Contains(got, notes) {
		t.Errorf("cluster-consume notes: want them to contain %q, got %q", notes, got)
	}

	checkField(t, rows[1], "reference", "null-bridge")
	checkField(t, rows[1], "reference_p50_us", 82.5)
	checkField(t, rows[1], "reference_ratio", 1.661) // p50 137.0 / 82.5
	checkAbsent(t, rows[1], "reference_msgs_per_sec")

	for _, r := range rows[2:] {
		for _, k := range []string{"reference", "reference_msgs_per_sec", "reference_p50_us", "reference_ratio"} {
			checkAbsent(t, r, k)
		}
	}
	checkField(t, rows[3], "notes", "error: boom")
}

func checkAbsent(t *testing.T, row map[string]any, key string) {
	t.Helper()
	if v, ok := row[key]; ok {
		t.Errorf("%v: want no %q, got %#v", row["name"], key, v)
	}
}
