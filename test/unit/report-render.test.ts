// The report's SVG charts, HTML page and Markdown: escaping, empty data, scales, and that the
// page is self-contained (no script, no external resource).
import {
  byteTicks,
  durationTicks,
  emptyChart,
  esc,
  fmtSeconds,
  heatmap,
  lineChart,
  linearScale,
  niceTicks,
  timeline,
  timeTicks,
} from '../../client/report/svg.js';
import { CHART_IDS, renderHtml } from '../../client/report/html.js';
import { mdCell, mdTable, renderMarkdown } from '../../client/report/markdown.js';
import { reportModel } from '../../core/report/report.js';
import { drill, reportFixture, row } from '../fixtures/report-fixture.js';

const NOW = Date.parse('2026-12-06T10:00:00Z');
const points = (svg: string) => Number(/data-points="(\d+)"/.exec(svg)![1]);

test('esc: markup and quotes in data cannot break out of text or attributes', () => {
  expect(esc(`<script>alert("x")</script> & 'y'`)).toBe(
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;',
  );
  const svg = heatmap({
    id: 'h"1',
    title: 'T<',
    columns: ['2026-12-06'],
    rows: [
      {
        label: '<img src=x>',
        cells: [{ col: '2026-12-06', count: 1, fill: 'red" onload="x', tooltip: '</title><script>' }],
      },
    ],
  });
  expect(svg).not.toMatch(/<script|<img|onload="x/);
  expect(svg).toContain('id="h&quot;1"');
  expect(svg).toContain('&lt;/title&gt;&lt;script&gt;');
});

test('scales: linear maps the domain onto the range; a zero-width domain maps to the middle', () => {
  const s = linearScale(0, 10, 100, 200);
  expect([s(0), s(5), s(10)]).toEqual([100, 150, 200]);
  expect(linearScale(3, 3, 0, 10)(3)).toBe(5);
  // an inverted range (SVG y grows downwards)
  expect(linearScale(0, 4, 100, 0)(1)).toBe(75);
});

test('ticks: round steps covering the domain; bytes on powers of 1024; day-aligned times', () => {
  expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80]);
  expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  expect(niceTicks(5, 5)).toEqual([5]);
  expect(niceTicks(NaN, 1)).toEqual([]);
  expect(byteTicks(3 * 1024 ** 3)).toEqual([0, 1, 2, 3].map((g) => g * 1024 ** 3));
  expect(byteTicks(700 * 1024)).toEqual([0, 200, 400, 600].map((k) => k * 1024));
  expect(byteTicks(0)).toEqual([0]);
  const day = 86_400_000;
  const t = timeTicks(Date.parse('2026-11-01T05:00:00Z'), Date.parse('2026-12-06T10:00:00Z'));
  expect(t.length).toBeLessThanOrEqual(6);
  expect(t.every((x) => x % day === 0)).toBe(true);
  expect(
    timeTicks(Date.parse('2026-12-06T00:30:00Z'), Date.parse('2026-12-06T10:00:00Z')).map((x) =>
      new Date(x).toISOString().slice(11, 16),
    ),
  ).toEqual(['02:00', '04:00', '06:00', '08:00', '10:00']);
});

test('a series within a few minutes gets ten minutes of time axis around it', () => {
  const svg = lineChart({
    id: 'l',
    title: 'L',
    y: 'seconds',
    width: 500,
    series: [{ name: 'a', points: [{ x: 600_000, y: 1 }] }],
  });
  expect(Number(/<circle cx="([\d.]+)"/.exec(svg)![1])).toBe(274);
  expect([...svg.matchAll(/>(\d\d:\d\d)<\/text>/g)].map((m) => m[1])).toEqual([
    '00:06',
    '00:08',
    '00:10',
    '00:12',
    '00:14',
  ]);
});

test('durations: ticks in round units, labels without float noise', () => {
  expect(durationTicks(100_000)).toEqual([0, 10, 20].map((h) => h * 3600));
  expect(durationTicks(5000)).toEqual([0, 20, 40, 60, 80].map((m) => m * 60));
  expect(durationTicks(50)).toEqual([0, 10, 20, 30, 40, 50]);
  expect([0.5, 45, 100, 150, 5400, 90000, 200000].map(fmtSeconds)).toEqual([
    '0.5 s',
    '45 s',
    '100 s',
    '2.5 min',
    '90 min',
    '25 h',
    '2.3 d',
  ]);
});

test('empty data: every chart still renders with its id and title, no marks, and says why', () => {
  for (const svg of [
    heatmap({ id: 'a', title: 'A', columns: [], rows: [], emptyMessage: 'no backups' }),
    lineChart({ id: 'b', title: 'B', y: 'bytes', series: [{ name: 's', points: [] }] }),
    timeline({ id: 'c', title: 'C', steps: [] }),
    emptyChart('d', 'D', 'nothing'),
  ]) {
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" id="[a-d]"/);
    expect(points(svg)).toBe(0);
    expect(svg).toMatch(/<title id="[a-d]-title">[A-D]<\/title>/);
  }
  expect(heatmap({ id: 'a', title: 'A', columns: [], rows: [], emptyMessage: 'no backups' })).toContain(
    '>no backups</text>',
  );
});

