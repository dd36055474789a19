package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sampleRows() []Row {
	base := newRow(Scenario{Name: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 20000.4, P50Micros: 41.26, P99Micros: 230}, nil)
	slow := newRow(Scenario{Name: "txn-sync", Baseline: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 5000, P50Micros: 150, P99Micros: 900, Notes: "p50 3.6x raw"}, nil)
	slow.setRatio(base)
	failed := newRow(Scenario{Name: "broken", Baseline: RawPublishSync}, Result{}, errors.New("boom"))
	failed.setRatio(base)
	return []Row{base, slow, failed}
}

func TestWriteJSONShape(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, sampleRows()))
	var doc map[string][]map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc, 1)
	rows := doc["scenarios"]
	require.Len(t, rows, 3)
	want := []string{"name", "msgs_per_sec", "p50_us", "p99_us", "baseline", "ratio"}
	for _, r := range rows {
		for _, k := range want {
			require.Contains(t, r, k)
		}
		for k := range r {
			require.Contains(t, append(want, "notes"), k, "unexpected key")
		}
	}
	require.Equal(t, map[string]any{"name": "raw-publish-sync", "msgs_per_sec": 20000.0, "p50_us": 41.3, "p99_us": 230.0, "baseline": "", "ratio": 1.0}, rows[0])
	require.Equal(t, "raw-publish-sync", rows[1]["baseline"])
	require.Equal(t, 0.25, rows[1]["ratio"])
	require.Equal(t, "p50 3.6x raw", rows[1]["notes"])
	require.Equal(t, 0.0, rows[2]["ratio"])
	require.Equal(t, "error: boom", rows[2]["notes"])
}

func TestWriteJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, nil))
	require.JSONEq(t, `{"scenarios":[]}`, buf.String())
}

func TestWriteTableShape(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, sampleRows()))
	lines := strings.Split(buf.String(), "\n")
	require.Equal(t, []string{"SCENARIO", "MSGS/S", "P50", "µs", "P99", "µs", "BASELINE", "RATIO"}, strings.Fields(lines[0]))
	require.Equal(t, []string{"raw-publish-sync", "20,000", "41.3", "230.0", "-", "1.00"}, strings.Fields(lines[1]))
	require.Equal(t, []string{"txn-sync", "5,000", "150.0", "900.0", "raw-publish-sync", "0.25"}, strings.Fields(lines[2]))
	require.Equal(t, []string{"broken", "FAILED", "-", "-", "raw-publish-sync", "-"}, strings.Fields(lines[3]))
	// Columns line up: every row is as wide as the header.
	for _, l := range lines[1:4] {
		require.Equal(t, len([]rune(lines[0])), len([]rune(l)), l)
	}
	require.Contains(t, buf.String(), "notes:\n  txn-sync: p50 3.6x raw\n  broken: error: boom\n")
}

func TestNewResult(t *testing.T) {
	lat := NewLatencies(100)
	for i := 100; i >= 1; i-- {
		lat.Record(time.Duration(i) * time.Microsecond)
	}
	r := NewResult(100, 2*time.Second, lat)
	require.Equal(t, 50.0, r.MsgsPerSec)
	require.Equal(t, 50.0, r.P50Micros)
	require.Equal(t, 99.0, r.P99Micros)

	r = NewResult(10, time.Second, nil)
	require.Zero(t, r.P50Micros)
	require.Zero(t, r.P99Micros)
}

func TestLatenciesPercentile(t *testing.T) {
	lat := NewLatencies(0)
	require.Zero(t, lat.Percentile(50))
	lat.Record(7 * time.Millisecond)
	require.Equal(t, 7*time.Millisecond, lat.Percentile(50))
	require.Equal(t, 7*time.Millisecond, lat.Percentile(99))
	lat.Record(time.Millisecond)
	require.Equal(t, time.Millisecond, lat.Percentile(50))
	require.Equal(t, 7*time.Millisecond, lat.Percentile(99))
}

func TestBarProgressDrawsOnlyThroughItsWriter(t *testing.T) {
	var buf bytes.Buffer
	p := NewBarProgress(&buf)
	p.Update("raw-consume", 512, 1000)
	p.Update("raw-consume", 1000, 1000)
	p.Update("raw-consume", 10, 20) // next phase: a new bar
	p.Finish("raw-consume")
	require.Contains(t, buf.String(), "raw-consume")
}

func TestGroupThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -4500: "-4,500"} {
		require.Equal(t, want, groupThousands(n))
	}
}

func TestWriteJSONReferenceFields(t *testing.T) {
	throughput := newRow(Scenario{Name: "cluster-consume", Baseline: RawConsume}, Result{Msgs: 100, MsgsPerSec: 8100.2,
		Reference: &Reference{Name: "plain-pair", Description: "two plain members", MsgsPerSec: 9999.6}}, nil)
	latency := newRow(Scenario{Name: "txn-latency", Baseline: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 5000, P50Micros: 137.04, P99Micros: 400,
		Reference: &Reference{Name: "null-bridge", Description: "two plain writes", Latency: true, MsgsPerSec: 9000, P50Micros: 82.46}}, nil)
	plain := newRow(Scenario{Name: "load-shift", Baseline: RawPublishSync}, Result{Msgs: 100, MsgsPerSec: 3000}, nil)
	failed := newRow(Scenario{Name: "txn", Baseline: RawPublishAsync}, Result{Reference: &Reference{Name: "null-bridge", MsgsPerSec: 1}}, errors.New("boom"))
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, []Row{throughput, latency, plain, failed}))
	var doc map[string][]map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	rows := doc["scenarios"]
	require.Len(t, rows, 4)

	require.Equal(t, "plain-pair", rows[0]["reference"])
	require.Equal(t, 10000.0, rows[0]["reference_msgs_per_sec"])
	require.Equal(t, 0.81, rows[0]["reference_ratio"]) // 8,100 / 10,000
	require.NotContains(t, rows[0], "reference_p50_us")
	require.Contains(t, rows[0]["notes"], "reference plain-pair (two plain members): 10,000 msgs/s, jetmq/reference 0.81")

	require.Equal(t, "null-bridge", rows[1]["reference"])
	require.Equal(t, 82.5, rows[1]["reference_p50_us"])
	require.Equal(t, 1.661, rows[1]["reference_ratio"]) // p50 137.0 / 82.5
	require.NotContains(t, rows[1], "reference_msgs_per_sec")

	for _, r := range rows[2:] {
		for _, k := range []string{"reference", "reference_msgs_per_sec", "reference_p50_us", "reference_ratio"} {
			require.NotContains(t, r, k, r["name"])
		}
	}
	require.Equal(t, "error: boom", rows[3]["notes"])
}
