import { calendarBuckets, planRetention, recheck, retentionArtifactFromManifest } from '../../core/retention/plan.js';
import type {
  BinlogArtifact,
  ControlPlaneArtifact,
  ControlPlaneKind,
  DbArtifact,
  RetentionArtifact,
  RetentionPlan,
} from '../../core/retention/plan.js';
import { DEFAULT_RETENTION_POLICY, parseDuration, retentionPolicySchema } from '../../core/retention/policy.js';
import type { RetentionPolicyInput } from '../../core/retention/policy.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';

const full = (id: string, takenAt: string, extra: Partial<DbArtifact> = {}): DbArtifact => ({
  id,
  kind: 'full',
  parentId: null,
  takenAt,
  ...extra,
});
const inc = (id: string, parentId: string, takenAt: string, extra: Partial<DbArtifact> = {}): DbArtifact => ({
  id,
  kind: 'incremental',
  parentId,
  takenAt,
  ...extra,
});
const cp = (
  kind: ControlPlaneKind,
  id: string,
  takenAt: string,
  extra: Partial<ControlPlaneArtifact> = {},
): ControlPlaneArtifact => ({ id, kind, takenAt, ...extra });
const bl = (sequence: number, firstEventAt: string, lastEventAt: string): BinlogArtifact => ({
  id: `binlog-${sequence}`,
  kind: 'binlog',
  sequence,
  firstEventAt,
  lastEventAt,
});
// Only the tiers a scenario names are on; the defaults would blur what it shows.
const policy = (p: RetentionPolicyInput) => retentionPolicySchema.parse({ daily: 0, weekly: 0, monthly: 0, ...p });
const plan = (artifacts: RetentionArtifact[], p: RetentionPolicyInput, now: string) =>
  planRetention({ artifacts, policy: policy(p), now: new Date(now) });
const kept = (pl: RetentionPlan) => pl.keep.map((k) => k.id).sort();
const removed = (pl: RetentionPlan) => pl.remove.map((r) => r.id).sort();
const reasonsOf = (pl: RetentionPlan, id: string) => pl.keep.find((k) => k.id === id)?.reasons ?? [];

describe('the retention policy', () => {
  test('defaults: daily 7, weekly 4, monthly 12 in UTC, no binlog window', () => {
    expect(DEFAULT_RETENTION_POLICY).toEqual({
      keepLast: 0,
      daily: 7,
      weekly: 4,
      monthly: 12,
      timeZone: 'UTC',
      controlPlaneMaxAge: '24h',
    });
  });

  test('counts or durations; "m" is refused as ambiguous; zones by name or offset', () => {
    expect(
      retentionPolicySchema.parse({ daily: '10d', monthly: '1y', pointInTimeWindow: '36h', timeZone: '+05:30' }),
    ).toMatchObject({ daily: '10d', monthly: '1y', pointInTimeWindow: '36h', timeZone: '+05:30' });
    expect(retentionPolicySchema.safeParse({ monthly: '12m' }).success).toBe(false);
    expect(retentionPolicySchema.safeParse({ daily: -1 }).success).toBe(false);
    expect(retentionPolicySchema.safeParse({ timeZone: 'Mars/Olympus' }).success).toBe(false);
    expect(retentionPolicySchema.safeParse({ timeZone: 'Europe/Berlin' }).success).toBe(true);
    expect(retentionPolicySchema.safeParse({ keepLast: 3, extra: 1 }).success).toBe(false);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration('90min')).toBe(90 * 60_000);
  });
});

describe('calendar buckets', () => {
  test('ISO weeks across year ends', () => {
    expect(calendarBuckets(Date.parse('2021-01-03T12:00:00Z'), 'UTC').week).toBe('2020-W53');
    expect(calendarBuckets(Date.parse('2025-12-28T12:00:00Z'), 'UTC').week).toBe('2025-W52');
    expect(calendarBuckets(Date.parse('2025-12-29T12:00:00Z'), 'UTC').week).toBe('2026-W01');
    expect(calendarBuckets(Date.parse('2024-12-30T12:00:00Z'), 'UTC')).toEqual({
      day: '2024-12-30',
      week: '2025-W01',
      month: '2024-12',
    });
  });

  test('the time zone moves the day, week and month', () => {
    const t = Date.parse('2026-01-31T23:30:00Z');
    expect(calendarBuckets(t, 'UTC')).toEqual({ day: '2026-01-31', week: '2026-W05', month: '2026-01' });
    expect(calendarBuckets(t, 'Europe/Berlin')).toEqual({ day: '2026-02-01', week: '2026-W05', month: '2026-02' });
    expect(calendarBuckets(Date.parse('2026-02-02T03:00:00Z'), '-05:00')).toEqual({
      day: '2026-02-01',
      week: '2026-W05',
      month: '2026-02',
    });
  });
});

