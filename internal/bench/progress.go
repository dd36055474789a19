package bench

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// BarProgress draws one progress bar per scenario phase on a terminal.
type BarProgress struct {
	w     io.Writer
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	name  string
	total int
	done  int
}

// NewBarProgress draws on w, which should be a terminal (stderr).
func NewBarProgress(w io.Writer) *BarProgress { return &BarProgress{w: w} }

// Update moves the bar; a new scenario, a new total or a count going back
// (the next phase of a scenario) starts a new bar.
func (p *BarProgress) Update(scenario string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || scenario != p.name || total != p.total || done < p.done {
		p.clear()
		p.name, p.total = scenario, total
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(scenario),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msgs"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.done = done
	_ = p.bar.Set(done)
}

// Finish removes the scenario's bar.
func (p *BarProgress) Finish(scenario string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *BarProgress) clear() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		p.bar = nil
	}
	p.name, p.total, p.done = "", 0, 0
}
