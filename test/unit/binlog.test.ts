import { EventScanner, scanEvents, transactionBoundary } from '../../activities/pitr/events.js';
import { binlogFile as file } from '../helpers/binlog-file.js';
import { parseBinlogStatus } from '../../activities/pitr/archive.js';
import {
  contiguousFrom,
  mergedSegmentId,
  planCompaction,
  gtidPosSeq,
  parseBinlogPosition,
  parseGtid,
  planPointInTime,
  rpoStatus,
  type BinlogManifest,
  type PointLink,
  type SegmentLink,
} from '../../core/pitr/segments.js';
import { stopOption } from '../../activities/pitr/replay.js';
import { binlogRetentionArtifact } from '../../core/retention/plan.js';
import { catalogEntry } from '../../core/catalog/catalog.js';
import { sealedFiles } from '../../core/manifest/any-manifest.js';

describe('binlog event scanner', () => {
  const f = file([2000, 2003, 2001]);

  test('reads a whole file: event count, time extremes (timestamps need not increase), GTID range', () => {
    const r = scanEvents(f, 0);
    expect(r).toMatchObject({ wholeBytes: f.length, events: 7, firstGtid: '0-1-1', lastGtid: '0-1-3', serverIds: [1] });
    expect(r.firstEventAt).toBe(new Date(1000 * 1000).toISOString());
    expect(r.lastEventAt).toBe(new Date(2003 * 1000).toISOString());
  });

  test('a read that ends inside an event keeps only the whole events before it', () => {
    const r = scanEvents(f.subarray(0, f.length - 10), 0);
    expect(r.events).toBe(6);
    expect(r.wholeBytes).toBeLessThan(f.length - 10);
    // the next read starts exactly there and takes the rest
    const rest = scanEvents(f.subarray(r.wholeBytes), r.wholeBytes);
    expect(rest).toMatchObject({ events: 1, wholeBytes: f.length - r.wholeBytes });
  });

  test('streamed in chunks of any size: the same events, the whole events passed on in order, the cut-off tail held back', () => {
    const cut = f.subarray(0, f.length - 10);
    for (const size of [1, 7, 19, 64, cut.length]) {
      const s = new EventScanner(0);
      const passed: Buffer[] = [];
      for (let i = 0; i < cut.length; i += size) passed.push(...s.push(cut.subarray(i, i + size)));
      const whole = scanEvents(cut, 0);
      expect(s.summary()).toEqual(whole);
      expect(Buffer.concat(passed).equals(cut.subarray(0, whole.wholeBytes))).toBe(true);
      expect(s.pendingBytes).toBe(cut.length - whole.wholeBytes);
    }
  });

  test('transaction boundaries: where a GTID event (or file bookkeeping) starts, or the end when nothing follows', () => {
    // magic 4, format description 4..107, then GTID 36 bytes + query 63 bytes per transaction
    expect(transactionBoundary(f, 0, 107, false)).toEqual({ ok: true });
    expect(transactionBoundary(f, 0, 206, false)).toEqual({ ok: true });
    expect(transactionBoundary(f, 0, 143, false)).toEqual({ ok: false, before: 107, after: 206 });
    expect(transactionBoundary(f, 0, 150, false)).toEqual({ ok: false, before: 107, after: 206 });
    expect(transactionBoundary(f, 0, f.length, true)).toEqual({ ok: true });
    expect(transactionBoundary(f, 0, f.length, false)).toEqual({ ok: false, before: 206 + 99, after: null });
    // read from a segment that starts mid-file
    expect(transactionBoundary(f.subarray(206), 206, 206 + 99, true)).toEqual({ ok: true });
  });

  test('bytes that are not on an event boundary are refused, never cut blind', () => {
    // inside the format description's body: zeros where a header would be
    expect(() => scanEvents(f.subarray(23), 23)).toThrow(/not an event boundary/);
    // one byte off a real boundary: the header fields make no sense
    expect(() => scanEvents(f.subarray(108), 108)).toThrow(/not an event boundary|says it ends at/);
    expect(() => scanEvents(Buffer.from('not a binlog at all, no'), 0)).toThrow(/magic/);
  });
});

