// chart.js: a small canvas line chart of rates over time.

export class RateChart {
  // series: [{name, color}]; keeps the last `keep` points.
  constructor(canvas, series, keep = 90) {
    this.canvas = canvas;
    this.series = series;
    this.keep = keep;
    this.points = []; // [{t, values: [..]}]
  }

  add(t, values) {
    this.points.push({ t, values });
    if (this.points.length > this.keep) this.points.shift();
    this.canvas.dataset.points = this.points.length; // for tests and screenshots
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const w = (c.width = c.clientWidth || 600);
    const hgt = (c.height = c.clientHeight || 180);
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, hgt);
    const pad = 36;
    const max = Math.max(1, ...this.points.flatMap((p) => p.values));
    g.strokeStyle = "#dde1e7";
    g.fillStyle = "#6b7280";
    g.font = "11px system-ui";
    for (let i = 0; i <= 4; i++) {
      const y = hgt - pad / 2 - ((hgt - pad) * i) / 4;
      g.beginPath(); g.moveTo(pad, y); g.lineTo(w - 4, y); g.stroke();
      g.fillText(formatRate((max * i) / 4), 2, y + 4);
    }
    if (this.points.length < 2) return;
    const t0 = this.points[0].t, t1 = this.points[this.points.length - 1].t;
    const x = (t) => pad + ((w - pad - 4) * (t - t0)) / Math.max(1, t1 - t0);
    const y = (v) => hgt - pad / 2 - ((hgt - pad) * v) / max;
    this.series.forEach((s, i) => {
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      this.points.forEach((p, j) => (j ? g.lineTo(x(p.t), y(p.values[i])) : g.moveTo(x(p.t), y(p.values[i]))));
      g.stroke();
    });
  }
}

export function formatRate(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}