describe('chains', () => {
  // The seed rotated with `find -mtime +7 -delete`: on day 10 it deleted the 9-day-old full
  // that every kept incremental still needed.
  const now = '2026-03-10T12:00:00Z';
  const old = [full('f-feb', '2026-02-20T02:00:00Z'), inc('i-feb', 'f-feb', '2026-02-21T02:00:00Z')];
  const f = full('f1', '2026-03-01T02:00:00Z');
  const incs = [2, 3, 4, 5, 6, 7, 8, 9, 10].map((d, i) =>
    inc(`i${d}`, i === 0 ? 'f1' : `i${d - 1}`, `2026-03-${String(d).padStart(2, '0')}T02:00:00Z`),
  );

  test('a 9-day-old full that kept incrementals build on is kept, with the reason', () => {
    const pl = plan([...old, f, ...incs], { daily: 7 }, now);
    expect(removed(pl)).toEqual(['f-feb', 'i-feb']);
    expect(kept(pl)).toEqual(['f1', 'i10', 'i2', 'i3', 'i4', 'i5', 'i6', 'i7', 'i8', 'i9']);
    expect(reasonsOf(pl, 'f1')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^chain: needed to restore .* and \d+ more$/)]),
    );
    expect(reasonsOf(pl, 'i4')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^daily 7: newest restore point of 2026-03-04 \(UTC\), bucket 7 of 7$/),
      ]),
    );
    expect(pl.remove.find((r) => r.id === 'f-feb')!.reason).toMatch(
      /not selected by the policy \(keepLast 0, daily 7, weekly 0, monthly 0, UTC\)/,
    );
    expect(
      recheck(
        pl.retained,
        [...old, f, ...incs].filter((a) => !removed(pl).includes(a.id)),
      ),
    ).toEqual([]);
  });

  test('recheck names every retained point a purge would break', () => {
    const pl = plan([f, ...incs], { daily: 2 }, now);
    const withoutI5 = [f, ...incs].filter((a) => a.id !== 'i5');
    expect(recheck(pl.retained, withoutI5).map((b) => b.id)).toEqual(
      ['i5', 'i6', 'i7', 'i8', 'i9', 'i10']
        .filter((id) => pl.retained.includes(id))
        .sort((a, b) => pl.retained.indexOf(a) - pl.retained.indexOf(b)),
    );
    expect(recheck(['i10'], withoutI5)).toEqual([
      {
        id: 'i10',
        reason: 'retained restore point i10 would break: incremental i6 needs i5, which is not on the target',
      },
    ]);
  });

  test('nothing at or after the newest full goes; orphans older than it do, newer ones stay and are reported', () => {
    const artifacts = [
      full('f0', '2026-01-01T00:00:00Z'),
      inc('orphan-old', 'lost', '2026-01-02T00:00:00Z'),
      full('f1', '2026-03-01T00:00:00Z'),
      inc('a', 'f1', '2026-03-02T00:00:00Z'),
      inc('b', 'a', '2026-03-03T00:00:00Z'),
      inc('orphan-new', 'vanished', '2026-03-04T00:00:00Z'),
    ];
    const pl = plan(artifacts, { keepLast: 1 }, now);
    expect(kept(pl)).toEqual(['a', 'b', 'f1', 'orphan-new']);
    expect(removed(pl)).toEqual(['f0', 'orphan-old']);
    expect(reasonsOf(pl, 'a')).toEqual(expect.arrayContaining([expect.stringMatching(/the chain being built/)]));
    expect(pl.remove.find((r) => r.id === 'orphan-old')!.reason).toMatch(
      /^incomplete chain \(incremental orphan-old needs lost, which is not on the target\)/,
    );
    expect(
      pl.problems
        .filter((p) => p.kind === 'incomplete-chain')
        .map((p) => p.id)
        .sort(),
    ).toEqual(['orphan-new', 'orphan-old']);
    expect(pl.retained).not.toContain('orphan-new');
  });

  test('an LSN gap makes an incremental an orphan', () => {
    const pl = plan(
      [
        full('f', '2026-03-01T00:00:00Z', { toLsn: '100' }),
        inc('i', 'f', '2026-03-02T00:00:00Z', { fromLsn: '90', toLsn: '200' }),
      ],
      {},
      now,
    );
    expect(pl.problems).toEqual([
      expect.objectContaining({
        kind: 'incomplete-chain',
        id: 'i',
        message: expect.stringMatching(/starts at LSN 90 but its parent f ends at 100/),
      }),
    ]);
  });

  test('what cannot be read is kept and reported', () => {
    const pl = plan(
      [full('f', '2026-03-01T00:00:00Z'), full('f', '2026-03-02T00:00:00Z'), full('odd', 'yesterday')],
      {},
      now,
    );
    expect(kept(pl)).toEqual(['f', 'odd']);
    expect(pl.problems.map((p) => p.kind).sort()).toEqual(['duplicate-id', 'unreadable-time']);
  });
});

