// The report's model: tiers from run ids, the calendar, the RPO series, breaches and forecast,
// from fixtures of the catalog's and the drill records' own types.
import {
  artifacts,
  backupRpoSeries,
  binlogRpoSeries,
  calendar,
  downsampleMax,
  fmtDuration,
  laneOf,
  reportModel,
  tierOf,
  type ReportInput,
} from '../../core/report/report.js';
import { drill, reportFixture, row } from '../fixtures/report-fixture.js';

const NOW = Date.parse('2026-12-06T10:00:00Z');
const H = 3600_000;
const iso = (t: number) => new Date(t).toISOString();
const empty = (over: Partial<ReportInput> = {}): ReportInput => ({
  cloud: 'prod',
  generatedAt: iso(NOW),
  repository: 'repo',
  rows: [],
  unavailableTargets: [],
  drills: [],
  capacity: [],
  capacityFailed: [],
  settings: { backupRpoTargetSeconds: 26 * 3600, binlogRpoTargetSeconds: 60, drillMaxAgeDays: 31, days: 35 },
  ...over,
});

test('tierOf: scheduled runs name their tier, CLI runs are manual, unknown ids stay null', () => {
  expect(tierOf('prod', 'prod-weekly-2026-12-06T02:00:00Z-db')).toBe('weekly');
  expect(tierOf('prod', 'prod-control-plane-2026-12-06T02:00:00Z-cp')).toBe('control-plane');
  // another cloud's prefix is not this cloud's tier
  expect(tierOf('prod', 'prod2-daily-2026-12-06T02:00:00Z-db')).toBe(null);
  expect(tierOf('prod', 'backup-db:prod:20261206-020000')).toBe('manual');
  expect(tierOf('prod', 'preflight:prod:20261206-020000-db')).toBe('preflight');
  expect(tierOf('prod', 'import-kolla:prod:20261206-020000')).toBe('imported');
  expect(tierOf('prod', undefined)).toBe(null);
});

test('laneOf: database rows by tier and kind, the kind alone when the run is unknown; binlog one lane', () => {
  const at = iso(NOW);
  expect(
    laneOf(
      'prod',
      row({ id: 'a', component: 'database', kind: 'full', completedAt: at, workflowId: 'prod-weekly-x-db' }),
    ),
  ).toBe('database · weekly full');
  expect(laneOf('prod', row({ id: 'a', component: 'database', kind: 'incremental', completedAt: at }))).toBe(
    'database · incremental',
  );
  expect(
    laneOf(
      'prod',
      row({
        id: 'a',
        component: 'database',
        kind: 'full',
        completedAt: at,
        imported: 'kolla-mariadb_backup',
        workflowId: 'import-kolla:prod:x',
      }),
    ),
  ).toBe('database · imported full');
  expect(
    laneOf(
      'prod',
      row({
        id: 'a',
        component: 'control-plane',
        kind: 'control-plane',
        completedAt: at,
        workflowId: 'prod-control-plane-x-cp',
      }),
    ),
  ).toBe('control-plane');
  expect(
    laneOf(
      'prod',
      row({
        id: 'a',
        component: 'control-plane',
        kind: 'control-plane',
        completedAt: at,
        workflowId: 'backup-cp:prod:x',
      }),
    ),
  ).toBe('control-plane · manual');
  expect(laneOf('prod', row({ id: 'a', component: 'binlog', kind: 'binlog', completedAt: at }))).toBe('binlog');
});

