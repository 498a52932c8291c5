// The report as one self-contained HTML page: inline CSS, inline SVG, no script and no
// external resource, so it opens from file:// and can be mailed or archived as it is.
import type { CalendarCell, CellState, ReportModel } from '../../core/report/report.js';
import { CELL_STATES, fmtDuration, MIN_FORECAST_HISTORY_DAYS } from '../../core/report/report.js';
import type { DrillRecord } from '../../core/dr/record.js';
import { emptyChart, esc, fmtBytes, heatmap, lineChart, STEP_COLORS, timeline, type LineSeries } from './svg.js';

export const STATE_COLORS: Record<CellState, string> = {
  verified: '#1a7f37',
  checked: '#56B4E9',
  unverified: '#8c959f',
  failed: '#D55E00',
};
const STATE_WORDS: Record<CellState, string> = {
  verified: 'VERIFIED (restore proven)',
  checked: 'CHECKED (bytes re-read)',
  unverified: 'not verified yet',
  failed: 'FAILED / CORRUPT / MISSING',
};

/** Chart ids, stable: tests and links use them. */
export const CHART_IDS = {
  calendar: 'chart-calendar',
  sizes: 'chart-sizes',
  rpoBackups: 'chart-rpo-backups',
  rpoBinlog: 'chart-rpo-binlog',
  drillRto: 'chart-drill-rto',
  drill: (id: string) => `chart-drill-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`,
  forecast: (t: string) => `chart-forecast-${t.replace(/[^A-Za-z0-9_-]/g, '_')}`,
};

const cellTooltip = (lane: string, c: CalendarCell) =>
  c.count
    ? `${c.day} ${lane}: ${c.count} artifact${c.count > 1 ? 's' : ''}, ${fmtBytes(c.bytes)}, ${STATE_WORDS[c.state!]}\n${c.ids.slice(0, 8).join('\n')}${c.ids.length > 8 ? `\n… ${c.ids.length - 8} more` : ''}`
    : `${c.day} ${lane}: nothing`;

const ms = (iso: string) => Date.parse(iso);
const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table>`;
}
const td = (s: string | number, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${esc(s)}</td>`;

export function drillTimelineSvg(d: DrillRecord): string {
  return timeline({
    id: CHART_IDS.drill(d.id),
    title: `${d.kind} ${d.id}: step timeline (RTO ${fmtDuration(d.rtoSeconds)}, ${d.result})`,
    steps: d.steps.map((s) => ({
      name: s.name,
      start: ms(s.startedAt),
      end: ms(s.completedAt),
      result: s.result,
      tooltip: `${s.name}: ${s.result}, ${s.seconds.toFixed(1)} s${s.detail ? ` — ${s.detail}` : ''}`,
    })),
    rtoTargetSeconds: d.targets.rtoSeconds,
  });
}