describe('GFS buckets', () => {
  const now = '2026-01-06T12:00:00Z';
  // Fulls only, so each point is kept or removed on its own account.
  const points = [
    '2025-12-28T10:00:00Z',
    '2025-12-29T10:00:00Z',
    '2026-01-01T10:00:00Z',
    '2026-01-04T10:00:00Z',
    '2026-01-05T10:00:00Z',
  ].map((t) => full(`f-${t.slice(0, 10)}`, t));

  test('weekly N keeps the newest point of each of the last N ISO weeks, across the year end', () => {
    const pl = plan(points, { weekly: 3 }, now);
    expect(kept(pl)).toEqual(['f-2025-12-28', 'f-2026-01-04', 'f-2026-01-05']);
    expect(reasonsOf(pl, 'f-2026-01-04')).toEqual(['weekly 3: newest restore point of 2026-W01 (UTC), bucket 2 of 3']);
    expect(reasonsOf(pl, 'f-2025-12-28')).toEqual(['weekly 3: newest restore point of 2025-W52 (UTC), bucket 3 of 3']);
  });

  test('monthly N keeps the newest point of each of the last N months; buckets without a point do not count', () => {
    const sparse = [
      full('oct', '2025-10-15T00:00:00Z'),
      full('dec-a', '2025-12-01T00:00:00Z'),
      full('dec-b', '2025-12-31T23:59:59Z'),
      full('jan', '2026-01-01T00:00:01Z'),
    ];
    const pl = plan(sparse, { monthly: 3 }, now);
    expect(kept(pl)).toEqual(['dec-b', 'jan', 'oct']);
    expect(removed(pl)).toEqual(['dec-a']);
  });

  test('the time zone decides which day a point belongs to', () => {
    const edge = [
      full('a', '2026-01-31T22:30:00Z'),
      full('b', '2026-01-31T23:30:00Z'),
      full('c', '2026-02-01T12:00:00Z'),
    ];
    expect(kept(plan(edge, { daily: 2 }, '2026-02-01T13:00:00Z'))).toEqual(['b', 'c']);
    const berlin = plan(edge, { daily: 2, timeZone: 'Europe/Berlin' }, '2026-02-01T13:00:00Z');
    expect(kept(berlin)).toEqual(['a', 'c']); // b is 00:30 on 1 February in Berlin
    expect(reasonsOf(berlin, 'a')).toEqual([
      'daily 2: newest restore point of 2026-01-31 (Europe/Berlin), bucket 2 of 2',
    ]);
    expect(kept(plan(edge, { monthly: 2, timeZone: '+01:00' }, '2026-02-01T13:00:00Z'))).toEqual(['a', 'c']);
  });

  test('a duration keeps every bucket whose newest point is no older than it', () => {
    const daily = [6, 7, 8, 9, 10].map((d) => full(`d${d}`, `2026-03-${String(d).padStart(2, '0')}T10:00:00Z`));
    const pl = plan(daily, { daily: '3d' }, '2026-03-10T12:00:00Z');
    expect(kept(pl)).toEqual(['d10', 'd8', 'd9']);
    expect(reasonsOf(pl, 'd8')).toEqual(['daily 3d: newest restore point of 2026-03-08 (UTC), within 3d']);
  });

  test('keepLast and the newest point are kept whatever the tiers say', () => {
    const hourly = [
      full('h0', '2026-03-10T00:00:00Z'),
      ...[1, 2, 3, 4].map((h) => inc(`h${h}`, `h${h - 1}`, `2026-03-10T0${h}:00:00Z`)),
    ];
    expect(reasonsOf(plan(hourly, {}, '2026-03-10T12:00:00Z'), 'h4')).toContain(
      'newest complete restore point: always kept',
    );
    const pl = plan(
      [full('x', '2026-03-09T00:00:00Z'), full('y', '2026-03-09T01:00:00Z'), full('z', '2026-03-09T02:00:00Z')],
      { keepLast: 2 },
      '2026-03-10T12:00:00Z',
    );
    expect(kept(pl)).toEqual(['y', 'z']);
  });
});

