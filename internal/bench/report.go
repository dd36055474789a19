package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Row is one line of the report; its JSON form is what `jetmq bench --json`
// prints per scenario.
type Row struct {
	Name       string  `json:"name"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	// Baseline is the scenario the ratio compares to; "" for a baseline.
	Baseline string `json:"baseline"`
	// Ratio is MsgsPerSec / the baseline's MsgsPerSec in the same run: 1
	// for a baseline, 0 when either side failed.
	Ratio float64 `json:"ratio"`
	// Reference names the scenario's same-shape reference (plain
	// JetStream doing the same work in the same run), "" if it has none.
	// ReferenceMsgsPerSec (throughput scenarios) or ReferenceP50Micros
	// (latency scenarios) is what it measured, and ReferenceRatio is the
	// scenario's msgs/s or p50 divided by the reference's (0 when either
	// is 0); all three are absent from JSON without a reference.
	Reference           string   `json:"reference,omitempty"`
	ReferenceMsgsPerSec *float64 `json:"reference_msgs_per_sec,omitempty"`
	ReferenceP50Micros  *float64 `json:"reference_p50_us,omitempty"`
	ReferenceRatio      *float64 `json:"reference_ratio,omitempty"`
	Notes               string   `json:"notes,omitempty"`
	// Msgs is how many messages the scenario completed.
	Msgs int `json:"-"`
	// Err is why the scenario failed, nil if it did not.
	Err error `json:"-"`
}

func newRow(s Scenario, r Result, err error) Row {
	row := Row{
		Name:       s.Name,
		MsgsPerSec: math.Round(r.MsgsPerSec),
		P50Micros:  math.Round(r.P50Micros*10) / 10,
		P99Micros:  math.Round(r.P99Micros*10) / 10,
		Baseline:   s.Baseline,
		Notes:      r.Notes,
		Msgs:       r.Msgs,
		Err:        err,
	}
	if err != nil {
		row.Notes = joinNotes(row.Notes, "error: "+err.Error())
		row.MsgsPerSec, row.P50Micros, row.P99Micros = 0, 0, 0
	}
	if s.Baseline == "" && err == nil {
		row.Ratio = 1
	}
	if err == nil && r.Reference != nil {
		row.setReference(*r.Reference)
	}
	return row
}

// setReference carries ref into the row (rounded as the row's own
// figures) with the ratio of the two, and says so in the notes.
func (r *Row) setReference(ref Reference) {
	r.Reference = ref.Name
	own, theirs := r.MsgsPerSec, math.Round(ref.MsgsPerSec)
	shown := groupThousands(int64(theirs)) + " msgs/s"
	if ref.Latency {
		own, theirs = r.P50Micros, math.Round(ref.P50Micros*10)/10
		shown = fmt.Sprintf("p50 %.1fµs", theirs)
		r.ReferenceP50Micros = &theirs
	} else {
		r.ReferenceMsgsPerSec = &theirs
	}
	ratio := 0.0
	if own > 0 && theirs > 0 {
		ratio = math.Round(own/theirs*1000) / 1000
	}
	r.ReferenceRatio = &ratio
	r.Notes = joinNotes(r.Notes, fmt.Sprintf("reference %s (%s): %s, jetmq/reference %.2f", ref.Name, ref.Description, shown, ratio))
}

// setRatio compares the row with its baseline's row from the same run.
func (r *Row) setRatio(base Row) {
	if r.Err != nil || base.Err != nil || base.MsgsPerSec == 0 {
		r.Ratio = 0
		if base.Err != nil {
			r.Notes = joinNotes(r.Notes, "no ratio: baseline "+base.Name+" failed")
		}
		return
	}
	r.Ratio = math.Round(r.MsgsPerSec/base.MsgsPerSec*1000) / 1000
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// report is the JSON document `jetmq bench --json` prints.
type report struct {
	Scenarios []Row `json:"scenarios"`
}

// WriteJSON writes rows as {"scenarios":[...]}.
func WriteJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report{Scenarios: rows})
}

// WriteTable writes rows as an aligned table (numbers right-aligned),
// followed by each row's notes.
func WriteTable(w io.Writer, rows []Row) error {
	nameW, baseW := len("SCENARIO"), len("BASELINE")
	for _, r := range rows {
		nameW, baseW = max(nameW, len(r.Name)), max(baseW, len(r.Baseline))
	}
	line := func(name, rate, p50, p99, base, ratio string) string {
		return fmt.Sprintf("%-*s  %10s  %9s  %9s  %-*s  %5s\n", nameW, name, rate, p50, p99, baseW, base, ratio)
	}
	var b strings.Builder
	b.WriteString(line("SCENARIO", "MSGS/S", "P50 µs", "P99 µs", "BASELINE", "RATIO"))
	for _, r := range rows {
		b.WriteString(line(r.Name, rate(r), latency(r.P50Micros), latency(r.P99Micros), orDash(r.Baseline), ratio(r)))
	}
	notes := ""
	for _, r := range rows {
		if r.Notes != "" {
			notes += fmt.Sprintf("  %s: %s\n", r.Name, r.Notes)
		}
	}
	if notes != "" {
		b.WriteString("\nnotes:\n" + notes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func rate(r Row) string {
	if r.Err != nil {
		return "FAILED"
	}
	return groupThousands(int64(r.MsgsPerSec))
}

func latency(us float64) string {
	if us == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", us)
}

func ratio(r Row) string {
	if r.Ratio == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.Ratio)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// groupThousands formats 123456 as 123,456.
func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
