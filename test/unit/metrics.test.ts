// What /metrics shows: the pure values (core/metrics/metrics.ts), the run journal's counting
// (core/tiers/run-journal.ts), the config section, and the collector + HTTP listener over a
// real repository folder (catalog, journals, drill records written as the workflows write them).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../config/load.js';
import { parseListen } from '../../config/metrics-schema.js';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { DRILL_FORMAT, drillRecordKey, type DrillRecord } from '../../core/dr/record.js';
import { calendarMaxGapSeconds, metricSamples, type MetricsInput, type Sample } from '../../core/metrics/metrics.js';
import {
  addFailures,
  addSuccess,
  emptyJournal,
  KEEP_RECENT_DAYS,
  parseRunJournal,
  runJournalKey,
  tierRunFromWorkflowId,
  type RunFailure,
} from '../../core/tiers/run-journal.js';
import { cloudInputs, MetricsCollector } from '../../worker/metrics.js';
import { startMetricsServer } from '../../worker/metrics-server.js';
import { SshPool } from '../../activities/ssh/pool.js';
import { cloudYaml, configProblems, configYaml } from '../helpers/config-fixture.js';

const DAY = 86_400;
const T = (s: string) => `2026-12-0${s}Z`;

function row(p: Partial<CatalogEntry> & Pick<CatalogEntry, 'id' | 'completedAt'>): CatalogEntry {
  return {
    cloud: 'prod',
    component: 'database',
    kind: 'full',
    parentId: null,
    startedAt: p.completedAt,
    sourceHost: 'ctl1',
    bytes: 100,
    streamBytes: 200,
    sha256: 'x',
    path: 'p',
    toLsn: '1',
    binlog: null,
    verification: 'UNVERIFIED',
    lastVerifiedAt: null,
    target: 'local',
    check: 'UNCHECKED',
    lastCheckedAt: null,
    imported: null,
    ...p,
  };
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('schedule intervals from the calendars', () => {
  const entries = parseConfig(
    configYaml(
      cloudYaml(
        'prod',
        '    schedules: { entries: { verify: { calendar: { hour: [4, 16], minute: 15, dayOfWeek: mon-fri } }, rotate: { calendar: { hour: "*", minute: "*/15" } } } }\n',
      ),
    ),
  ).clouds.prod!.schedules.entries;
  test.each([
    ['daily', DAY],
    ['controlPlane', DAY],
    ['weekly', 7 * DAY],
    // first Sunday of the month: 4 or 5 weeks apart
    ['monthly', 35 * DAY],
    // 04:15 and 16:15 on weekdays: Friday 16:15 → Monday 04:15
    ['verify', 2 * DAY + 12 * 3600],
    ['rotate', 15 * 60],
  ] as const)('%s → %i s', (entry, gap) => {
    expect(calendarMaxGapSeconds(entries[entry].calendar)).toBe(gap);
  });
  test('a calendar that never fires (31 February) has no interval', () => {
    expect(
      calendarMaxGapSeconds({
        hour: [{ start: 2, end: 2, step: 1 }],
        minute: [{ start: 0, end: 0, step: 1 }],
        dayOfMonth: [{ start: 31, end: 31, step: 1 }],
        month: [{ start: 2, end: 2, step: 1 }],
      }),
    ).toBeNull();
  });
});

describe('metric values', () => {
  const base = (over: Partial<MetricsInput> = {}): MetricsInput => ({
    nowMs: Date.parse(T('6T12:00:00')),
    clouds: [
      {
        name: 'prod',
        rpoTargetSeconds: 60,
        tiers: [
          { tier: 'daily', targets: ['local', 's3'], intervalSeconds: DAY },
          { tier: 'weekly', targets: ['local'], intervalSeconds: 7 * DAY },
          { tier: 'control-plane', targets: ['local'], intervalSeconds: null },
        ],
      },
    ],
    rows: [],
    targets: [
      { name: 'local', up: true, totalBytes: 1000, freeBytes: 50 },
      { name: 's3', up: false, totalBytes: null, freeBytes: null },
    ],
    journals: [],
    drills: [],
    binlog: [],
    drillMaxAgeSeconds: 35 * DAY,
    ...over,
  });

  test('per tier and target: the newest matching artifact; a full counts for daily, an incremental not for weekly; vanished and pre-restore rows never', () => {
    const rows = [
      row({
        id: 'full-1',
        kind: 'full',
        startedAt: T('5T03:00:00'),
        completedAt: T('5T03:10:00'),
        bytes: 5000,
        verification: 'VERIFIED',
      }),
      row({ id: 'inc-1', kind: 'incremental', startedAt: T('6T02:00:00'), completedAt: T('6T02:00:30'), bytes: 70 }),
      row({ id: 'inc-gone', kind: 'incremental', completedAt: T('6T09:00:00'), check: 'MISSING' }),
      row({ id: 'cp-pre', component: 'control-plane', kind: 'pre-restore', completedAt: T('6T08:00:00') }),
      row({ id: 'bl-1', component: 'binlog', kind: 'binlog', completedAt: T('6T11:00:00'), bytes: 7 }),
    ];
    const s = metricSamples(base({ rows }));
    const daily = { cloud: 'prod', tier: 'daily', target: 'local', component: 'database' };
    expect(value(s, 'osbackup_last_success_timestamp_seconds', daily)).toBe(Date.parse(T('6T02:00:30')) / 1000);
    expect(value(s, 'osbackup_last_duration_seconds', daily)).toBe(30);
    expect(value(s, 'osbackup_last_bytes', daily)).toBe(70);
    expect(value(s, 'osbackup_verification_state', { ...daily, state: 'UNVERIFIED' })).toBe(1);
    expect(value(s, 'osbackup_verification_state', { ...daily, state: 'VERIFIED' })).toBe(0);
    // the newest VERIFIED restore point of the tier is the weekly full
    expect(value(s, 'osbackup_last_verified_timestamp_seconds', daily)).toBe(Date.parse(T('5T03:10:00')) / 1000);
    const weekly = { cloud: 'prod', tier: 'weekly', target: 'local' };
    expect(value(s, 'osbackup_last_success_timestamp_seconds', weekly)).toBe(Date.parse(T('5T03:10:00')) / 1000);
    expect(value(s, 'osbackup_last_bytes', weekly)).toBe(5000);
    // no control-plane backup: "never" is 0, and there is no duration to speak of
    expect(value(s, 'osbackup_last_success_timestamp_seconds', { tier: 'control-plane' })).toBe(0);
    expect(value(s, 'osbackup_last_duration_seconds', { tier: 'control-plane' })).toBeUndefined();
    // an unreadable target says nothing rather than "never"
    expect(value(s, 'osbackup_last_success_timestamp_seconds', { tier: 'daily', target: 's3' })).toBeUndefined();
    expect(value(s, 'osbackup_target_up', { target: 's3' })).toBe(0);
    expect(value(s, 'osbackup_target_free_bytes', { target: 'local' })).toBe(50);
    expect(value(s, 'osbackup_target_capacity_bytes', { target: 's3' })).toBeUndefined();
    // growth over the local rows (5070 bytes arriving over ~1.3 days) and what is left at that rate
    const growth = value(s, 'osbackup_target_growth_bytes_per_day', { target: 'local' })!;
    expect(growth).toBeGreaterThan(0);
    expect(value(s, 'osbackup_target_days_until_full', { target: 'local' })).toBeCloseTo(50 / growth, 6);
    // kept artifacts per component: the vanished one is not kept
    expect(value(s, 'osbackup_artifacts', { component: 'database', target: 'local' })).toBe(2);
    expect(value(s, 'osbackup_stored_bytes', { component: 'database', target: 'local' })).toBe(5070);
    expect(value(s, 'osbackup_artifacts', { component: 'binlog' })).toBe(1);
    expect(value(s, 'osbackup_schedule_interval_seconds', { tier: 'weekly' })).toBe(7 * DAY);
    expect(value(s, 'osbackup_schedule_interval_seconds', { tier: 'control-plane' })).toBeUndefined();
  });

  test('failure counter and last success/failure come from the run journal; none yet is 0', () => {
    const f = (runId: string, at: string): RunFailure => ({
      workflowId: `prod-daily-${at}`,
      runId,
      status: 'TimedOut',
      at,
      seenBy: 'temporal',
    });
    let j = addFailures(
      emptyJournal('prod', 'daily'),
      [f('r1', T('4T02:00:00')), f('r2', T('5T02:00:00'))],
      Date.parse(T('6T00:00:00')),
    ).journal;
    j = addSuccess(j, {
      workflowId: 'w',
      runId: 'r3',
      startedAt: T('6T02:00:00'),
      at: T('6T02:05:00'),
      backupId: 'inc-1',
    });
    const s = metricSamples(base({ journals: [j] }));
    expect(value(s, 'osbackup_tier_run_failures_total', { tier: 'daily' })).toBe(2);
    expect(value(s, 'osbackup_tier_run_last_failure_timestamp_seconds', { tier: 'daily' })).toBe(
      Date.parse(T('5T02:00:00')) / 1000,
    );
    expect(value(s, 'osbackup_tier_run_last_success_timestamp_seconds', { tier: 'daily' })).toBe(
      Date.parse(T('6T02:05:00')) / 1000,
    );
    expect(value(s, 'osbackup_tier_run_last_duration_seconds', { tier: 'daily' })).toBe(300);
    expect(value(s, 'osbackup_tier_run_failures_total', { tier: 'weekly' })).toBe(0);
  });

  test('achieved RPO from the latest archive point over hosts; drills: the newest per kind, never drilled = 0', () => {
    const drill = (id: string, completedAt: string, result: 'passed' | 'failed', rto: number): DrillRecord => ({
      formatVersion: DRILL_FORMAT,
      kind: 'drill',
      id,
      cloud: 'prod',
      workflowId: id,
      startedAt: completedAt,
      completedAt,
      restorePoint: { id: 'full-1', component: 'database', completedAt, verification: 'VERIFIED' },
      steps: [],
      rtoSeconds: rto,
      rpoSeconds: 12,
      targets: { rtoSeconds: 600, rpoSeconds: null },
      checks: [],
      result,
      breaches: [],
    });
    const s = metricSamples(
      base({
        binlog: [
          { cloud: 'prod', host: 'ctl1', archivedThrough: T('6T11:59:00') },
          { cloud: 'prod', host: 'ctl1', archivedThrough: T('6T11:58:00') },
          { cloud: 'prod', host: 'ctl2', archivedThrough: T('6T11:00:00') },
        ],
        drills: [drill('d1', T('1T10:00:00'), 'passed', 100), drill('d2', T('3T10:00:00'), 'failed', 900)],
      }),
    );
    expect(value(s, 'osbackup_binlog_archived_through_timestamp_seconds', { host: 'ctl1' })).toBe(
      Date.parse(T('6T11:59:00')) / 1000,
    );
    expect(value(s, 'osbackup_rpo_achieved_seconds', { cloud: 'prod' })).toBe(60);
    expect(value(s, 'osbackup_rpo_target_seconds', { cloud: 'prod' })).toBe(60);
    expect(value(s, 'osbackup_drill_last_rto_seconds', { kind: 'drill' })).toBe(900);
    expect(value(s, 'osbackup_drill_last_passed', { kind: 'drill' })).toBe(0);
    expect(value(s, 'osbackup_drill_rto_target_seconds', { kind: 'drill' })).toBe(600);
    expect(value(s, 'osbackup_drill_last_timestamp_seconds', { kind: 'rebuild' })).toBeUndefined();
    const never = metricSamples(base());
    expect(value(never, 'osbackup_drill_last_timestamp_seconds', { kind: 'drill' })).toBe(0);
    expect(value(never, 'osbackup_rpo_achieved_seconds', {})).toBeUndefined();
  });
});

describe('run journal', () => {
  const f = (runId: string, at: string, seenBy: RunFailure['seenBy'] = 'temporal'): RunFailure => ({
    workflowId: 'prod-daily-x',
    runId,
    status: 'Failed',
    at,
    seenBy,
  });
  test('a run reported twice (by the workflow, then from Temporal) counts once; the total only grows, old entries are pruned', () => {
    const now = Date.parse(T('6T00:00:00'));
    let { journal, added } = addFailures(emptyJournal('prod', 'daily'), [f('r1', T('5T02:00:00'), 'workflow')], now);
    expect(added).toBe(1);
    ({ journal, added } = addFailures(
      journal,
      [f('r1', T('5T02:00:05')), f('r2', T('5T03:00:00')), f('r2', T('5T03:00:00'))],
      now,
    ));
    expect(added).toBe(1);
    expect(journal.failuresTotal).toBe(2);
    expect(journal.recent.map((x) => [x.runId, x.seenBy])).toEqual([
      ['r1', 'workflow'],
      ['r2', 'temporal'],
    ]);
    // long after: pruned from the dedup window, still counted
    const later = now + (KEEP_RECENT_DAYS + 1) * DAY * 1000;
    ({ journal } = addFailures(journal, [f('r3', new Date(later).toISOString())], later));
    expect(journal.failuresTotal).toBe(3);
    expect(journal.recent.map((x) => x.runId)).toEqual(['r3']);
    expect(parseRunJournal(JSON.stringify(journal))).toEqual(journal);
    expect(parseRunJournal('{"formatVersion":1')).toBeNull();
  });
  test('workflow ids of the schedules name cloud and tier', () => {
    expect(tierRunFromWorkflowId('prod-eu-control-plane-2026-12-06T02:30:00Z')).toEqual({
      cloud: 'prod-eu',
      tier: 'control-plane',
    });
    expect(tierRunFromWorkflowId('backup-db:prod:20261206-0200')).toBeNull();
  });
});

describe('metrics config', () => {
  test('absent: no listener; present: defaults; bad listen address refused with the fix', () => {
    expect(parseConfig(configYaml()).metrics).toBeUndefined();
    expect(parseConfig(configYaml(undefined, 'metrics: {}\n')).metrics).toEqual({
      listen: '127.0.0.1:9464',
      cacheSeconds: 60,
      failureLookbackDays: 7,
      drillMaxAgeDays: 35,
    });
    expect(configProblems(configYaml(undefined, 'metrics: { listen: "9464" }\n'))).toEqual({
      'metrics.listen': expect.stringContaining('"host:port"'),
    });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: undefined, port: 9464 });
  });
});