test('lineChart: every mark lies inside the plot; thresholds extend the y-axis to show the target', () => {
  const svg = lineChart({
    id: 'l',
    title: 'L',
    y: 'seconds',
    width: 500,
    height: 200,
    series: [
      {
        name: 'a',
        points: [
          { x: 0, y: 10 },
          { x: 1800_000, y: 20 },
          { x: 3600_000, y: 5 },
        ],
      },
    ],
    thresholds: [{ y: 100, label: 'target' }],
  });
  expect(points(svg)).toBe(3);
  const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as [number, number],
  );
  expect(circles).toHaveLength(3);
  for (const [x, y] of circles) {
    expect(x).toBeGreaterThanOrEqual(64);
    expect(x).toBeLessThanOrEqual(500 - 16);
    expect(y).toBeGreaterThanOrEqual(12);
    expect(y).toBeLessThan(200);
  }
  // first and last x at the plot's edges; the larger y higher up (smaller SVG y)
  expect(circles[0]![0]).toBe(64);
  expect(circles[2]![0]).toBe(484);
  expect(circles[1]![1]).toBeLessThan(circles[0]![1]);
  const threshold = Number(/class="threshold" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)"/.exec(svg)![1]);
  expect(threshold).toBeLessThan(circles[1]![1]);
  expect(threshold).toBeGreaterThanOrEqual(12);
});

test('timeline: one bar per step, x from the first step’s start, failed steps marked', () => {
  const d = drill('d1', NOW, {}, 'deploy-mariadb');
  const svg = timeline({
    id: 't',
    title: 'T',
    width: 600,
    steps: d.steps.map((s) => ({
      name: s.name,
      start: Date.parse(s.startedAt),
      end: Date.parse(s.completedAt),
      result: s.result,
      tooltip: s.name,
    })),
  });
  const bars = [
    ...svg.matchAll(/<rect class="step" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*data-result="(\w+)"/g),
  ];
  expect(bars).toHaveLength(d.steps.length);
  expect(bars.map((b) => b[3])).toEqual(d.steps.map((s) => s.result));
  // bars follow each other: each starts where the one before ended
  for (let i = 1; i < bars.length; i++)
    expect(Number(bars[i]![1])).toBeCloseTo(Number(bars[i - 1]![1]) + Number(bars[i - 1]![2]), 0);
});

test('the HTML page: every chart with data, nothing external, no script', () => {
  const m = reportModel(reportFixture(NOW));
  const html = renderHtml(m);
  for (const id of [
    CHART_IDS.calendar,
    CHART_IDS.sizes,
    CHART_IDS.rpoBackups,
    CHART_IDS.rpoBinlog,
    CHART_IDS.drillRto,
    CHART_IDS.forecast('repo'),
    CHART_IDS.forecast('swift'),
    ...m.drills.map((d) => CHART_IDS.drill(d.id)),
  ]) {
    const svg = new RegExp(`<svg [^>]*id="${id}"[^>]*data-points="(\\d+)"`).exec(html);
    expect([id, svg && Number(svg[1]) > 0]).toEqual([id, true]);
  }
  expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
  // the only URLs are the SVG namespace
  expect(
    [...html.matchAll(/https?:\/\/[^\s"'<)]+/g)]
      .map((x) => x[0])
      .filter((u) => u !== 'http://www.w3.org/2000/svg' && !u.startsWith('https://swift.example')),
  ).toEqual([]);
  expect(html).toContain('<section id="breaches">');
  expect(html).toContain('db-full-20261108T020500Z on swift');
});

test('the HTML page of an empty repository: every section present with its empty chart', () => {
  const m = reportModel({ ...reportFixture(NOW), rows: [], drills: [], capacity: [] });
  const html = renderHtml(m);
  for (const id of [
    CHART_IDS.calendar,
    CHART_IDS.sizes,
    CHART_IDS.rpoBackups,
    CHART_IDS.rpoBinlog,
    CHART_IDS.drillRto,
    'chart-forecast',
  ])
    expect(html).toMatch(new RegExp(`id="${id}"[^>]*data-points="0"`));
  expect(html).toContain('No drill recorded yet.');
});

test('Markdown: the same sections as tables; cells cannot break the table', () => {
  expect(mdCell('a|b\nc')).toBe('a\\|b c');
  expect(mdTable(['x', 'y'], [[1, 'p|q']])).toBe('| x | y |\n| --- | --- |\n| 1 | p\\|q |\n');
  const md = renderMarkdown(reportModel(reportFixture(NOW)));
  for (const h of [
    '## Open breaches',
    '## Backup calendar',
    '## Sizes over time',
    '## RPO over time',
    '## Drills and rebuilds',
    '## Storage forecast',
  ])
    expect(md).toContain(`\n${h}\n`);
  // Sunday: the weekly full (verified), the day's binlog segments and control-plane backup
  expect(md).toContain('| 2026-12-06 |  |  | 1 V | 20 u | 1 u |');
  expect(md).toMatch(/\| drill-20261122T040000Z \| drill \| 2026-11-22 10:00:00Z \| failed \|/);
  expect(md).toMatch(/\| repo \| local \| 7\.2 GiB \|/);
  const bad = renderMarkdown(
    reportModel({
      ...reportFixture(NOW),
      rows: [
        row({
          id: 'x|y',
          component: 'database',
          kind: 'full',
          completedAt: new Date(NOW).toISOString(),
          verification: 'FAILED',
        }),
      ],
    }),
  );
  expect(bad).toContain('x\\|y');
});