describe('binlog status parsing', () => {
  test('variables, files and the master position come from their sections', () => {
    const out = [
      '#vars\t1\t/var/lib/mysql/mysql-bin\t1\t0-1-42\t2026-11-30T04:00:00.123456Z\t1\tON\tON',
      '#logs',
      'mysql-bin.000001\t978',
      'mysql-bin.000002\t4096',
      '#master',
      'mysql-bin.000002\t4096\t\t',
    ].join('\n');
    expect(parseBinlogStatus(out)).toEqual({
      logBin: true,
      basename: '/var/lib/mysql/mysql-bin',
      serverId: 1,
      gtidBinlogPos: '0-1-42',
      at: '2026-11-30T04:00:00.123Z',
      logSlaveUpdates: true,
      wsrepOn: true,
      wsrepGtidMode: true,
      files: [
        { file: 'mysql-bin.000001', size: 978 },
        { file: 'mysql-bin.000002', size: 4096 },
      ],
      master: { file: 'mysql-bin.000002', position: 4096 },
    });
  });
});

const T = (hms: string) => `2026-11-30T${hms}Z`;
function point(
  id: string,
  kind: 'full' | 'incremental',
  parentId: string | null,
  completedAt: string,
  position: number,
  lsn: [string, string],
  file = 'mysql-bin.000003',
): PointLink {
  return {
    id,
    cloud: 'c',
    kind,
    parentId,
    completedAt,
    source: { host: 'ctl1' },
    mariadb: { checkpoints: { fromLsn: lsn[0], toLsn: lsn[1] }, binlog: { file, position, gtid: '0-1-1' } },
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
  const sequence = Number(file.slice(-6));
  return {
    id: `binlog-ctl1-${file}-${String(start).padStart(12, '0')}`,
    host: 'ctl1',
    file,
    sequence,
    startPosition: start,
    endPosition: end,
    firstEventAt: first,
    lastEventAt: last,
    archivedThrough: through,
    previous,
  };
}

describe('point-in-time planner', () => {
  const full = point('db-full', 'full', null, T('10:00:00.500'), 500, ['0', '100']);
  const inc = point('db-inc', 'incremental', 'db-full', T('10:10:00.500'), 900, ['100', '150']);
  const s1 = seg('mysql-bin.000003', 0, 400, T('09:59:00'), T('09:59:50'), T('10:00:01'));
  const s2 = seg('mysql-bin.000003', 400, 1000, T('10:05:00'), T('10:12:00'), T('10:12:30'));
  const s3 = seg('mysql-bin.000004', 0, 300, T('10:13:00'), T('10:14:00'), T('10:15:00'), {
    file: 'mysql-bin.000003',
    endPosition: 1000,
  });
  const segs = [s3, s1, s2];

  test('a target after the full and before the incremental replays from the full, up to the segment that passes it', () => {
    const r = planPointInTime([inc, full], segs, T('10:05:30'));
    expect(r).toEqual({
      plan: {
        chain: ['db-full'],
        base: 'db-full',
        baseAt: full.completedAt,
        files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }],
        startFile: 'mysql-bin.000003',
        startPosition: 500,
        stopDatetime: T('10:05:31'),
        stopGtid: null,
        stopPosition: null,
        target: T('10:05:30'),
      },
    });
  });

  test('a target after the newest incremental replays from it, across binlog files', () => {
    const r = planPointInTime([full, inc], segs, T('10:14:10.900'));
    expect('plan' in r && r.plan).toMatchObject({
      chain: ['db-full', 'db-inc'],
      base: 'db-inc',
      startPosition: 900,
      stopDatetime: T('10:14:11'),
      files: [
        { file: 'mysql-bin.000003', segments: [s1.id, s2.id] },
        { file: 'mysql-bin.000004', segments: [s3.id] },
      ],
    });
  });

  test('targets before the first backup or past what is archived are refused with the recoverable range', () => {
    for (const t of [T('09:30:00'), T('10:15:00'), T('11:00:00')]) {
      const r = planPointInTime([full, inc], segs, t);
      expect(r).toEqual({
        problem: expect.stringMatching(
          /cannot be recovered: the recoverable range is 2026-11-30T10:00:00.500Z – 2026-11-30T10:14:59Z$/,
        ),
        ranges: [
          {
            from: full.completedAt,
            to: T('10:14:59'),
            base: 'db-full',
            fromGtid: '0-1-1',
            toGtid: '0-1-1',
            fromPosition: 'mysql-bin.000003:500',
            toPosition: 'mysql-bin.000004:300',
          },
        ],
      });
    }
  });

  test('a missing range inside a file, or a file whose tail is missing, ends what can be reached', () => {
    expect(contiguousFrom([s1, s3], 'ctl1', 'mysql-bin.000003')).toEqual([s1]);
    const r = planPointInTime([full, inc], [s1, s3], T('10:05:00'));
    expect(r).toMatchObject({ problem: expect.stringMatching(/nothing is recoverable/) });
    const cutTail = { ...s3, previous: { file: 'mysql-bin.000003', endPosition: 1200 } };
    expect(contiguousFrom([s1, s2, cutTail], 'ctl1', 'mysql-bin.000003')).toEqual([s1, s2]);
    expect(planPointInTime([full, inc], [s1, s2, cutTail], T('10:14:00'))).toMatchObject({
      ranges: [{ to: T('10:12:29') }],
    });
  });

  test('a file whose first segment (its format description) is missing cannot be replayed', () => {
    expect(contiguousFrom([s2, s3], 'ctl1', 'mysql-bin.000003')).toBeNull();
  });

  test('an incremental whose parent is missing is no base', () => {
    const r = planPointInTime([inc], segs, T('10:11:00'));
    expect(r).toMatchObject({ problem: expect.stringMatching(/nothing is recoverable/) });
  });
});

