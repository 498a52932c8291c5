// Static SVG charts for the report: pure functions from data to an SVG string. No script, no
// external font or stylesheet, so the page opens from file:// anywhere. Hand-written rather
// than a charting library: four small chart shapes do not need one, and the libraries that
// render SVG without a DOM (vega, d3 + jsdom) would add megabytes of dependencies.
// Every chart carries id, <title>, and data-points (the number of drawn data marks) so tests
// and readers can tell a chart with data from an empty one.
import { humanBytes } from '../../core/capacity/capacity.js';

/** Text and attribute values: &, <, >, " and ' escaped (catalog ids and step details are data). */
export function esc(s: string | number): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** d0..d1 → r0..r1; a zero-width domain maps to the middle of the range. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** About `count` round tick values covering [min, max] (1, 2, 5 × 10^n steps). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Byte ticks on powers of 1024 multiples, so labels read "2 MiB" rather than "2.1 MB". */
export function byteTicks(max: number, count = 5): number[] {
  if (max <= 0) return [0];
  const unit = 1024 ** Math.max(0, Math.floor(Math.log(max) / Math.log(1024)));
  return niceTicks(0, max / unit, count).map((v) => v * unit);
}

const DAY = 86_400_000;

/** Ticks on round times (minutes, hours, UTC midnights), at most about `count`. */
export function timeTicks(t0: number, t1: number, count = 6): number[] {
  if (!(t1 > t0)) return [t0];
  const span = t1 - t0;
  const min = 60_000;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720]
    .map((m) => m * min)
    .concat([1, 2, 7, 14, 28, 56, 91, 182, 365].map((d) => d * DAY));
  const step = steps.find((s) => span / s <= count) ?? 365 * DAY;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

export const timeLabel = (t: number, span: number) =>
  span < 2 * DAY ? new Date(t).toISOString().slice(11, 16) : new Date(t).toISOString().slice(5, 10);

/** Duration ticks in a unit a reader counts in (s, min, h, d), so labels are round: "6 h", not "5.6 h". */
export function durationTicks(max: number, count = 5): number[] {
  const unit = max >= 2 * 86400 ? 86400 : max >= 2 * 3600 ? 3600 : max >= 120 ? 60 : 1;
  return niceTicks(0, max / unit, count).map((v) => Number((v * unit).toPrecision(12)));
}

/** Byte sizes as every other osbackup output writes them (one formatter: the capacity table's). */
export const fmtBytes = (n: number): string => humanBytes(n);

export function fmtSeconds(s: number): string {
  const r = (v: number) => (Number.isInteger(Number(v.toFixed(1))) ? v.toFixed(0) : v.toFixed(1));
  if (s < 120) return `${r(s)} s`;
  if (s < 2 * 3600) return `${r(s / 60)} min`;
  if (s < 2 * 86400) return `${r(s / 3600)} h`;
  return `${r(s / 86400)} d`;
}

/** Colour-blind-safe palette (Okabe–Ito), series in order. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';

function frame(
  id: string,
  title: string,
  width: number,
  height: number,
  marks: number,
  body: string,
  desc?: string,
): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" id="${esc(id)}" class="chart" role="img" aria-labelledby="${esc(id)}-title" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" data-points="${marks}" ${FONT} font-size="11"><title id="${esc(id)}-title">${esc(title)}</title>${desc ? `<desc>${esc(desc)}</desc>` : ''}${body}</svg>`;
}

/** A chart with nothing to draw still appears (same id and title), saying why. */
export function emptyChart(id: string, title: string, message: string, width = 1000, height = 80): string {
  return frame(
    id,
    title,
    width,
    height,
    0,
    `<rect x="0.5" y="0.5" width="${width - 1}" height="${height - 1}" fill="#fafafa" stroke="#ddd"/><text x="${width / 2}" y="${height / 2 + 4}" text-anchor="middle" fill="#666">${esc(message)}</text>`,
  );
}

export interface HeatCell {
  /** Column key (a day). */
  col: string;
  count: number;
  /** A CSS colour; null: nothing that day. */
  fill: string | null;
  tooltip: string;
}