export function renderHtml(m: ReportModel): string {
  // the period's end, from its start or from the first data point when the history is younger
  const fit = (xs: number[]): [number, number] => [Math.max(m.window.from, Math.min(m.window.to, ...xs)), m.window.to];
  const xsOf = (series: { points: { t: number }[] }[]) => series.flatMap((s) => s.points.map((p) => p.t));
  const calendar = heatmap({
    id: CHART_IDS.calendar,
    title: `Backup calendar of ${m.cloud}: artifacts per day and tier, coloured by their worst state`,
    columns: m.calendar.days,
    rows: m.calendar.lanes.map((l) => ({
      label: l.lane,
      cells: l.cells.map((c) => ({
        col: c.day,
        count: c.count,
        fill: c.state ? STATE_COLORS[c.state] : null,
        tooltip: cellTooltip(l.lane, c),
      })),
    })),
    emptyMessage: 'no backups in this period',
  });
  const legend = `<p class="legend">${CELL_STATES.map((s) => `<span><i style="background:${STATE_COLORS[s]}"></i>${esc(STATE_WORDS[s])}</span>`).join('')}<span><i style="background:#f0f0f0"></i>nothing that day</span></p>`;
  const sizes = lineChart({
    id: CHART_IDS.sizes,
    title: 'Stored size of each artifact over time',
    y: 'bytes',
    xDomain: fit(xsOf(m.sizes)),
    series: m.sizes.map((s) => ({
      name: s.name,
      scatter: !s.name.startsWith('binlog'),
      points: s.points.map((p) => ({
        x: p.t,
        y: p.v,
        tooltip: `${p.label ?? ''} ${new Date(p.t).toISOString().slice(0, 16)}Z: ${fmtBytes(p.v)}`,
      })),
    })),
    emptyMessage: 'no artifacts in this period',
  });
  const rpoB = lineChart({
    id: CHART_IDS.rpoBackups,
    title: "RPO of database backups: gap between consecutive restore points (and the newest one's age now)",
    y: 'seconds',
    xDomain: fit(xsOf(m.rpo.backups)),
    series: m.rpo.backups.map((s) => ({
      name: s.name,
      points: s.points.map((p) => ({ x: p.t, y: p.v, tooltip: `${p.label ?? ''}: ${fmtDuration(p.v)}` })),
    })),
    thresholds: [
      { y: m.settings.backupRpoTargetSeconds, label: `target ${fmtDuration(m.settings.backupRpoTargetSeconds)}` },
    ],
    emptyMessage: 'fewer than two database restore points',
  });
  const rpoL = lineChart({
    id: CHART_IDS.rpoBinlog,
    title: "RPO of binlog archiving: how long each segment's oldest event waited to be archived",
    y: 'seconds',
    xDomain: fit(xsOf(m.rpo.binlog)),
    series: m.rpo.binlog.map((s) => ({
      name: s.name,
      points: s.points.map((p) => ({ x: p.t, y: p.v, tooltip: `${p.label ?? ''}: ${fmtDuration(p.v)}` })),
    })),
    thresholds: [
      { y: m.settings.binlogRpoTargetSeconds, label: `target ${fmtDuration(m.settings.binlogRpoTargetSeconds)}` },
    ],
    emptyMessage: 'no binlog archiving in this period',
  });
  const drills = [...m.drills].reverse();
  const rtoSeries: LineSeries[] = (['drill', 'rebuild'] as const).map((k, i) => ({
    name: `${k} RTO`,
    color: ['#0072B2', '#CC79A7'][i],
    points: drills
      .filter((d) => d.kind === k)
      .map((d) => ({
        x: ms(d.completedAt),
        y: d.rtoSeconds,
        tooltip: `${d.id}: RTO ${fmtDuration(d.rtoSeconds)}, ${d.result}`,
      })),
  }));
  // each kind's newest target (a rebuild may be held to another RTO than a drill)
  let rtoTargets = (['drill', 'rebuild'] as const).flatMap((k) => {
    const t = m.drills.find((d) => d.kind === k && d.targets.rtoSeconds !== null)?.targets.rtoSeconds;
    return t ? [{ y: t, label: `${k} target ${fmtDuration(t)}` }] : [];
  });
  if (rtoTargets.length === 2 && rtoTargets[0]!.y === rtoTargets[1]!.y)
    rtoTargets = [{ y: rtoTargets[0]!.y, label: `target ${fmtDuration(rtoTargets[0]!.y)}` }];
  const rtoChart = lineChart({
    id: CHART_IDS.drillRto,
    title: 'RTO of each drill and rebuild',
    y: 'seconds',
    series: rtoSeries,
    thresholds: rtoTargets,
    emptyMessage: 'no drill recorded',
  });
  const drillRows = m.drills.map((d) => [
    td(d.id),
    td(d.kind),
    td(when(d.completedAt)),
    `<td class="${d.result === 'passed' ? 'ok' : 'bad'}">${esc(d.result)}</td>`,
    td(fmtDuration(d.rtoSeconds)),
    td(d.rpoSeconds === null ? '-' : fmtDuration(d.rpoSeconds)),
    td(
      `${d.targets.rtoSeconds === null ? '-' : fmtDuration(d.targets.rtoSeconds)} / ${d.targets.rpoSeconds === null ? '-' : fmtDuration(d.targets.rpoSeconds)}`,
    ),
    td(`${d.restorePoint.id}${d.restorePoint.pitrTarget ? ` @ ${d.restorePoint.pitrTarget}` : ''}`),
    td(`${d.checks.filter((c) => c.ok).length}/${d.checks.length}`),
  ]);
  const drillDetails = m.drills
    .slice(0, 10)
    .map(
      (d) =>
        `<details${d === m.drills[0] ? ' open' : ''}><summary>${esc(`${d.kind} ${d.id} — ${d.result}, RTO ${fmtDuration(d.rtoSeconds)}, ${when(d.completedAt)}`)}</summary>${drillTimelineSvg(d)}${d.breaches.length ? `<ul class="bad">${d.breaches.map((b) => `<li>${esc(b)}</li>`).join('')}</ul>` : ''}${table(
          ['step', 'result', 'seconds', 'detail'],
          d.steps.map((s) => [
            td(s.name),
            `<td class="${s.result === 'failed' ? 'bad' : s.result === 'ok' ? 'ok' : ''}">${esc(s.result)}</td>`,
            td(s.seconds.toFixed(1)),
            td(s.detail ?? ''),
          ]),
        )}${
          d.checks.length
            ? table(
                ['check', 'ok', 'expected', 'actual'],
                d.checks.map((c) => [
                  td(c.name),
                  `<td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? 'yes' : 'NO'}</td>`,
                  td(c.expected ?? ''),
                  td(c.actual ?? ''),
                ]),
              )
            : ''
        }</details>`,
    )
    .join('');
  const forecast = m.forecast.length
    ? m.forecast
        .map((f) => {
          const peak = Math.max(...f.history.map((p) => p.v), ...f.projection.map((p) => p.v), 0);
          // the capacity line only when it is near enough to read the lines under it
          const cap =
            f.totalBytes !== null && f.totalBytes <= peak * 4
              ? [{ y: f.totalBytes, label: `capacity ${fmtBytes(f.totalBytes)}` }]
              : [];
          const series: LineSeries[] = [
            {
              name: `${m.cloud}'s artifacts on ${f.target} (cumulative)`,
              points: f.history.map((p) => ({ x: p.t, y: p.v, tooltip: `${p.label ?? ''}: ${fmtBytes(p.v)}` })),
            },
            {
              name: `${f.target}, all clouds: forecast`,
              dashed: true,
              color: '#D55E00',
              points: f.projection.map((p) => ({
                x: p.t,
                y: p.v,
                tooltip: `${new Date(p.t).toISOString().slice(0, 10)}: ${fmtBytes(p.v)}`,
              })),
            },
          ];
          const chart = lineChart({
            id: CHART_IDS.forecast(f.target),
            title: `Storage of target ${f.target} (${f.type}, ${f.location}) and its ${30}-day forecast`,
            y: 'bytes',
            series,
            thresholds: cap,
            emptyMessage: 'nothing stored yet',
          });
          const free =
            f.totalBytes !== null && f.freeBytes !== null
              ? `${fmtBytes(f.freeBytes)} free of ${fmtBytes(f.totalBytes)} (${((1 - f.freeBytes / f.totalBytes) * 100).toFixed(1)} % used)`
              : 'capacity unknown';
          return `<h3>${esc(f.target)}</h3><p>${esc(`${fmtBytes(f.storedBytes)} stored, growth ${f.growthBytesPerDay === null ? '-' : `${fmtBytes(f.growthBytesPerDay)}/day`}, in 30 days ${f.forecast30dBytes === null ? '-' : fmtBytes(f.forecast30dBytes)}; ${free}; ${f.daysUntilFull === null ? (f.note ?? '') : `full in ${f.daysUntilFull.toFixed(1)} days (${f.fullAt!.slice(0, 10)})`}${f.historyDays < MIN_FORECAST_HISTORY_DAYS ? ` — growth measured over less than a day of history: not meaningful yet` : ''}`)}</p>${chart}`;
        })
        .join('')
    : emptyChart('chart-forecast', 'Storage forecast', 'no target could be scanned');
  const s = m.summary;
  const cards: [string, string][] = [
    ['restore points', String(s.restorePoints)],
    ['newest', s.newestRestorePoint ? when(s.newestRestorePoint) : 'none'],
    ['artifacts', `${s.artifacts} (${fmtBytes(s.storedBytes)})`],
    ['verified', String(s.verified)],
    [
      'last drill or rebuild',
      s.lastDrill ? `${s.lastDrill.kind} ${s.lastDrill.result}, RTO ${fmtDuration(s.lastDrill.rtoSeconds)}` : 'none',
    ],
    ['open breaches', String(s.breaches)],
  ];
  const breaches = m.breaches.length
    ? table(
        ['kind', 'subject', 'since', 'what'],
        m.breaches.map((b) => [td(b.kind, 'bad'), td(b.subject), td(when(b.since)), td(b.message)]),
        'breaches',
      )
    : '<p class="ok" id="no-breaches">No open breaches.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>osbackup report: ${esc(m.cloud)} (${esc(m.generatedAt.slice(0, 10))})</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;margin:0 auto;max-width:1100px;padding:16px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:16px 0 4px}