test('calendar: one cell per day and lane, counting artifacts once across targets, coloured by the worst state', () => {
  const day = Date.parse('2026-12-05T00:00:00Z');
  const rows = [
    row({
      id: 'db-full-1',
      component: 'database',
      kind: 'full',
      completedAt: iso(day + 2 * H),
      verification: 'VERIFIED',
    }),
    row({
      id: 'db-full-1',
      component: 'database',
      kind: 'full',
      completedAt: iso(day + 2 * H),
      target: 'swift',
      check: 'CORRUPT',
    }),
    row({
      id: 'db-full-2',
      component: 'database',
      kind: 'full',
      completedAt: iso(day + 5 * H),
      verification: 'VERIFIED',
      bytes: 5,
    }),
    row({ id: 'db-full-3', component: 'database', kind: 'full', completedAt: iso(day + 26 * H), check: 'CHECKED' }),
    row({ id: 'old', component: 'database', kind: 'full', completedAt: iso(day - 40 * 24 * H) }),
  ];
  const c = calendar('prod', artifacts(rows, 'repo'), day - 2 * 24 * H, NOW);
  expect(c.days).toEqual(['2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06']);
  expect(c.lanes).toHaveLength(1);
  const [d3, d4, d5, d6] = c.lanes[0]!.cells;
  expect([d3!.count, d4!.count, d5!.count, d6!.count]).toEqual([0, 0, 2, 1]);
  expect(d5).toMatchObject({ state: 'failed', ids: ['db-full-1', 'db-full-2'], bytes: 1005 });
  expect(d6!.state).toBe('checked');
  expect(d3!.state).toBe(null);
});

test('backup RPO: the gap before each usable restore point, then the newest one’s age; a failed proof does not count', () => {
  const rows = [
    row({ id: 'f1', component: 'database', kind: 'full', completedAt: iso(NOW - 50 * H) }),
    row({
      id: 'i1',
      component: 'database',
      kind: 'incremental',
      completedAt: iso(NOW - 26 * H),
      verification: 'FAILED',
    }),
    row({ id: 'i2', component: 'database', kind: 'incremental', completedAt: iso(NOW - 2 * H) }),
    // corrupt on one target but intact in the repository: still a restore point
    row({
      id: 'i2',
      component: 'database',
      kind: 'incremental',
      completedAt: iso(NOW - 2 * H),
      target: 'swift',
      check: 'CORRUPT',
    }),
  ];
  const [s] = backupRpoSeries(artifacts(rows, 'repo'), NOW - 10 * 24 * H, NOW);
  expect(s!.points.map((p) => [p.label, p.v / 3600])).toEqual([
    ['i2', 48],
    ['now: since i2', 2],
  ]);
  expect(backupRpoSeries([], 0, NOW)).toEqual([]);
});

test('binlog RPO: a segment waited since max(previous end, its first event) — an idle server is no breach; per host; a merged segment stands for its pieces', () => {
  const seg = (id: string, host: string, firstEventAt: number | null, archivedThrough: number, completedAt: number) =>
    row({
      id,
      component: 'binlog',
      kind: 'binlog',
      sourceHost: host,
      completedAt: iso(completedAt),
      binlogSpan: {
        firstEventAt: firstEventAt === null ? null : iso(firstEventAt),
        archivedThrough: iso(archivedThrough),
      },
    });
  const t = NOW - 2 * H;
  const rows = [
    seg('s1', 'ctl1', t - 5000, t, t + 1000),
    // idle for an hour, then one event: it waited 3 s, not an hour
    seg('s2', 'ctl1', t + H - 2000, t + H, t + H + 1000),
    // the archiver was down: the previous segment ended 10 min ago and this event is older still
    seg('s3', 'ctl1', t + H - 2000 + 100, t + H + 599_000, t + H + 600_000),
    seg('x1', 'ctl2', null, t, t + 500),
    seg('x2', 'ctl2', null, t + 2000, t + 3000),
    seg('binlog-ctl1-mysql-bin.000001-000000000000-000000004096', 'ctl1', t - 9 * H, t, t + 2 * H),
  ];
  const s = binlogRpoSeries(artifacts(rows, 'repo'), NOW - 24 * H, NOW);
  expect(s.map((x) => x.name)).toEqual(['binlog ctl1', 'binlog ctl2']);
  expect(s[0]!.points.map((p) => [p.label, p.v])).toEqual([
    ['s2', 3],
    ['s3', 600],
  ]);
  expect(s[1]!.points.map((p) => p.v)).toEqual([3]);

  // after compaction: s2 and s3 merged into one segment that keeps their landing record (s3's 600 s wait)
  const merged = row({
    ...rows[1]!,
    id: 'binlog-ctl1-mysql-bin.000001-000000004096-000000009000',
    completedAt: iso(t + 3 * H),
    binlogSpan: {
      firstEventAt: iso(t + H - 2000),
      archivedThrough: iso(t + H + 599_000),
      compacted: {
        pieces: 2,
        firstLandedAt: iso(t + H + 1000),
        lastLandedAt: iso(t + H + 600_000),
        worstLandingSeconds: 600,
      },
    },
  });
  const after = binlogRpoSeries(artifacts([rows[0]!, merged], 'repo'), NOW - 24 * H, NOW);
  expect(after[0]!.points).toEqual([{ t: t + H + 600_000, v: 600, label: merged.id }]);
});

