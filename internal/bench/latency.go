package bench

import (
	"math"
	"slices"
	"time"
)

// Latencies records one duration per message into a slice allocated up
// front, so recording costs an append and nothing else; the percentiles sort
// it once. It is not safe for concurrent use: record from one goroutine.
type Latencies struct {
	d      []time.Duration
	sorted bool
}

// NewLatencies returns a recorder with room for n samples.
func NewLatencies(n int) *Latencies {
	return &Latencies{d: make([]time.Duration, 0, max(n, 0))}
}

// Record adds one sample.
func (l *Latencies) Record(d time.Duration) {
	l.d = append(l.d, d)
	l.sorted = false
}

// Len is the number of samples.
func (l *Latencies) Len() int { return len(l.d) }

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100), or 0
// without samples.
func (l *Latencies) Percentile(p float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.d)
		l.sorted = true
	}
	rank := int(math.Ceil(p / 100 * float64(len(l.d))))
	return l.d[min(max(rank, 1), len(l.d))-1]
}