describe('point-in-time planner: GTID and binlog-position targets', () => {
  const withGtid = (p: PointLink, gtid: string): PointLink => ({
    ...p,
    mariadb: { ...p.mariadb, binlog: { ...p.mariadb.binlog!, gtid } },
  });
  const gt = (s: SegmentLink, firstGtid: string | null, lastGtid: string | null): SegmentLink => ({
    ...s,
    firstGtid,
    lastGtid,
  });
  const full = withGtid(point('db-full', 'full', null, T('10:00:00.500'), 500, ['0', '100']), '0-1-10');
  const inc = withGtid(point('db-inc', 'incremental', 'db-full', T('10:10:00.500'), 900, ['100', '150']), '0-1-20');
  const s1 = gt(seg('mysql-bin.000003', 0, 400, T('09:59:00'), T('09:59:50'), T('10:00:01')), '0-1-5', '0-1-9');
  const s2 = gt(seg('mysql-bin.000003', 400, 1000, T('10:05:00'), T('10:12:00'), T('10:12:30')), '0-1-10', '0-1-22');
  const s3 = gt(
    seg('mysql-bin.000004', 0, 300, T('10:13:00'), T('10:14:00'), T('10:15:00'), {
      file: 'mysql-bin.000003',
      endPosition: 1000,
    }),
    '0-1-23',
    '0-1-25',
  );
  const segs = [s3, s1, s2];
  const plan = (target: Parameters<typeof planPointInTime>[2], progress: Parameters<typeof planPointInTime>[3] = []) =>
    planPointInTime([full, inc], segs, target, progress);

  test('a GTID between the full and the incremental replays from the full up to the segment holding it, inclusive', () => {
    expect(plan({ gtid: '0-1-15' })).toEqual({
      plan: {
        chain: ['db-full'],
        base: 'db-full',
        baseAt: full.completedAt,
        files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }],
        startFile: 'mysql-bin.000003',
        startPosition: 500,
        stopDatetime: null,
        stopGtid: '0-1-15',
        stopPosition: null,
        target: '0-1-15',
      },
    });
  });

  test('a GTID after the incremental replays from it, across files; the last GTID of a file needs no later file', () => {
    expect(plan({ gtid: '0-1-24' })).toMatchObject({
      plan: {
        base: 'db-inc',
        chain: ['db-full', 'db-inc'],
        startPosition: 900,
        stopGtid: '0-1-24',
        files: [
          { file: 'mysql-bin.000003', segments: [s1.id, s2.id] },
          { file: 'mysql-bin.000004', segments: [s3.id] },
        ],
      },
    });
    expect(plan({ gtid: '0-1-22' })).toMatchObject({
      plan: { base: 'db-inc', files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }] },
    });
  });

  test('the GTID a backup stands at restores that backup with nothing after it', () => {
    expect(plan({ gtid: '0-1-20' })).toMatchObject({
      plan: {
        base: 'db-inc',
        startPosition: 900,
        stopGtid: '0-1-20',
        files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }],
      },
    });
  });

  test('a transaction cut across segments: the replay reads on to the segment where the next GTID starts', () => {
    const a = gt(
      seg('mysql-bin.000004', 0, 100, T('10:13:00'), T('10:13:00'), T('10:13:00'), {
        file: 'mysql-bin.000003',
        endPosition: 1000,
      }),
      '0-1-23',
      '0-1-23',
    );
    const b = gt(seg('mysql-bin.000004', 100, 200, T('10:13:00'), T('10:13:00'), T('10:13:00')), null, null);
    const c = gt(seg('mysql-bin.000004', 200, 300, T('10:13:30'), T('10:14:00'), T('10:15:00')), '0-1-24', '0-1-25');
    const r = planPointInTime([full, inc], [s1, s2, a, b, c], { gtid: '0-1-23' });
    expect(r).toMatchObject({
      plan: { files: [{ file: 'mysql-bin.000003' }, { file: 'mysql-bin.000004', segments: [a.id, b.id, c.id] }] },
    });
  });

  test('a GTID before the oldest backup, past the archive, skipped by the log or of another domain is refused with the GTID and position range', () => {
    for (const g of ['0-1-3', '0-1-26', '0-1-99', '1-1-12']) {
      const r = plan({ gtid: g });
      expect(r).toEqual({
        problem: expect.stringMatching(
          new RegExp(
            `^GTID ${g} cannot be recovered .*: the recoverable range is 2026-11-30T10:00:00.500Z – 2026-11-30T10:14:59Z \\(GTIDs 0-1-10 – 0-1-25, positions mysql-bin.000003:500 – mysql-bin.000004:300\\)$`,
          ),
        ),
        ranges: [expect.objectContaining({ fromGtid: '0-1-10', toGtid: '0-1-25' })],
      });
    }
    const gap = gt(s3, '0-1-30', '0-1-31');
    expect(planPointInTime([full, inc], [s1, s2, gap], { gtid: '0-1-27' })).toMatchObject({
      problem: expect.stringMatching(/^GTID 0-1-27 cannot be recovered/),
    });
    expect(plan({ gtid: 'nonsense' })).toMatchObject({ problem: expect.stringMatching(/is not a GTID/) });
  });

  test('a position replays every event before it, from the newest backup at or before it; the last file is the one it names', () => {
    expect(plan({ position: { file: 'mysql-bin.000003', position: 700 } })).toMatchObject({
      plan: {
        base: 'db-full',
        startPosition: 500,
        stopPosition: 700,
        stopGtid: null,
        stopDatetime: null,
        target: 'mysql-bin.000003:700',
        files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }],
      },
    });
    expect(plan({ position: { file: 'mysql-bin.000003', position: 500 } })).toMatchObject({
      plan: { base: 'db-full', stopPosition: 500 },
    });
    expect(plan({ position: { file: 'mysql-bin.000004', position: 300 } })).toMatchObject({
      plan: {
        base: 'db-inc',
        stopPosition: 300,
        files: [{ file: 'mysql-bin.000003' }, { file: 'mysql-bin.000004', segments: [s3.id] }],
      },
    });
  });

  test('a position before the oldest backup or past the archived bytes is refused with the ranges', () => {
    for (const [file, position] of [
      ['mysql-bin.000003', 400],
      ['mysql-bin.000004', 301],
      ['mysql-bin.000005', 10],
      ['mysql-bin.000002', 900],
    ] as const) {
      expect(plan({ position: { file, position } })).toMatchObject({
        problem: expect.stringMatching(
          new RegExp(
            `^binlog position ${file}:${position} cannot be recovered .*positions mysql-bin.000003:500 – mysql-bin.000004:300\\)$`,
          ),
        ),
      });
    }
  });

  test('an idle server: the progress recorded at the end of the archive extends the range past the last event', () => {
    expect(plan(T('10:20:00'))).toMatchObject({ problem: expect.stringMatching(/cannot be recovered/) });
    const idle = { host: 'ctl1', file: 'mysql-bin.000004', position: 300, archivedThrough: T('10:30:00.200') };
    expect(plan(T('10:20:00'), [idle])).toMatchObject({
      plan: {
        base: 'db-inc',
        stopDatetime: T('10:20:01'),
        files: [{ file: 'mysql-bin.000003' }, { file: 'mysql-bin.000004', segments: [s3.id] }],
      },
    });
    expect(plan(T('10:31:00'), [idle])).toMatchObject({ ranges: [{ to: T('10:29:59') }] });
    // progress recorded elsewhere (another position, another host) says nothing about this archive's end
    for (const other of [
      { ...idle, position: 200 },
      { ...idle, host: 'ctl2' },
      { ...idle, file: 'mysql-bin.000005', position: 4 },
    ]) {
      expect(plan(T('10:20:00'), [other])).toMatchObject({ problem: expect.stringMatching(/cannot be recovered/) });
    }
  });

  test('parsing targets and the replay’s stop option', () => {
    expect(parseGtid('0-1-4711')).toEqual({ domain: 0, server: 1, seq: 4711 });
    expect(parseGtid('0-1')).toBeNull();
    expect(gtidPosSeq('0-1-42,1-2-7', 1)).toBe(7);
    expect(gtidPosSeq('0-1-42', 3)).toBe(0);
    expect(parseBinlogPosition('mysql-bin.000042:1234')).toEqual({ file: 'mysql-bin.000042', position: 1234 });
    expect(parseBinlogPosition('1234')).toBeNull();
    const base = { files: [], startFile: 'f.1', startPosition: 4, stopDatetime: null };
    expect(stopOption({ ...base, stopGtid: '0-1-5' })).toBe('--stop-position=0-1-5');
    expect(stopOption({ ...base, stopPosition: 837 })).toBe('--stop-position=837');
    expect(stopOption({ ...base, stopDatetime: T('10:00:01') })).toBe("--stop-datetime='2026-11-30 10:00:01'");
  });
});