describe('collector and listener over a real repository folder', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'osb-metrics-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('GET /metrics serves journal and drill values; scrapes inside cacheSeconds come from memory; other paths 404', async () => {
    const repo = join(dir, 'repo');
    const config = parseConfig(
      configYaml(undefined, `metrics: { listen: "127.0.0.1:0", cacheSeconds: 2 }\n`).replace('/srv/osbackup', repo),
    );
    const write = (key: string, v: unknown) => {
      mkdirSync(join(repo, key, '..'), { recursive: true });
      writeFileSync(join(repo, key), JSON.stringify(v));
    };
    const j = addFailures(
      emptyJournal('prod', 'daily'),
      [{ workflowId: 'prod-daily-1', runId: 'r1', status: 'Terminated', at: T('5T02:00:00'), seenBy: 'temporal' }],
      Date.now(),
    ).journal;
    write(runJournalKey('prod', 'daily'), j);
    write(drillRecordKey('prod', 'd1'), {
      formatVersion: DRILL_FORMAT,
      kind: 'drill',
      id: 'd1',
      cloud: 'prod',
      workflowId: 'w',
      startedAt: T('5T01:00:00'),
      completedAt: T('5T01:30:00'),
      restorePoint: {},
      steps: [],
      rtoSeconds: 1234.5,
      rpoSeconds: null,
      targets: { rtoSeconds: null, rpoSeconds: null },
      checks: [],
      result: 'passed',
      breaches: [],
    });
    const logs: string[] = [];
    const ssh = new SshPool();
    const collector = new MetricsCollector({ config, env: {}, ssh }, config.metrics!, null, (l) => logs.push(l));
    const http = await startMetricsServer(collector, config.metrics!.listen);
    try {
      const get = (path: string) => fetch(`http://${http.address}${path}`);
      const r = await get('/metrics');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/plain');
      const text = await r.text();
      expect(text).toContain('# TYPE osbackup_tier_run_failures_total counter');
      expect(text).toContain('osbackup_tier_run_failures_total{cloud="prod",tier="daily"} 1');
      expect(text).toContain('osbackup_tier_run_failures_total{cloud="prod",tier="weekly"} 0');
      expect(text).toContain('osbackup_drill_last_rto_seconds{cloud="prod",kind="drill"} 1234.5');
      expect(text).toContain(
        'osbackup_last_success_timestamp_seconds{cloud="prod",component="database",tier="daily",target="local"} 0',
      );
      expect(text).toContain('osbackup_target_up{target="local"} 1');
      expect(text).toMatch(/^osbackup_schedule_interval_seconds\{cloud="prod",tier="daily"\} 86400$/m);
      expect(text).toMatch(/^process_cpu_seconds_total /m);
      expect(logs).toEqual([]);
      // a new failure inside the cache window is not seen yet; after it, it is
      write(
        runJournalKey('prod', 'daily'),
        addFailures(
          j,
          [{ workflowId: 'prod-daily-2', runId: 'r2', status: 'Failed', at: T('6T02:00:00'), seenBy: 'workflow' }],
          Date.now(),
        ).journal,
      );
      expect(await (await get('/metrics')).text()).toContain('tier="daily"} 1\n');
      await new Promise((res) => setTimeout(res, 2100));
      expect(await (await get('/metrics')).text()).toContain(
        'osbackup_tier_run_failures_total{cloud="prod",tier="daily"} 2',
      );
      expect((await get('/')).status).toBe(404);
    } finally {
      await http.close();
      ssh.close();
    }
  });

  test('the tiers of a cloud: control-plane only when there is a control plane to back up', () => {
    const c = parseConfig(
      configYaml(
        cloudYaml('prod') +
          cloudYaml('cp', '    rabbitmq: { host: ctl1 }\n').replace('ctl1:\n', 'ctl1:\n        rabbitmq: {}\n'),
      ),
    );
    const tiers = Object.fromEntries(cloudInputs(c).map((x) => [x.name, x.tiers.map((t) => t.tier)]));
    expect(tiers.prod).toEqual(['daily', 'weekly', 'monthly']);
    expect(tiers.cp).toEqual(['daily', 'weekly', 'monthly', 'control-plane']);
    const d = parseConfig(configYaml(cloudYaml('dumps', '    schedules: { entries: { dump: { enabled: true } } }\n')));
    expect(cloudInputs(d)[0]!.tiers.find((t) => t.tier === 'dump')).toMatchObject({
      tier: 'dump',
      intervalSeconds: 86400,
    });
  });
});
