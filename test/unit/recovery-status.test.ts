// `osbackup status`'s judgement (core/status/status.ts): newest good restore points, RPO,
// the last drill and its schedule, chains, the archiver — and which of them are breaches.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import type { DrillRecord } from '../../core/dr/record.js';
import {
  brokenChains,
  calendarIntervalSeconds,
  recoveryStatus,
  recoveryStatusText,
  type StatusInput,
} from '../../core/status/status.js';
import { calendarSchema } from '../../config/schedule-schema.js';

const NOW = '2026-12-06T12:00:00.000Z';
const hoursAgo = (h: number) => new Date(Date.parse(NOW) - h * 3_600_000).toISOString();
const row = (id: string, h: number, over: Partial<CatalogEntry> = {}): CatalogEntry => ({
  id,
  cloud: 'prod',
  component: 'database',
  kind: 'full',
  parentId: null,
  startedAt: hoursAgo(h),
  completedAt: hoursAgo(h),
  sourceHost: 'ctl1',
  bytes: 1,
  streamBytes: 1,
  sha256: 'x',
  path: id,
  toLsn: '',
  binlog: null,
  verification: 'UNVERIFIED',
  lastVerifiedAt: null,
  target: 'local',
  check: 'UNCHECKED',
  lastCheckedAt: null,
  imported: null,
  ...over,
});
const drill = (id: string, h: number, over: Partial<DrillRecord> = {}): DrillRecord => ({
  formatVersion: 1,
  kind: 'drill',
  id,
  cloud: 'prod',
  workflowId: `dr-drill:${id}`,
  startedAt: hoursAgo(h),
  completedAt: hoursAgo(h),
  restorePoint: { id: 'db-1', component: 'database', completedAt: hoursAgo(h + 1), verification: 'VERIFIED' },
  steps: [],
  rtoSeconds: 40,
  rpoSeconds: 3600,
  targets: { rtoSeconds: 600, rpoSeconds: null },
  checks: [],
  result: 'passed',
  breaches: [],
  ...over,
});
const monthly = calendarSchema.parse({ hour: 6, dayOfWeek: 'sunday', dayOfMonth: '8-14' });
const input = (over: Partial<StatusInput> = {}): StatusInput => ({
  cloud: 'prod',
  now: NOW,
  rows: [],
  drills: [],
  archiver: null,
  binlogRpoTargetSeconds: 60,
  drill: { rtoTargetSeconds: 600, rpoTargetSeconds: 86_400, schedule: { enabled: true, calendar: monthly } },
  ...over,
});

test('all good: newest CHECKED and VERIFIED points per component, RPO within the drill target, a recent passing drill', () => {
  const rows = [
    row('db-full-1', 30, { check: 'CHECKED', verification: 'VERIFIED' }),
    row('db-inc-2', 6, { kind: 'incremental', parentId: 'db-full-1', check: 'CHECKED' }),
    row('cp-1', 5, { component: 'control-plane', kind: 'control-plane', check: 'CHECKED' }),
    row('binlog-x', 1, { component: 'binlog', kind: 'binlog' }),
  ];
  const s = recoveryStatus(input({ rows, drills: [drill('drill-a', 24 * 20), drill('drill-b', 24)] }));
  expect(s.components.map((c) => [c.component, c.newestVerified?.id ?? null, c.newestChecked?.id ?? null])).toEqual([
    ['control-plane', null, 'cp-1'],
    ['database', 'db-full-1', 'db-inc-2'],
  ]);
  expect(s.rpo).toEqual({ via: 'newest backup', achievedSeconds: 6 * 3600, targetSeconds: 86_400, met: true });
  expect(s.drill).toMatchObject({
    configured: true,
    last: { id: 'drill-b', result: 'passed', rtoSeconds: 40, ageSeconds: 24 * 3600 },
    overdue: false,
  });
  expect(s.archiver.state).toBe('not running');
  expect(s.breaches).toEqual([]);
  expect(s.ok).toBe(true);
  expect(recoveryStatusText(s)).toContain('all targets met');
});