describe('compaction of old segments', () => {
  const s = (file: string, start: number, end: number, through: string) =>
    seg(file, start, end, through, through, through);
  const a1 = s('mysql-bin.000003', 0, 100, T('09:00:00'));
  const a2 = s('mysql-bin.000003', 100, 200, T('09:00:05'));
  const a3 = s('mysql-bin.000003', 200, 300, T('09:00:10'));
  const a4 = s('mysql-bin.000003', 300, 400, T('09:59:30')); // too young
  const b1 = {
    ...s('mysql-bin.000004', 0, 50, T('09:10:00')),
    previous: { file: 'mysql-bin.000003', endPosition: 400 },
  };
  const b2 = s('mysql-bin.000004', 50, 80, T('09:10:05'));
  const now = Date.parse(T('10:00:00'));

  test('contiguous old segments of one file merge; the young tail, other files and lone pieces stay', () => {
    const p = planCompaction([a4, b2, a1, a3, a2, b1], now, 1800_000, 1 << 20);
    expect(p.covered).toEqual([]);
    expect(p.merge).toEqual([
      {
        host: 'ctl1',
        file: 'mysql-bin.000003',
        startPosition: 0,
        endPosition: 300,
        id: mergedSegmentId('ctl1', 'mysql-bin.000003', 0, 300),
        pieces: [a1.id, a2.id, a3.id],
      },
      {
        host: 'ctl1',
        file: 'mysql-bin.000004',
        startPosition: 0,
        endPosition: 80,
        id: mergedSegmentId('ctl1', 'mysql-bin.000004', 0, 80),
        pieces: [b1.id, b2.id],
      },
    ]);
    // a byte cap splits a run; a hole splits it too
    expect(planCompaction([a1, a2, a3], now, 0, 200).merge.map((m) => m.pieces)).toEqual([[a1.id, a2.id]]);
    expect(planCompaction([a1, a3, a4], now, 0, 1 << 20).merge.map((m) => m.pieces)).toEqual([[a3.id, a4.id]]);
  });

  test('pieces left inside a merged segment (a compaction that died before removing them) are removed, and the planner reads past them', () => {
    const merged = {
      ...s('mysql-bin.000003', 0, 300, T('09:00:10')),
      id: mergedSegmentId('ctl1', 'mysql-bin.000003', 0, 300),
    };
    expect(planCompaction([a1, a2, merged, a3, a4], now, 1800_000, 1 << 20)).toEqual({
      merge: [],
      covered: [a1.id, a2.id, a3.id],
    });
    expect(contiguousFrom([a2, a1, merged, a3, a4, b1, b2], 'ctl1', 'mysql-bin.000003')).toEqual([merged, a4, b1, b2]);
  });
});

