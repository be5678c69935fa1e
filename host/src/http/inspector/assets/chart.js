// A line chart on a plain <canvas>: a few series over the last points, a y axis that grows
// to fit, gaps where a value is unknown (null). Drawn at the screen's pixel ratio. The x
// axis spans the points so far (at least `least`, at most `points`), so a page just opened
// shows its first minute spread out rather than squeezed against "now".

const GRID = "rgba(148, 163, 184, 0.16)";
const AXIS_TEXT = "#8a9bb4";

export class LineChart {
  /**
   * `series`: [{label, color}]; `format(v)` writes an axis value; `floor` is the least top
   * of the y axis (so an idle host draws a flat line at the bottom, not noise at full height).
   */
  constructor(canvas, { series, format = String, floor = 1, points = 90, least = 30,
    seconds = 2 }) {
    this.canvas = canvas;
    this.series = series;
    this.format = format;
    this.floor = floor;
    this.points = points;
    this.least = least;
    this.seconds = seconds;
    this.values = series.map(() => []);
    this.drawn = 0;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Adds one point to each series (null for none) and redraws. */
  push(values) {
    values.forEach((v, i) => {
      const line = this.values[i];
      line.push(Number.isFinite(v) ? v : null);
      if (line.length > this.points) line.shift();
    });
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);

    const left = 44;
    const right = 8;
    const top = 8;
    const bottom = 18;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const max = niceTop(Math.max(this.floor, ...this.values.flat().filter((v) => v !== null)));
    const span = Math.min(this.points,
      Math.max(this.least, ...this.values.map((line) => line.length)));
    const x = (i) => left + (plotW * i) / (span - 1);
    const y = (v) => top + plotH - (plotH * v) / max;

    g.font = "10px system-ui, sans-serif";
    g.textBaseline = "middle";
    g.lineWidth = 1;
    for (let step = 0; step <= 4; step++) {
      const v = (max * step) / 4;
      const py = Math.round(y(v)) + 0.5;
      g.strokeStyle = GRID;
      g.beginPath();
      g.moveTo(left, py);
      g.lineTo(width - right, py);
      g.stroke();
      g.fillStyle = AXIS_TEXT;
      g.textAlign = "right";
      g.fillText(this.format(v), left - 6, py);
    }
    g.textAlign = "left";
    g.textBaseline = "alphabetic";
    const shown = span * this.seconds;
    g.fillText(`last ${shown < 120 ? `${shown} s` : `${Math.round(shown / 60)} min`}`, left,
      height - 4);
    g.textAlign = "right";
    g.fillText("now", width - right, height - 4);

    this.drawn = 0;
    this.series.forEach((serie, s) => {
      const line = this.values[s];
      const offset = span - line.length;
      if (s === 0) this.fill(g, line, offset, x, y, serie.color, top + plotH);
      g.strokeStyle = serie.color;
      g.lineWidth = 2;
      g.lineJoin = "round";
      g.beginPath();
      let open = false;
      line.forEach((v, i) => {
        if (v === null) {
          open = false;
          return;
        }
        const px = x(offset + i);
        if (open) g.lineTo(px, y(v));
        else g.moveTo(px, y(v));
        open = true;
        this.drawn++;
      });
      g.stroke();
      const last = line.length - 1;
      if (last >= 0 && line[last] !== null) {
        g.fillStyle = serie.color;
        g.beginPath();
        g.arc(x(offset + last), y(line[last]), 3, 0, Math.PI * 2);
        g.fill();
      }
    });
    this.canvas.dataset.points = String(this.drawn);
  }

  /** A soft gradient under the first series. */
  fill(g, line, offset, x, y, color, base) {
    const gradient = g.createLinearGradient(0, 0, 0, base);
    gradient.addColorStop(0, `${color}55`);
    gradient.addColorStop(1, `${color}00`);
    g.fillStyle = gradient;
    let start = null;
    const close = (end) => {
      g.lineTo(x(offset + end), base);
      g.lineTo(x(offset + start), base);
      g.closePath();
      g.fill();
      start = null;
    };
    line.forEach((v, i) => {
      if (v === null) {
        if (start !== null) close(i - 1);
        return;
      }
      if (start === null) {
        start = i;
        g.beginPath();
        g.moveTo(x(offset + i), base);
      }
      g.lineTo(x(offset + i), y(v));
    });
    if (start !== null) close(line.length - 1);
  }
}

/** 1, 2, 2.5 or 5 times a power of ten, at least `v`. */
function niceTop(v) {
  const power = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= v) return m * power;
  return 10 * power;
}