describe('control plane', () => {
  const now = '2026-03-10T12:00:00Z';
  test('linked by restore point or run, else the newest within 24 h before the point; the newest of each kind always', () => {
    const artifacts: RetentionArtifact[] = [
      full('p-old', '2026-03-01T02:00:00Z'),
      full('p1', '2026-03-08T02:00:00Z', { runId: 'tier-daily-0308' }),
      full('p2', '2026-03-09T02:00:00Z'),
      full('p3', '2026-03-10T02:00:00Z'),
      cp('config', 'cfg-old', '2026-03-01T01:00:00Z'),
      cp('config', 'cfg-0308', '2026-03-08T01:59:00Z', { runId: 'tier-daily-0308' }),
      cp('config', 'cfg-0308-unlinked', '2026-03-08T01:00:00Z'),
      cp('fernet', 'fernet-0307', '2026-03-07T01:00:00Z'), // 25 h before p1: not its fernet
      cp('fernet', 'fernet-0309a', '2026-03-08T23:00:00Z'),
      cp('fernet', 'fernet-0309b', '2026-03-09T01:00:00Z'),
      cp('rabbitmq', 'rmq-p3', '2026-03-10T01:00:00Z', { restorePoint: 'p3' }),
      cp('rabbitmq', 'rmq-later', '2026-03-10T03:00:00Z'),
    ];
    const pl = plan(artifacts, { daily: 3 }, now);
    expect(kept(pl)).toEqual(['cfg-0308', 'fernet-0309b', 'p1', 'p2', 'p3', 'rmq-later', 'rmq-p3']);
    expect(removed(pl)).toEqual(['cfg-old', 'cfg-0308-unlinked', 'fernet-0307', 'fernet-0309a', 'p-old'].sort());
    expect(reasonsOf(pl, 'cfg-0308')).toEqual([
      'config of restore point p1 (same run)',
      'newest config backup: always kept',
    ]);
    expect(reasonsOf(pl, 'fernet-0309b')[0]).toBe(
      'fernet of restore point p2 (newest fernet taken within 24h before it: 1 h earlier)',
    );
    expect(reasonsOf(pl, 'rmq-later')).toEqual([
      'newest rabbitmq backup: always kept',
      'newer than the newest restore point p3: its database backup may still be running',
    ]);
    expect(pl.remove.find((r) => r.id === 'cfg-old')!.reason).toBe(
      'config backup of no kept restore point, and not the newest config backup',
    );
  });
});