describe('achieved RPO', () => {
  test('now − the last catch-up, against the target', () => {
    const now = Date.parse(T('10:00:10'));
    expect(rpoStatus(now, T('10:00:07'), T('10:00:01'), 5)).toEqual({
      caughtUpAt: T('10:00:07'),
      newestEventAt: T('10:00:01'),
      achievedRpoSeconds: 3,
      newestEventAgeSeconds: 9,
      rpoTargetSeconds: 5,
      rpoMet: true,
    });
    expect(rpoStatus(now, T('10:00:00'), null, 5)).toMatchObject({ achievedRpoSeconds: 10, rpoMet: false });
    expect(rpoStatus(now, null, null, 5)).toMatchObject({ achievedRpoSeconds: null, rpoMet: null });
  });
});

describe('a segment manifest elsewhere: retention, catalog, sealed files', () => {
  const m = {
    formatVersion: 1,
    id: 'binlog-ctl1-mysql-bin.000004-000000000000',
    cloud: 'c',
    component: 'binlog',
    kind: 'binlog',
    parentId: null,
    startedAt: T('10:13:01'),
    completedAt: T('10:13:02'),
    workflowId: 'w',
    source: { host: 'ctl1', address: 'a', containerRuntime: 'none', serverId: 1 },
    binlog: {
      file: 'mysql-bin.000004',
      sequence: 4,
      startPosition: 0,
      endPosition: 300,
      events: 3,
      firstEventAt: T('10:13:00'),
      lastEventAt: T('10:14:00'),
      firstGtid: '0-1-5',
      lastGtid: '0-1-6',
      serverIds: [1],
      archivedThrough: T('10:15:00'),
      previous: { file: 'mysql-bin.000003', endPosition: 1000 },
    },
    artifact: {
      file: 'segment.zst.gpg',
      bytes: 123,
      sha256: 'ab',
      streamBytes: 300,
      layers: ['binlog', 'zstd', 'openpgp'],
      compression: { format: 'zstd', level: 3, where: 'worker' },
      encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
    },
    tools: { zstd: 'v', gpg: 'v', osbackup: 'v' },
    restoreRecipe: 'RESTORE.md',
  } as BinlogManifest;

  test('retention sees a byte range of file 4 that follows file 3 closed at 1000', () => {
    expect(binlogRetentionArtifact(m)).toEqual({
      id: m.id,
      kind: 'binlog',
      sequence: 4,
      startPosition: 0,
      endPosition: 300,
      previousEnd: 1000,
      host: m.source.host,
      firstEventAt: T('10:13:00'),
      lastEventAt: T('10:14:00'),
    });
  });

  test('the catalog lists it with its range; copies and scrubs see its one sealed file', () => {
    expect(catalogEntry(m, [])).toMatchObject({
      component: 'binlog',
      kind: 'binlog',
      binlog: 'mysql-bin.000004:0-300',
      path: `clouds/c/binlog/${m.id}/segment.zst.gpg`,
      bytes: 123,
    });
    expect(sealedFiles(m)).toEqual([
      { rel: `clouds/c/binlog/${m.id}/segment.zst.gpg`, sha256: 'ab', bytes: 123, encryption: m.artifact.encryption },
    ]);
  });
});