test('every breach is named: a failed drill, an overdue one, a lagging archiver, a broken chain, RPO', () => {
  const rows = [row('db-full-1', 50), row('db-inc-3', 2, { kind: 'incremental', parentId: 'db-inc-2' })];
  const failed = recoveryStatus(
    input({
      rows,
      drills: [
        drill('drill-b', 24, { result: 'failed', rtoSeconds: 62, breaches: ['RTO 62.0 s exceeds the target 1 s'] }),
      ],
    }),
  );
  expect(failed.breaches).toEqual([
    'achieved RPO 180000.0 s (newest database backup db-full-1) exceeds the target 86400 s',
    'restore point db-inc-3 is broken: incremental db-inc-3 needs db-inc-2, which is missing',
    'the last drill drill-b FAILED: RTO 62.0 s exceeds the target 1 s',
  ]);
  expect(failed.ok).toBe(false);
  expect(recoveryStatusText(failed)).toMatch(/BREACHED \(3\):\n {2}- achieved RPO/);

  const old = recoveryStatus(input({ rows: [row('db-full-1', 1)], drills: [drill('drill-a', 24 * 40)] }));
  expect(old.drill.overdue).toBe(true);
  expect(old.breaches).toEqual([
    expect.stringMatching(
      /the last drill drill-a is 40\.0 days old, older than the drill schedule's interval \(35\.0 days\): a drill is overdue/,
    ),
  ]);
  expect(recoveryStatus(input({ rows: [row('db-full-1', 1)] })).breaches).toEqual([
    'cloud prod has a drill schedule but no drill has run yet: run `osbackup dr drill --cloud prod`',
  ]);

  const lag = recoveryStatus(
    input({
      rows: [row('db-full-1', 1)],
      drills: [drill('d', 1)],
      archiver: { running: true, caughtUpAt: hoursAgo(0.1), achievedRpoSeconds: 360 },
    }),
  );
  expect(lag.archiver.state).toBe('lagging');
  expect(lag.rpo).toEqual({ via: 'binlog archive', achievedSeconds: 360, targetSeconds: 60, met: false });
  expect(lag.breaches).toEqual([
    'the binlog archiver of cloud prod lags: achieved RPO 360.0 s exceeds the target 60 s',
  ]);
  const fine = recoveryStatus(
    input({
      rows: [row('db-full-1', 1)],
      drills: [drill('d', 1)],
      archiver: { running: true, caughtUpAt: NOW, achievedRpoSeconds: 4 },
    }),
  );
  expect([fine.archiver.state, fine.rpo.via, fine.ok]).toEqual(['running', 'binlog archive', true]);
});

test('no drill section and no archiver: RPO reported, not judged; no drill expected', () => {
  const s = recoveryStatus(input({ rows: [row('db-full-1', 50)], drill: null }));
  expect(s.rpo).toEqual({ via: 'newest backup', achievedSeconds: 50 * 3600, targetSeconds: null, met: null });
  expect(s.drill).toMatchObject({ configured: false, last: null, overdue: false });
  expect(s.ok).toBe(true);
});

test('chains: a member CORRUPT or MISSING breaks every point built on it', () => {
  const rows = [row('f', 3, { check: 'CORRUPT' }), row('i1', 2, { kind: 'incremental', parentId: 'f' }), row('g', 1)];
  expect(brokenChains(rows)).toEqual([
    { id: 'f', reason: 'f is CORRUPT' },
    { id: 'i1', reason: 'f is CORRUPT' },
  ]);
});

test("a calendar's interval: monthly ≈ 35 days at most, weekly 7, daily 1", () => {
  const from = Date.parse(NOW);
  expect(calendarIntervalSeconds(monthly, from)! / 86_400).toBe(35);
  expect(calendarIntervalSeconds(calendarSchema.parse({ hour: 4, dayOfWeek: 'wednesday' }), from)).toBe(7 * 86_400);
  expect(calendarIntervalSeconds(calendarSchema.parse({ hour: 2 }), from)).toBe(86_400);
});