describe('binlog', () => {
  // Files of 12 h each from 1 March 00:00; fulls on days 1, 3 and 5 start files 1, 5 and 9.
  const day = (d: number, h = 0) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`;
  const files = Array.from({ length: 12 }, (_, i) =>
    bl(
      i + 1,
      day(1 + Math.floor(i / 2), (i % 2) * 12),
      `${day(1 + Math.floor(i / 2), (i % 2) * 12 + 11)}`.replace(':00:00Z', ':59:59Z'),
    ),
  );
  const fulls = [
    full('F1', day(1), { binlogSequence: 1 }),
    full('F2', day(3), { binlogSequence: 5 }),
    full('F3', day(5), { binlogSequence: 9 }),
  ];
  const now = '2026-03-06T12:00:00Z';

  test('the window keeps the base at or before its start and every file from that base on', () => {
    const pl = plan([...fulls, ...files], { daily: 1, pointInTimeWindow: '2d' }, now);
    expect(kept(pl)).toEqual(['F2', 'F3', ...[5, 6, 7, 8, 9, 10, 11, 12].map((s) => `binlog-${s}`)].sort());
    expect(reasonsOf(pl, 'F2')).toEqual([
      'base of the point-in-time window 2d: recovers 2026-03-04T12:00:00Z to 2026-03-06T23:59:59Z',
    ]);
    expect(pl.remove.find((r) => r.id === 'binlog-2')!.reason).toMatch(
      /every second of the 2d point-in-time window is recoverable without it/,
    );
    expect(pl.problems).toEqual([]);
  });

  test('without a window only the binlog after the newest restore point stays', () => {
    const pl = plan([...fulls, ...files], { daily: 1 }, now);
    expect(kept(pl)).toEqual(['F3', 'binlog-10', 'binlog-11', 'binlog-12', 'binlog-9']);
  });

  test('a missing file splits the window: the part no base can bridge is reported', () => {
    const F4 = full('F4', day(6, 3), { binlogSequence: 11 });
    const pl = plan(
      [...fulls, F4, ...files.filter((f) => f.sequence !== 10)],
      { daily: 1, pointInTimeWindow: '2d' },
      now,
    );
    expect(kept(pl)).toEqual(expect.arrayContaining(['F2', 'F4', 'binlog-5', 'binlog-9', 'binlog-11', 'binlog-12']));
    expect(pl.problems.map((p) => p.kind).sort()).toEqual(['binlog-gap', 'window-uncovered']);
    expect(pl.problems.find((p) => p.kind === 'window-uncovered')!.message).toBe(
      'point-in-time window 2d: 2026-03-06T00:00:00Z to 2026-03-06T02:59:59Z cannot be recovered (no restore point with a binlog position before it, or a binlog file missing)',
    );
  });
});

test('segments inside a merged segment (compaction pieces, or a copy target holding both) go; the merged one carries the window', () => {
  // file 1 from F1 on, in 5 pieces of 100 bytes an hour apart; pieces 1-3 were merged into M
  const h = (n: number) => `2026-03-01T${String(n).padStart(2, '0')}:00:00Z`;
  const piece = (i: number, host = 'ctl1'): BinlogArtifact => ({
    id: `binlog-${host}-f1-${i}`,
    kind: 'binlog',
    sequence: 1,
    startPosition: i * 100,
    endPosition: (i + 1) * 100,
    host,
    firstEventAt: h(i + 1),
    lastEventAt: h(i + 1),
  });
  const pieces = [0, 1, 2, 3, 4].map((i) => piece(i));
  const M: BinlogArtifact = {
    id: 'binlog-ctl1-f1-0-300',
    kind: 'binlog',
    sequence: 1,
    startPosition: 0,
    endPosition: 300,
    host: 'ctl1',
    firstEventAt: h(1),
    lastEventAt: h(3),
  };
  const F1 = full('F1', '2026-03-01T00:30:00Z', { binlogSequence: 1 });
  const pl = plan([F1, M, ...pieces], { daily: 1, pointInTimeWindow: '1d' }, '2026-03-01T06:00:00Z');
  expect(pl.problems.filter((p) => p.kind === 'binlog-gap')).toEqual([]); // no false gap between a piece and the merged segment
  expect(kept(pl)).toEqual(['F1', M.id, pieces[3]!.id, pieces[4]!.id].sort());
  expect(removed(pl)).toEqual([0, 1, 2].map((i) => pieces[i]!.id));
  expect(pl.remove.find((r) => r.id === pieces[1]!.id)!.reason).toBe(
    `binlog segment inside ${M.id}: its bytes are there (a merged segment)`,
  );
  // another server's file of the same number is not covered
  const other = piece(1, 'ctl2');
  expect(
    plan([F1, M, ...pieces, other], { daily: 1, pointInTimeWindow: '1d' }, '2026-03-01T06:00:00Z').remove.find(
      (r) => r.id === other.id,
    )?.reason ?? '',
  ).not.toMatch(/inside/);
});

test('a database manifest maps onto a planner artifact', () => {
  const m = {
    id: 'db-incremental-x',
    kind: 'incremental',
    parentId: 'db-full-y',
    completedAt: '2026-03-01T00:00:00Z',
    mariadb: {
      checkpoints: { fromLsn: '10', toLsn: '20' },
      binlog: { file: 'mariadb-bin.000042', position: 4, gtid: '0-1-9' },
    },
  } as unknown as ArtifactManifest;
  expect(retentionArtifactFromManifest(m)).toEqual({
    id: 'db-incremental-x',
    kind: 'incremental',
    parentId: 'db-full-y',
    takenAt: '2026-03-01T00:00:00Z',
    fromLsn: '10',
    toLsn: '20',
    binlogSequence: 42,
  });
});