/** Rows × columns of cells (the backup calendar): one square per day and lane. */
export function heatmap(o: {
  id: string;
  title: string;
  columns: string[];
  rows: { label: string; cells: HeatCell[] }[];
  emptyMessage?: string;
}): string {
  if (!o.rows.length || !o.columns.length) return emptyChart(o.id, o.title, o.emptyMessage ?? 'no data');
  const cell = 16;
  const gap = 2;
  const left = Math.min(230, 8 + 6.2 * Math.max(...o.rows.map((r) => r.label.length)));
  const top = 30;
  const width = Math.ceil(left + o.columns.length * (cell + gap) + 40);
  const height = top + o.rows.length * (cell + gap) + 10;
  const col = new Map(o.columns.map((c, i) => [c, i]));
  let marks = 0;
  const parts: string[] = [];
  o.columns.forEach((c, i) => {
    // a label every 7th day (and the last), rotated so dates never overlap
    if (i % 7 === 0 || i === o.columns.length - 1)
      parts.push(
        `<text x="${left + i * (cell + gap) + cell / 2}" y="${top - 6}" text-anchor="start" transform="rotate(-30 ${left + i * (cell + gap) + cell / 2} ${top - 6})" fill="#444" font-size="9">${esc(c.slice(5))}</text>`,
      );
  });
  o.rows.forEach((r, ri) => {
    const y = top + ri * (cell + gap);
    parts.push(`<text x="${left - 6}" y="${y + cell - 4}" text-anchor="end" fill="#222">${esc(r.label)}</text>`);
    for (const c of r.cells) {
      const ci = col.get(c.col);
      if (ci === undefined) continue;
      const x = left + ci * (cell + gap);
      if (c.fill) marks++;
      parts.push(
        `<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" rx="2" fill="${c.fill ? esc(c.fill) : '#f0f0f0'}" data-count="${c.count}"><title>${esc(c.tooltip)}</title></rect>`,
      );
      if (c.count > 1)
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell - 4}" text-anchor="middle" fill="#fff" font-size="9" pointer-events="none">${c.count > 99 ? '99+' : c.count}</text>`,
        );
    }
  });
  return frame(o.id, o.title, width, height, marks, parts.join(''));
}

export interface LineSeries {
  name: string;
  points: { x: number; y: number; tooltip?: string }[];
  color?: string;
  dashed?: boolean;
  /** Draw markers only (sparse, unconnected data such as artifact sizes). */
  scatter?: boolean;
}

