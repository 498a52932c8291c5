import { planServiceRestore, type DumpLink } from '../../core/service-restore/plan.js';
import type { PointLink, SegmentLink } from '../../core/pitr/segments.js';

const T = (hms: string) => `2026-11-30T${hms}Z`;
function point(id: string, completedAt: string, position: number): PointLink {
  return {
    id,
    cloud: 'c',
    kind: 'full',
    parentId: null,
    completedAt,
    source: { host: 'ctl1' },
    mariadb: {
      checkpoints: { fromLsn: '0', toLsn: '100' },
      binlog: { file: 'mysql-bin.000003', position, gtid: '0-1-1' },
    },
  };
}
function seg(
  file: string,
  start: number,
  end: number,
  first: string,
  last: string,
  through: string,
  previous: SegmentLink['previous'] = null,
): SegmentLink {
  return {
    id: `binlog-ctl1-${file}-${String(start).padStart(12, '0')}`,
    host: 'ctl1',
    file,
    sequence: Number(file.slice(-6)),
    startPosition: start,
    endPosition: end,
    firstEventAt: first,
    lastEventAt: last,
    archivedThrough: through,
    previous,
  };
}
function dump(
  id: string,
  snapshotAt: string,
  binlog: DumpLink['binlog'],
  schemas = ['nova', 'nova_api', 'keystone'],
): DumpLink {
  return { id, source: { host: 'ctl1' }, snapshotAt, binlog, gtid: binlog ? '0-1-5' : null, schemas };
}

describe('single-service restore planner', () => {
  const full = point('db-full', T('10:00:00.500'), 500);
  const s1 = seg('mysql-bin.000003', 0, 400, T('09:59:00'), T('09:59:50'), T('10:00:01'));
  const s2 = seg('mysql-bin.000003', 400, 1000, T('10:05:00'), T('10:12:00'), T('10:12:30'));
  const s3 = seg('mysql-bin.000004', 0, 300, T('10:13:00'), T('10:14:00'), T('10:15:00'), {
    file: 'mysql-bin.000003',
    endPosition: 1000,
  });
  const segs = [s3, s1, s2];
  const d1 = dump('dump-1', T('10:02:00.200'), { file: 'mysql-bin.000003', position: 700 });
  const d2 = dump('dump-2', T('10:13:30.100'), { file: 'mysql-bin.000004', position: 150 });
  const base = { schemas: ['nova', 'nova_api'], points: [full], segments: segs };

  test('the newest dump at or before the target whose binlogs reach it: the schema events from its position to the target second', () => {
    const r = planServiceRestore({ ...base, at: T('10:10:05.700'), dumps: [d2, d1] });
    expect(r).toEqual({
      plan: {
        via: 'dump',
        dump: 'dump-1',
        snapshotAt: d1.snapshotAt,
        target: T('10:10:05'),
        why: expect.stringContaining('dump dump-1'),
        replay: {
          files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }],
          startFile: 'mysql-bin.000003',
          startPosition: 700,
          stopDatetime: T('10:10:06'),
          target: T('10:10:05'),
        },
      },
    });
    // across files, from the newer dump
    const r2 = planServiceRestore({ ...base, at: T('10:14:10'), dumps: [d1, d2] });
    expect('plan' in r2 && r2.plan).toMatchObject({
      via: 'dump',
      dump: 'dump-2',
      replay: { files: [{ file: 'mysql-bin.000004', segments: [s3.id] }], startPosition: 150 },
    });
  });

  test('a dump that lacks one of the schemas does not fit: the scratch path is planned, and says why', () => {
    const r = planServiceRestore({
      ...base,
      at: T('10:10:05'),
      dumps: [dump('dump-k', T('10:02:00'), { file: 'mysql-bin.000003', position: 700 }, ['keystone', 'nova'])],
    });
    expect('plan' in r && r.plan).toMatchObject({
      via: 'scratch',
      pitr: { base: 'db-full', startPosition: 500, stopDatetime: T('10:10:06') },
      why: expect.stringMatching(/no logical dump fits \(no logical dump holds nova, nova_api\)/),
    });
  });

  test('binlogs that do not reach the target: the dump alone only in its own second, else scratch; --via dump then refuses', () => {
    const cut = [s1, s2]; // archive reaches 10:12:29
    const own = planServiceRestore({ ...base, segments: cut, at: T('10:13:30'), dumps: [d2] });
    expect('plan' in own && own.plan).toMatchObject({ via: 'dump', dump: 'dump-2', replay: null });
    const noBinlog = dump('dump-nb', T('10:03:00'), null);
    expect(planServiceRestore({ ...base, at: T('10:03:00.999'), dumps: [noBinlog] })).toMatchObject({
      plan: { via: 'dump', dump: 'dump-nb', replay: null },
    });
    expect(planServiceRestore({ ...base, at: T('10:04:00'), dumps: [noBinlog] })).toMatchObject({
      plan: { via: 'scratch' },
    });
    expect(planServiceRestore({ ...base, at: T('10:04:00'), dumps: [noBinlog], via: 'dump' })).toEqual({
      problem: expect.stringMatching(
        /cannot be restored from a logical dump: the archived binary logs do not reach 2026-11-30T10:04:00Z from the position of dump dump-nb/,
      ),
    });
  });

  test('--via scratch ignores a fitting dump; a dump after the target is never used', () => {
    expect(planServiceRestore({ ...base, at: T('10:10:05'), dumps: [d1], via: 'scratch' })).toMatchObject({
      plan: { via: 'scratch', pitr: { chain: ['db-full'] } },
    });
    expect(planServiceRestore({ ...base, at: T('10:01:00'), dumps: [d1, d2] })).toMatchObject({
      plan: {
        via: 'scratch',
        why: expect.stringContaining('no logical dump of nova, nova_api was taken at or before 2026-11-30T10:01:00Z'),
      },
    });
  });

  test('a target nothing reaches is refused with both reasons', () => {
    const r = planServiceRestore({ ...base, at: T('09:00:00'), dumps: [d1] });
    expect(r).toEqual({
      problem: expect.stringMatching(
        /cannot be recovered: the recoverable range is .*; and no logical dump fits \(no logical dump of nova, nova_api was taken at or before/,
      ),
    });
    expect(planServiceRestore({ ...base, at: 'yesterday', dumps: [] })).toEqual({
      problem: expect.stringContaining('is not a time'),
    });
  });
});

describe('service restore config', () => {
  test('runOn and scratchHost must name hosts of the cloud; the scratch host needs a mariadb section', async () => {
    const { crossReferenceProblems } = await import('../../config/schema.js');
    const raw = {
      clouds: {
        c: {
          hosts: { db: { mariadb: {} }, plain: {} },
          database: { host: 'db' },
          services: { nova: { runOn: 'ctl9' }, glance: { runOn: 'worker' }, keystone: { runOn: 'db' } },
          serviceRestore: { scratchHost: 'plain' },
        },
      },
    };
    expect(crossReferenceProblems(raw)).toEqual([
      {
        path: 'clouds.c.services.nova.runOn',
        message: expect.stringContaining('names host "ctl9", which is not under hosts (db, plain)'),
      },
      { path: 'clouds.c.hosts.plain.mariadb', message: expect.stringContaining('required on the scratch host') },
    ]);
  });
});