.meta{color:#59636e}.cards{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}.card{border:1px solid #d0d7de;border-radius:6px;padding:6px 12px;min-width:120px}.card b{display:block;font-size:16px}
.card.alarm{border-color:#D55E00;background:#fff4ee}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
.ok{color:#1a7f37}.bad{color:#b35900;font-weight:600}svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}
.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
details{margin:6px 0;border:1px solid #d0d7de;border-radius:6px;padding:4px 10px}summary{cursor:pointer;font-weight:600}
</style></head>
<body>
<h1>osbackup report — cloud ${esc(m.cloud)}</h1>
<p class="meta">Generated ${esc(when(m.generatedAt))} from the catalog, the drill records and a capacity scan. Period: ${esc(new Date(m.window.from).toISOString().slice(0, 10))} to ${esc(new Date(m.window.to).toISOString().slice(0, 10))} (UTC). Hover a mark for details.</p>
<div class="cards">${cards.map(([k, v]) => `<div class="card${k === 'open breaches' && s.breaches ? ' alarm' : ''}">${esc(k)}<b>${esc(v)}</b></div>`).join('')}</div>
<section id="breaches"><h2>Open breaches</h2>${breaches}</section>
<section id="calendar"><h2>Backup calendar</h2>${calendar}${legend}</section>
<section id="sizes"><h2>Sizes over time</h2>${sizes}</section>
<section id="rpo"><h2>RPO over time</h2>${rpoB}${rpoL}</section>
<section id="drills"><h2>Drills and rebuilds</h2>${rtoChart}${m.drills.length ? table(['id', 'kind', 'finished', 'result', 'RTO', 'RPO', 'targets RTO / RPO', 'restore point', 'checks'], drillRows) : '<p>No drill recorded yet.</p>'}${drillDetails}</section>
<section id="forecast"><h2>Storage forecast</h2>${forecast}<p class="meta">Growth is the least-squares slope of the stored bytes over the backups' completion times; what retention deletes is not subtracted, so "full in" is an early warning.</p></section>
${m.notes.length ? `<section id="notes"><h2>Notes</h2><ul>${m.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></section>` : ''}
<p class="meta">Step colours: ${Object.entries(STEP_COLORS)
    .map(([k, c]) => `<span style="color:${c}">■</span> ${esc(k)}`)
    .join(' ')}</p>
</body></html>
`;
}