/** A time (x) × value (y) chart: lines or markers per series, optional horizontal threshold lines, a legend. */
export function lineChart(o: {
  id: string;
  title: string;
  series: LineSeries[];
  y: 'bytes' | 'seconds';
  thresholds?: { y: number; label: string }[];
  xDomain?: [number, number];
  width?: number;
  height?: number;
  emptyMessage?: string;
}): string {
  const series = o.series.filter((s) => s.points.length);
  if (!series.length) return emptyChart(o.id, o.title, o.emptyMessage ?? 'no data');
  const width = o.width ?? 1000;
  const height = o.height ?? 260;
  const m = { l: 64, r: 16, t: 12, b: 28 + 16 * Math.ceil(series.length / 3) };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const [d0, d1] = o.xDomain ?? [Math.min(...xs), Math.max(...xs)];
  // data within a few minutes (or one point) still gets a readable time axis around it
  const pad = Math.max(0, 10 * 60_000 - (d1 - d0)) / 2;
  const [x0, x1] = [d0 - pad, d1 + pad];
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).concat((o.thresholds ?? []).map((t) => t.y));
  const yMax = Math.max(...ys, 0) * 1.08 || 1;
  const ticks = o.y === 'bytes' ? byteTicks(yMax) : durationTicks(yMax);
  const top = Math.max(yMax, ticks.at(-1) ?? 0);
  const sx = linearScale(x0, x1, m.l, width - m.r);
  const sy = linearScale(0, top, height - m.b, m.t);
  const fmt = o.y === 'bytes' ? fmtBytes : fmtSeconds;
  const parts: string[] = [
    `<rect x="${m.l}" y="${m.t}" width="${width - m.l - m.r}" height="${height - m.t - m.b}" fill="#fff" stroke="#ccc"/>`,
  ];
  for (const t of ticks)
    parts.push(
      `<line x1="${m.l}" x2="${width - m.r}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#eee"/><text x="${m.l - 4}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" fill="#444">${esc(fmt(t))}</text>`,
    );
  for (const t of timeTicks(x0, x1))
    parts.push(
      `<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.t}" y2="${height - m.b}" stroke="#f2f2f2"/><text x="${sx(t).toFixed(1)}" y="${height - m.b + 14}" text-anchor="middle" fill="#444">${esc(timeLabel(t, x1 - x0))}</text>`,
    );
  // two targets at one height: one line, one label
  const thresholds = [...new Map((o.thresholds ?? []).map((t) => [t.y, t])).values()];
  for (const th of thresholds)
    parts.push(
      `<line class="threshold" x1="${m.l}" x2="${width - m.r}" y1="${sy(th.y).toFixed(1)}" y2="${sy(th.y).toFixed(1)}" stroke="#D55E00" stroke-dasharray="6 3"/><text x="${width - m.r - 4}" y="${(sy(th.y) - 4).toFixed(1)}" text-anchor="end" fill="#D55E00">${esc(th.label)}</text>`,
    );
  let marks = 0;
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (!s.scatter && pts.length > 1)
      parts.push(
        `<polyline class="series" fill="none" stroke="${esc(color)}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`,
      );
    // markers carry the tooltips; a dense line keeps only its line
    if (s.scatter || pts.length <= 120)
      for (const p of pts)
        parts.push(
          `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="${s.scatter ? 3.2 : 2.2}" fill="${esc(color)}"><title>${esc(p.tooltip ?? `${new Date(p.x).toISOString()}: ${fmt(p.y)}`)}</title></circle>`,
        );
    marks += pts.length;
    const lx = m.l + (i % 3) * 300;
    const ly = height - m.b + 30 + Math.floor(i / 3) * 16;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="4" fill="${esc(color)}"/><text x="${lx + 16}" y="${ly - 4}" fill="#222">${esc(s.name)}</text>`,
    );
  });
  return frame(o.id, o.title, width, height, marks, parts.join(''));
}

export interface TimelineStep {
  name: string;
  start: number;
  end: number;
  result: 'ok' | 'failed' | 'skipped';
  tooltip: string;
}

export const STEP_COLORS: Record<TimelineStep['result'], string> = {
  ok: '#009E73',
  failed: '#D55E00',
  skipped: '#bbbbbb',
};

/** A Gantt row per step (a drill's recovery), x in seconds since the first step started; a vertical line at the RTO target. */
export function timeline(o: {
  id: string;
  title: string;
  steps: TimelineStep[];
  rtoTargetSeconds?: number | null;
  width?: number;
}): string {
  if (!o.steps.length) return emptyChart(o.id, o.title, 'no steps recorded');
  const width = o.width ?? 1000;
  const row = 18;
  const left = Math.min(220, 10 + 6.2 * Math.max(...o.steps.map((s) => s.name.length)));
  const top = 8;
  const height = top + o.steps.length * row + 28;
  const t0 = Math.min(...o.steps.map((s) => s.start));
  const t1 = Math.max(...o.steps.map((s) => s.end), t0 + (o.rtoTargetSeconds ?? 0) * 1000);
  const span = Math.max(1, (t1 - t0) / 1000);
  const sx = linearScale(0, span, left, width - 16);
  const parts: string[] = [];
  for (const t of durationTicks(span, 6))
    parts.push(
      `<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${top}" y2="${height - 22}" stroke="#eee"/><text x="${sx(t).toFixed(1)}" y="${height - 8}" text-anchor="middle" fill="#444">${esc(fmtSeconds(t))}</text>`,
    );
  o.steps.forEach((s, i) => {
    const y = top + i * row;
    const a = sx((s.start - t0) / 1000);
    const b = Math.max(a + 2, sx((s.end - t0) / 1000));
    parts.push(
      `<text x="${left - 6}" y="${y + 12}" text-anchor="end" fill="#222">${esc(s.name)}</text><rect class="step" x="${a.toFixed(1)}" y="${y + 2}" width="${(b - a).toFixed(1)}" height="${row - 5}" fill="${STEP_COLORS[s.result]}" data-result="${s.result}"><title>${esc(s.tooltip)}</title></rect>`,
    );
  });
  if (o.rtoTargetSeconds)
    parts.push(
      `<line class="threshold" x1="${sx(o.rtoTargetSeconds).toFixed(1)}" x2="${sx(o.rtoTargetSeconds).toFixed(1)}" y1="${top}" y2="${height - 22}" stroke="#D55E00" stroke-dasharray="6 3"/><text x="${(sx(o.rtoTargetSeconds) - 4).toFixed(1)}" y="${top + 10}" text-anchor="end" fill="#D55E00">RTO target</text>`,
    );
  return frame(o.id, o.title, width, height, o.steps.length, parts.join(''));
}
