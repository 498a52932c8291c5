// The worker's GET /metrics against the real lab: a worker with metrics enabled, real scheduled
// tier runs (Temporal Schedules triggered by `osbackup schedules trigger`), a scrape that shows
// them, the "backup missing" alert evaluated by promtool on the scraped values, and a worker
// restart that changes nothing. Three clouds of their own (the lab's database under new names)
// in a repository of their own:
//   ok    the lab as it is: a weekly run takes a real full backup
//   nob   the lab, but no chain yet: its daily run (an incremental) fails at once (ChainBroken)
//         — the workflow records the failure itself
//   gone  ctl1 at an address nobody answers: its weekly run (a full: no chain needed) hangs retrying SSH and is terminated
//         — no workflow code runs, the collector finds it in Temporal (Velero's bug)
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import type { Client } from '@temporalio/client';
import { artifactDir, MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { DRILL_FORMAT, drillRecordKey } from '../../core/dr/record.js';
import { runJournalKey, type RunJournal } from '../../core/tiers/run-journal.js';
import type { TierResult } from '../../workflows/tiers.js';
import {
  cleanUpTemporal,
  cli,
  configWithOwnRepo,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const ok = `mok${process.pid}`;
const nob = `mnob${process.pid}`;
const gone = `mgone${process.pid}`;
const clouds = [ok, nob, gone];

let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
let client: Client;
let closeClient: () => Promise<void>;
const scheduleIds: string[] = [];
const started: string[] = [];

type Series = { name: string; labels: Record<string, string>; value: number };

/** The exposition text → series (no HELP/TYPE lines). */
function parseExposition(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function metricsUrl(w: WorkerProcess): string {
  const m = /osbackup metrics: (http:\/\/\S+\/metrics)/.exec(w.output());
  if (!m) throw new Error(`the worker printed no metrics address:\n${w.output()}`);
  return m[1]!;
}

async function scrape(w: WorkerProcess): Promise<Series[]> {
  const r = await fetch(metricsUrl(w));
  expect(r.status).toBe(200);
  return parseExposition(await r.text());
}

const one = (s: Series[], name: string, labels: Record<string, string>) => {
  const found = s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} series ${name}${JSON.stringify(labels)}`);
  return found[0]!.value;
};

/** The tier families of our clouds, as "name{labels} value" lines (for before/after a restart). */
const tierLines = (s: Series[]) =>
  s
    .filter(
      (x) =>
        clouds.includes(x.labels.cloud ?? '') &&
        /^osbackup_(last_|verification|artifacts|stored|schedule|tier_run|drill_)/.test(x.name),
    )
    .map((x) => `${x.name}${JSON.stringify(x.labels)} ${x.value}`)
    .sort();

async function osb(...args: string[]) {
  const r = await cli(own.configFile, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function trigger(cloud: string, entry: string): Promise<string> {
  const r = await osb('schedules', 'trigger', entry, '--cloud', cloud);
  started.push(r.workflowId);
  return r.workflowId;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  own = configWithOwnRepo('metrics', (c) => {
    const lab = c.clouds.lab;
    // daily and weekly are scheduled; the other entries would only add schedules to clean up
    lab.schedules = {
      entries: { monthly: { enabled: false }, rotate: { enabled: false }, verify: { enabled: false } },
    };
    c.clouds = { [ok]: lab, [nob]: structuredClone(lab), [gone]: structuredClone(lab) };
    c.clouds[gone].hosts.ctl1.address = '10.231.77.250';
    c.defaultCloud = ok;
    // port 0: the kernel picks one (the worker prints it); no cache, every scrape collects
    c.metrics = { listen: '127.0.0.1:0', cacheSeconds: 0, failureLookbackDays: 1 };
  });
  ({ client, close: closeClient } = await temporalClient(own.configFile));
  worker = await startWorker(own.configFile);
  const applied = await osb('schedules', 'apply');
  scheduleIds.push(...applied.created);
  expect(applied.created).toHaveLength(6);
}, 60_000);

afterAll(async () => {
  await cleanUpTemporal(client, scheduleIds, started, 'metrics test cleanup');
  await worker?.stop();
  await closeClient?.();
  if (own) rmSync(own.dir, { recursive: true, force: true });
});

test('a real weekly run, a failing daily and a killed weekly run: scrape, "backup missing" by promtool, restart', async () => {
  // ---- before anything ran: every tier "never", no failures
  const before = await scrape(worker);
  expect(one(before, 'osbackup_last_success_timestamp_seconds', { cloud: ok, tier: 'weekly', target: 'local' })).toBe(
    0,
  );
  expect(one(before, 'osbackup_tier_run_failures_total', { cloud: gone, tier: 'weekly' })).toBe(0);
  expect(one(before, 'osbackup_schedule_interval_seconds', { cloud: ok, tier: 'daily' })).toBe(86_400);

  // ---- a real full backup through the weekly tier
  const weekly = await trigger(ok, 'weekly');
  const result = (await client.workflow.getHandle(weekly).result()) as TierResult;
  const id = result.database!.backupId;
  const manifest = JSON.parse(readFileSync(join(own.repo, artifactDir(ok, 'database', id), MANIFEST_FILE), 'utf8')) as {
    completedAt: string;
    startedAt: string;
    artifact: { bytes: number };
  };

  // ---- daily of nob: no chain → the workflow fails at once and journals it itself
  const failing = await trigger(nob, 'daily');
  await expect(client.workflow.getHandle(failing).result()).rejects.toThrow();

  // ---- weekly of gone: hangs on SSH; killed from outside once its backup child is under way
  const killed = await trigger(gone, 'weekly');
  await until('the backup child of the killed run', () => client.workflow.getHandle(`${killed}-db`).describe());
  await client.workflow.getHandle(killed).terminate('killed from outside, as an execution timeout would');

  // ---- the scrape: the backup, and both failures counted (the killed one once Temporal lists it)
  const s = await until('the terminated run in the failure counter', async () => {
    const x = await scrape(worker);
    return one(x, 'osbackup_tier_run_failures_total', { cloud: gone, tier: 'weekly' }) === 1 ? x : undefined;
  });
  const week = { cloud: ok, component: 'database', tier: 'weekly', target: 'local' };
  expect(one(s, 'osbackup_last_success_timestamp_seconds', week)).toBe(Date.parse(manifest.completedAt) / 1000);
  expect(one(s, 'osbackup_last_bytes', week)).toBe(manifest.artifact.bytes);
  expect(one(s, 'osbackup_last_bytes', week)).toBe(result.database!.bytes);
  expect(one(s, 'osbackup_last_duration_seconds', week)).toBeCloseTo(
    (Date.parse(manifest.completedAt) - Date.parse(manifest.startedAt)) / 1000,
    3,
  );
  expect(one(s, 'osbackup_verification_state', { ...week, state: 'UNVERIFIED' })).toBe(1);
  // a full satisfies the daily tier too
  expect(one(s, 'osbackup_last_success_timestamp_seconds', { ...week, tier: 'daily' })).toBe(
    Date.parse(manifest.completedAt) / 1000,
  );
  expect(one(s, 'osbackup_artifacts', { cloud: ok, component: 'database', target: 'local' })).toBe(1);
  expect(one(s, 'osbackup_tier_run_last_success_timestamp_seconds', { cloud: ok, tier: 'weekly' })).toBeGreaterThan(0);
  expect(one(s, 'osbackup_tier_run_failures_total', { cloud: nob, tier: 'daily' })).toBe(1);
  expect(one(s, 'osbackup_tier_run_failures_total', { cloud: ok, tier: 'weekly' })).toBe(0);
  expect(one(s, 'osbackup_tier_run_last_failure_timestamp_seconds', { cloud: gone, tier: 'weekly' })).toBeGreaterThan(
    0,
  );
  expect(one(s, 'osbackup_tier_run_failures_total', { cloud: gone, tier: 'daily' })).toBe(0);
  expect(one(s, 'osbackup_target_up', { target: 'local' })).toBe(1);
  expect(one(s, 'osbackup_metrics_collect_errors', {})).toBe(0);

  // the journals say who saw each failure
  const journal = (cloud: string, tier: string) =>
    JSON.parse(readFileSync(join(own.repo, runJournalKey(cloud, tier)), 'utf8')) as RunJournal;
  expect(journal(nob, 'daily').recent).toEqual([
    expect.objectContaining({ workflowId: failing, status: 'Failed', seenBy: 'workflow', type: 'ChainBroken' }),
  ]);
  expect(journal(gone, 'weekly').recent).toEqual([
    expect.objectContaining({ workflowId: killed, status: 'Terminated', seenBy: 'temporal' }),
  ]);

  // ---- "backup missing", the rule as shipped, evaluated by promtool on the scraped values: time is
  // rebased so that promtool's 1h is the scrape's instant (timestamps shifted alike)
  const T = Math.floor(Date.now() / 1000);
  const shift = T - 3600;
  const rules = parse(readFileSync('alerts/osbackup.rules.yml', 'utf8')) as {
    groups: { name: string; rules: Record<string, unknown>[] }[];
  };
  const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'OsbackupBackupMissing')!;
  // the expression, `for` and labels verbatim; annotations (humanized durations) are not what is tested here
  const { annotations: _annotations, ...bare } = rule;
  const dir = join(own.dir, 'promtool');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.yml'), stringify({ groups: [{ name: 'osbackup', rules: [bare] }] }));
  const input = s
    .filter(
      (x) => x.name === 'osbackup_last_success_timestamp_seconds' || x.name === 'osbackup_schedule_interval_seconds',
    )
    .map((x) => ({
      series: `${x.name}{${Object.entries(x.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`,
      values: `${x.name.endsWith('_timestamp_seconds') ? x.value - shift : x.value}x70`,
    }));
  const expected = [nob, gone].flatMap((cloud) =>
    ['daily', 'weekly'].map((tier) => ({
      exp_labels: { severity: 'critical', cloud, component: 'database', tier, target: 'local' },
    })),
  );
  writeFileSync(
    join(dir, 'test.yml'),
    stringify({
      rule_files: ['rules.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: input,
          alert_rule_test: [{ eval_time: '1h', alertname: 'OsbackupBackupMissing', exp_alerts: expected }],
        },
      ],
    }),
  );
  const p = await execa('promtool', ['test', 'rules', join(dir, 'test.yml')], { reject: false, all: true });
  expect(p.all).toContain('SUCCESS');
  // and it can fail: the same input expecting no alert at all is refused
  writeFileSync(
    join(dir, 'test.yml'),
    stringify({
      rule_files: ['rules.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: input,
          alert_rule_test: [{ eval_time: '1h', alertname: 'OsbackupBackupMissing', exp_alerts: [] }],
        },
      ],
    }),
  );
  expect((await execa('promtool', ['test', 'rules', join(dir, 'test.yml')], { reject: false })).exitCode).not.toBe(0);

  // ---- a drill record written beside (as the drill workflow writes them) shows up
  mkdirSync(join(own.repo, drillRecordKey(ok, 'drill-1'), '..'), { recursive: true });
  writeFileSync(
    join(own.repo, drillRecordKey(ok, 'drill-1')),
    JSON.stringify({
      formatVersion: DRILL_FORMAT,
      kind: 'drill',
      id: 'drill-1',
      cloud: ok,
      workflowId: 'dr-drill:x',
      startedAt: manifest.completedAt,
      completedAt: manifest.completedAt,
      restorePoint: { id, component: 'database', completedAt: manifest.completedAt, verification: 'UNVERIFIED' },
      steps: [],
      rtoSeconds: 321.5,
      rpoSeconds: 4,
      targets: { rtoSeconds: 300, rpoSeconds: null },
      checks: [],
      result: 'failed',
      breaches: ['RTO 321.5 s exceeds the target 300 s'],
    }),
  );
  const withDrill = await scrape(worker);
  expect(one(withDrill, 'osbackup_drill_last_rto_seconds', { cloud: ok, kind: 'drill' })).toBe(321.5);
  expect(one(withDrill, 'osbackup_drill_last_passed', { cloud: ok, kind: 'drill' })).toBe(0);

  // ---- restart: the same values (nothing was kept in the worker), the killed run still counted once
  const kept = tierLines(withDrill);
  expect(await worker.stop()).toBe(0);
  worker = await startWorker(own.configFile);
  const after = await scrape(worker);
  expect(tierLines(after)).toEqual(kept);
  expect(one(after, 'osbackup_tier_run_failures_total', { cloud: gone, tier: 'weekly' })).toBe(1);
}, 170_000);