test('downsampleMax keeps each bucket’s peak', () => {
  const pts = Array.from({ length: 1000 }, (_, i) => ({ t: i, v: i === 537 ? 99 : 1 }));
  const d = downsampleMax(pts, 50);
  expect(d.length).toBeLessThanOrEqual(50);
  expect(Math.max(...d.map((p) => p.v))).toBe(99);
  expect(downsampleMax(pts.slice(0, 3), 50)).toHaveLength(3);
});

test('breaches: failed proof, corrupt and missing copies, RPO over target, latest drill failed, drill overdue, unreadable target, filling target', () => {
  const input = empty({
    rows: [
      row({ id: 'f0', component: 'database', kind: 'full', completedAt: iso(NOW - 72 * H), verification: 'VERIFIED' }),
      row({
        id: 'f1',
        component: 'database',
        kind: 'full',
        completedAt: iso(NOW - 30 * H),
        verification: 'FAILED',
        lastVerifiedAt: iso(NOW - 29 * H),
      }),
      row({
        id: 'f2',
        component: 'database',
        kind: 'full',
        completedAt: iso(NOW - 28 * H),
        target: 'swift',
        check: 'MISSING',
      }),
      row({ id: 'f2', component: 'database', kind: 'full', completedAt: iso(NOW - 28 * H), check: 'CORRUPT' }),
    ],
    drills: [
      drill('d-old', NOW - 40 * 24 * H),
      drill('d-new', NOW - 24 * H, {}, 'deploy-mariadb'),
      drill('r1', NOW - H, { kind: 'rebuild' }),
    ],
    unavailableTargets: [{ target: 'nfs', reason: 'not mounted' }],
    capacity: [
      {
        target: 'repo',
        type: 'local',
        location: '/r',
        totalBytes: 100,
        freeBytes: 10,
        artifacts: 1,
        storedBytes: 90,
        growthBytesPerDay: 1,
        forecast30dBytes: 120,
        daysUntilFull: 10,
        fullAt: iso(NOW + 10 * 24 * H),
        note: null,
        components: [],
      },
    ],
  });
  const m = reportModel(input);
  const kinds = m.breaches.map((b) => `${b.kind} ${b.subject}`);
  expect(kinds).toEqual([
    'verification-failed f1',
    'missing f2 on swift',
    'corrupt f2 on repo',
    // f1 failed its proof and f2 is intact nowhere: the newest usable one is f0, 72 h old
    'backup-rpo database',
    'drill-failed d-new',
    'drill-overdue drill',
    'unreadable target nfs',
    'capacity target repo',
  ]);
  expect(m.breaches.find((b) => b.kind === 'drill-failed')!.message).toContain('step deploy-mariadb failed');
  expect(m.breaches.find((b) => b.kind === 'backup-rpo')!.message).toBe(
    'the newest good database restore point is 3 d old, over the target 1 d 2 h',
  );
  expect(m.breaches.find((b) => b.kind === 'drill-overdue')!.message).toMatch(
    /d-old\) is 40\.0 days old, over 31 days/,
  );
});

