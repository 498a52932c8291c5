// `osbackup report` on a repository built from real backups of the lab: a full backup of ctl1,
// its binary logs archived while rows are written, an incremental, a logical dump, all scrubbed
// (CHECKED); plus drill records of the
// exact type drills write (core/dr/record.ts) and a torn one, read through the drills'
// own listing (drillListRecords). The page is rendered
// in headless Chromium (the system browser, over the DevTools protocol): every chart is there
// with data, and the browser reports no console error, exception or failed load.
// OSBACKUP_REPORT_SCREENSHOT=<file> keeps the full-page screenshot (docs/report-screenshot.png).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DRILL_FORMAT, drillDir, drillRecordKey, type DrillRecord, type DrillStep } from '../../core/dr/record.js';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import { findChromium, renderPage } from '../helpers/chromium.js';
import { cli, configWithOwnRepo, sql, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
import { archivedPast, writeAlone, type TimedWrite } from '../helpers/timed-writes.js';

const chromium = findChromium();
// CI must render the page; elsewhere a missing browser skips the render (and says so)
const withBrowser = chromium || process.env.CI === 'true' ? test : test.skip;
if (!chromium)
  console.warn(
    `no Chromium: ${process.env.CI === 'true' ? 'failing (CI=true)' : 'the render test is skipped'} — apt-get install chromium (./dev setup does)`,
  );

const run = `${process.pid}${Date.now() % 100000}`;
const schema = `report_${run}`;
const { dir, repo, configFile } = configWithOwnRepo('report', (c) => {
  c.clouds.lab.database.binlog = { segmentSeconds: 1, rpoTargetSeconds: 10 };
});
const out = join(dir, 'out');
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
const archiver = `archive-binlogs:lab:report-${run}`;
const writes: TimedWrite[] = [];

async function backup(kind: 'full' | 'incremental'): Promise<string> {
  const r = await cli(configFile, ['--json', 'backup', 'db', `--${kind}`, '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { backupId: string }).backupId;
}

/** A drill record as the DR workflows write it: steps back to back, ending `secondsAgo` before now. */
function drillRecord(
  kind: DrillRecord['kind'],
  id: string,
  restorePoint: string,
  secondsAgo: number,
  failStep?: string,
): DrillRecord {
  const plan: [string, number][] = [
    ['fetch-restore-point', 3.2],
    ['restore-database', 41.5],
    ['replay-binlogs', 6.1],
    ['start-mariadb', 12.4],
    ['check-tables', 4.8],
  ];
  let t = Date.now() - secondsAgo * 1000 - plan.reduce((n, [, s]) => n + s, 0) * 1000;
  const steps: DrillStep[] = plan.map(([name, seconds]) => {
    const s: DrillStep = {
      name,
      startedAt: new Date(t).toISOString(),
      completedAt: new Date(t + seconds * 1000).toISOString(),
      seconds,
      result: name === failStep ? 'failed' : 'ok',
      ...(name === failStep ? { detail: `${name} <timed out> & gave up` } : {}),
    };
    t += seconds * 1000;
    return s;
  });
  const rto = plan.reduce((n, [, s]) => n + s, 0);
  return {
    formatVersion: DRILL_FORMAT,
    kind,
    id,
    cloud: 'lab',
    workflowId: `dr-${kind}:lab:${id}`,
    startedAt: steps[0]!.startedAt,
    completedAt: steps.at(-1)!.completedAt,
    restorePoint: {
      id: restorePoint,
      component: 'database',
      completedAt: new Date().toISOString(),
      verification: 'UNVERIFIED',
      pitrTarget: null,
    },
    steps,
    rtoSeconds: rto,
    rpoSeconds: 4,
    targets: { rtoSeconds: 120, rpoSeconds: 60 },
    checks: [{ name: `SELECT COUNT(*) FROM ${schema}.t`, ok: !failStep, expected: '3', actual: failStep ? '0' : '3' }],
    result: failStep ? 'failed' : 'passed',
    breaches: failStep ? [`step ${failStep} failed`] : [],
  };
}

function putRecord(key: string, text: string): void {
  mkdirSync(dirname(join(repo, key)), { recursive: true });
  writeFileSync(join(repo, key), text);
}

beforeAll(async () => {
  await sql('ctl1', `CREATE DATABASE ${schema}; CREATE TABLE ${schema}.t (id INT PRIMARY KEY, v VARCHAR(40))`);
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
});
afterAll(async () => {
  await temporal?.client.workflow
    .getHandle(archiver)
    .terminate('test over')
    .catch(() => undefined);
  await worker?.stop();
  await temporal?.close();
  await sql('ctl1', `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

let full = '';
let incremental = '';

test('a repository of real backups: a full, archived binlogs, an incremental, a dump, scrubbed; drill records beside them', async () => {
  full = await backup('full');
  const { loadConfig } = await import('../../config/load.js');
  const config = loadConfig(configFile);
  const handle = await temporal.client.workflow.start('pitrArchiveWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: archiver,
    args: [{ cloud: 'lab' }],
  });
  for (const id of [1, 2, 3])
    await writeAlone(writes, 'ctl1', id, `INSERT INTO ${schema}.t VALUES (${id}, 'row ${id}')`);
  await archivedPast(
    () => handle.query<PitrArchiveStatus>('status'),
    writes.at(-1)!.at,
    30_000,
    () => worker.output().slice(-3000),
  );
  incremental = await backup('incremental');
  await handle.signal('stop');
  await handle.result();
  const dump = await cli(configFile, ['--json', 'backup', 'dump', '--cloud', 'lab', '--schemas', schema]);
  expect([dump.exitCode, dump.stderr]).toEqual([0, expect.any(String)]);
  // a scrub: every artifact re-read, CHECKED in the catalog (the calendar's blue)
  const scrub = await cli(configFile, ['verify', '--cloud', 'lab']);
  expect([scrub.exitCode, scrub.stdout]).toEqual([0, expect.stringContaining('clean')]);

  putRecord(drillRecordKey('lab', 'drill-a'), JSON.stringify(drillRecord('drill', 'drill-a', full, 120), null, 2));
  putRecord(
    drillRecordKey('lab', 'rebuild-b'),
    JSON.stringify(drillRecord('rebuild', 'rebuild-b', incremental, 30, 'start-mariadb'), null, 2),
  );
  putRecord(`${drillDir('lab', 'drill-torn')}/drill.json`, '{"formatVersion":1,"id":"drill-to');
});

test('osbackup report writes report.html and report.md with every section, from that repository', async () => {
  const r = await cli(configFile, ['report', '--cloud', 'lab', '--out', out]);
  expect(r.stderr).not.toContain('osbackup:');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain(`lab: ${join(out, 'lab', 'report.html')} and ${join(out, 'lab', 'report.md')}`);
  const md = readFileSync(join(out, 'lab', 'report.md'), 'utf8');
  for (const h of [
    'Open breaches',
    'Backup calendar',
    'Sizes over time',
    'RPO over time',
    'Drills and rebuilds',
    'Storage forecast',
  ])
    expect(md).toContain(`\n## ${h}\n`);
  expect(md).toContain(full);
  expect(md).toContain(incremental);
  expect(md).toMatch(/\| binlog ctl1 \| \d+ \|/);
  expect(md).toMatch(/\| rebuild-b \| rebuild \| [^|]+ \| failed \| 1 min 8 s \|/);
  // a torn record is left out, not fatal
  expect(md).not.toContain('drill-torn');
  // the backups ran as CLI runs: the manual tier
  expect(md).toMatch(
    /\| day \| database · manual full \| database · manual incremental \| binlog \| dump \|\n.*\n\| \d{4}-\d\d-\d\d \| 1 C \| 1 C \| \d+ C \| 1 C \|/,
  );
});

withBrowser('report.html renders in headless Chromium: each chart with data, no console error', async () => {
  const html = join(out, 'lab', 'report.html');
  expect(existsSync(html)).toBe(true);
  const t0 = Date.now();
  const page = await renderPage<{
    charts: { id: string; title: string; points: number; marks: number; width: number }[];
    sections: string[];
    breaches: string;
  }>(
    pathToFileURL(html).href,
    `({
      charts: [...document.querySelectorAll('svg.chart')].map((s) => ({ id: s.id, title: s.querySelector('title')?.textContent ?? '', points: Number(s.getAttribute('data-points')), marks: s.querySelectorAll('circle, rect.cell, rect.step, polyline').length, width: s.getBoundingClientRect().width })),
      sections: [...document.querySelectorAll('section')].map((s) => s.id),
      breaches: document.querySelector('#breaches')?.textContent ?? '',
    })`,
    { screenshot: true },
  );
  const seconds = (Date.now() - t0) / 1000;
  expect(page.problems).toEqual([]);
  expect(page.value.sections).toEqual(['breaches', 'calendar', 'sizes', 'rpo', 'drills', 'forecast']);
  const chart = (id: string) => page.value.charts.find((c) => c.id === id);
  const withData = [
    'chart-calendar',
    'chart-sizes',
    'chart-rpo-backups',
    'chart-rpo-binlog',
    'chart-drill-rto',
    'chart-drill-drill-a',
    'chart-drill-rebuild-b',
    'chart-forecast-local',
  ];
  for (const id of withData) {
    const c = chart(id);
    expect([id, c && c.points > 0 && c.marks > 0 && c.width > 100, c?.title.length]).toEqual([
      id,
      true,
      expect.any(Number),
    ]);
  }
  // full, incremental, binlog and dump lanes, all today
  expect(chart('chart-calendar')!.points).toBe(4);
  expect(chart('chart-sizes')!.points).toBeGreaterThanOrEqual(3);
  // the gap full → incremental, then the incremental's age now
  expect(chart('chart-rpo-backups')!.points).toBe(2);
  expect(chart('chart-drill-rto')!.points).toBe(2);
  expect(chart('chart-drill-rebuild-b')!.points).toBe(5);
  expect(page.value.breaches).toContain('the latest rebuild rebuild-b failed: step start-mariadb failed');
  expect(page.value.breaches).not.toContain(full);
  expect(page.screenshot!.subarray(1, 4).toString()).toBe('PNG');
  writeFileSync(join(dir, 'report.png'), page.screenshot!);
  if (process.env.OSBACKUP_REPORT_SCREENSHOT)
    copyFileSync(join(dir, 'report.png'), process.env.OSBACKUP_REPORT_SCREENSHOT);
  expect(seconds).toBeLessThan(30);
});

withBrowser('the render check fails a page with a console error, an exception or a failed load', async () => {
  const bad = join(dir, 'bad.html');
  writeFileSync(
    bad,
    `<!doctype html><html><body><img src="missing.png"><script>console.error("from the page"); null.x;</script></body></html>`,
  );
  const page = await renderPage(pathToFileURL(bad).href, '1');
  expect(page.problems.map((p) => p.source).sort()).toEqual(['console', 'exception', 'log']);
  expect(page.problems.find((p) => p.source === 'console')!.text).toBe('from the page');
  expect(page.problems.find((p) => p.source === 'log')!.text).toContain('missing.png');
});