test('no usable restore point: the incremental rests on a full that failed its proof; a forecast from under a day of history raises no breach', () => {
  const cap = {
    target: 'repo',
    type: 'local',
    location: '/r',
    totalBytes: 100,
    freeBytes: 10,
    artifacts: 1,
    storedBytes: 90,
    growthBytesPerDay: 1,
    forecast30dBytes: 120,
    daysUntilFull: 10,
    fullAt: iso(NOW + 10 * 24 * H),
    note: null,
    components: [],
  };
  const m = reportModel(
    empty({
      rows: [
        row({ id: 'f1', component: 'database', kind: 'full', completedAt: iso(NOW - H), verification: 'FAILED' }),
        row({ id: 'i1', component: 'database', kind: 'incremental', parentId: 'f1', completedAt: iso(NOW - H / 2) }),
      ],
      capacity: [cap],
      drills: [drill('d', NOW)],
    }),
  );
  expect(m.breaches.map((b) => b.message)).toEqual([
    expect.stringContaining('f1: its last restore proof FAILED'),
    'no usable database restore point: every chain holds a failed proof or an artifact intact on no target',
  ]);
  expect(m.forecast[0]!.historyDays).toBeCloseTo(1 / 48, 5);
});

test('a healthy cloud has no breach; the newest restore point one hour old', () => {
  const m = reportModel(
    empty({
      rows: [
        row({ id: 'f', component: 'database', kind: 'full', completedAt: iso(NOW - H), verification: 'VERIFIED' }),
      ],
      drills: [drill('d', NOW - 2 * H)],
    }),
  );
  expect(m.breaches).toEqual([]);
  expect(m.summary).toMatchObject({ restorePoints: 1, verified: 1, drills: 1, breaches: 0 });
});

test('an empty repository: empty series, and the two breaches that say so', () => {
  const m = reportModel(empty());
  expect(m.calendar.lanes).toEqual([]);
  expect(m.calendar.days).toHaveLength(35);
  expect(m.sizes).toEqual([]);
  expect(m.rpo).toEqual({ backups: [], binlog: [] });
  expect(m.forecast).toEqual([]);
  expect(m.breaches.map((b) => b.kind)).toEqual(['backup-rpo', 'drill-overdue']);
});

test('the five-week fixture: every section has data; the forecast projects the target 30 days on', () => {
  const input = reportFixture(NOW);
  const m = reportModel(input);
  expect(m.calendar.days).toHaveLength(35);
  expect(m.calendar.lanes.map((l) => l.lane)).toEqual([
    'database · daily full',
    'database · daily incremental',
    'database · weekly full',
    'binlog',
    'control-plane',
  ]);
  expect(m.sizes.map((s) => s.name)).toEqual([
    'database full',
    'database incremental',
    'control-plane',
    'binlog (per day)',
  ]);
  // the archiver's four-hour stall is the binlog series' peak
  expect(Math.max(...m.rpo.binlog[0]!.points.map((p) => p.v))).toBeGreaterThan(4 * 3600);
  const repo = m.forecast.find((f) => f.target === 'repo')!;
  expect(repo.projection).toEqual([
    { t: NOW, v: input.capacity[0]!.storedBytes },
    { t: NOW + 30 * 24 * H, v: input.capacity[0]!.forecast30dBytes, label: 'in 30 days' },
  ]);
  expect(repo.history.at(-1)!.v).toBe(input.rows.filter((r) => r.target === 'repo').reduce((n, r) => n + r.bytes, 0));
  expect(m.drills[0]!.id).toBe('rebuild-20261202T130000Z');
});

test('fmtDuration', () => {
  expect([5, 95, 3600, 3660, 90000].map(fmtDuration)).toEqual(['5 s', '1 min 35 s', '1 h', '1 h 1 min', '1 d 1 h']);
});
