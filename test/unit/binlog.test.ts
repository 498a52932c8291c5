import { BINLOG_MAGIC, scanEvents } from '../../activities/mariadb/binlog-events.js';
import { parseBinlogStatus } from '../../activities/mariadb/binlog-archive.js';
import { contiguousFrom, planPointInTime, rpoStatus, type BinlogManifest, type PointLink, type SegmentLink } from '../../workflows/lib/binlog.js';
import { binlogRetentionArtifact } from '../../workflows/lib/retention.js';
import { catalogEntry } from '../../workflows/lib/catalog.js';
import { sealedFiles } from '../../workflows/lib/manifest.js';

/** One v4 event: 19-byte header (log_pos = its end in the file), body, 4-byte checksum. */
function event(ts: number, type: number, serverId: number, body: Buffer, at: number): Buffer {
  const size = 19 + body.length + 4;
  const h = Buffer.alloc(19);
  h.writeUInt32LE(ts, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(serverId, 5);
  h.writeUInt32LE(size, 9);
  h.writeUInt32LE(at + size, 13);
  return Buffer.concat([h, body, Buffer.alloc(4)]);
}

function gtidBody(domain: number, seq: number): Buffer {
  const b = Buffer.alloc(13);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeUInt32LE(domain, 8);
  return b;
}

/** A file: magic, a format description, then (GTID, query) pairs at the given times. */
function file(times: number[]): Buffer {
  const parts: Buffer[] = [BINLOG_MAGIC];
  let pos = 4;
  const push = (e: Buffer) => {
    parts.push(e);
    pos += e.length;
  };
  push(event(1000, 15, 1, Buffer.alloc(80), pos));
  times.forEach((t, i) => {
    push(event(t, 162, 1, gtidBody(0, i + 1), pos));
    push(event(t, 2, 1, Buffer.from(`INSERT ${i}`.padEnd(40)), pos));
  });
  return Buffer.concat(parts);
}

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
    const out = ['#vars\t1\t/var/lib/mysql/mysql-bin\t1\t0-1-42\t2026-11-30T04:00:00.123456Z\t1\tON\tON', '#logs', 'mysql-bin.000001\t978', 'mysql-bin.000002\t4096', '#master', 'mysql-bin.000002\t4096\t\t'].join('\n');
    expect(parseBinlogStatus(out)).toEqual({
      logBin: true,
      basename: '/var/lib/mysql/mysql-bin',
      serverId: 1,
      gtidBinlogPos: '0-1-42',
      at: '2026-11-30T04:00:00.123Z',
      logSlaveUpdates: true,
      wsrepOn: true,
      wsrepGtidMode: true,
      files: [{ file: 'mysql-bin.000001', size: 978 }, { file: 'mysql-bin.000002', size: 4096 }],
      master: { file: 'mysql-bin.000002', position: 4096 },
    });
  });
});

const T = (hms: string) => `2026-11-30T${hms}Z`;
function point(id: string, kind: 'full' | 'incremental', parentId: string | null, completedAt: string, position: number, lsn: [string, string], file = 'mysql-bin.000003'): PointLink {
  return { id, cloud: 'c', kind, parentId, completedAt, source: { host: 'ctl1' }, mariadb: { checkpoints: { fromLsn: lsn[0], toLsn: lsn[1] }, binlog: { file, position, gtid: '0-1-1' } } };
}
function seg(file: string, start: number, end: number, first: string, last: string, through: string, previous: SegmentLink['previous'] = null): SegmentLink {
  const sequence = Number(file.slice(-6));
  return { id: `binlog-ctl1-${file}-${String(start).padStart(12, '0')}`, host: 'ctl1', file, sequence, startPosition: start, endPosition: end, firstEventAt: first, lastEventAt: last, archivedThrough: through, previous };
}

describe('point-in-time planner', () => {
  const full = point('db-full', 'full', null, T('10:00:00.500'), 500, ['0', '100']);
  const inc = point('db-inc', 'incremental', 'db-full', T('10:10:00.500'), 900, ['100', '150']);
  const s1 = seg('mysql-bin.000003', 0, 400, T('09:59:00'), T('09:59:50'), T('10:00:01'));
  const s2 = seg('mysql-bin.000003', 400, 1000, T('10:05:00'), T('10:12:00'), T('10:12:30'));
  const s3 = seg('mysql-bin.000004', 0, 300, T('10:13:00'), T('10:14:00'), T('10:15:00'), { file: 'mysql-bin.000003', endPosition: 1000 });
  const segs = [s3, s1, s2];

  test('a target after the full and before the incremental replays from the full, up to the segment that passes it', () => {
    const r = planPointInTime([inc, full], segs, T('10:05:30'));
    expect(r).toEqual({ plan: { chain: ['db-full'], base: 'db-full', baseAt: full.completedAt, files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }], startFile: 'mysql-bin.000003', startPosition: 500, stopDatetime: T('10:05:31'), target: T('10:05:30') } });
  });

  test('a target after the newest incremental replays from it, across binlog files', () => {
    const r = planPointInTime([full, inc], segs, T('10:14:10.900'));
    expect('plan' in r && r.plan).toMatchObject({ chain: ['db-full', 'db-inc'], base: 'db-inc', startPosition: 900, stopDatetime: T('10:14:11'), files: [{ file: 'mysql-bin.000003', segments: [s1.id, s2.id] }, { file: 'mysql-bin.000004', segments: [s3.id] }] });
  });

  test('targets before the first backup or past what is archived are refused with the recoverable range', () => {
    for (const t of [T('09:30:00'), T('10:15:00'), T('11:00:00')]) {
      const r = planPointInTime([full, inc], segs, t);
      expect(r).toEqual({ problem: expect.stringMatching(/cannot be recovered: the recoverable range is 2026-11-30T10:00:00.500Z – 2026-11-30T10:14:59Z$/), ranges: [{ from: full.completedAt, to: T('10:14:59'), base: 'db-full' }] });
    }
  });

  test('a missing range inside a file, or a file whose tail is missing, ends what can be reached', () => {
    expect(contiguousFrom([s1, s3], 'ctl1', 'mysql-bin.000003')).toEqual([s1]);
    const r = planPointInTime([full, inc], [s1, s3], T('10:05:00'));
    expect(r).toMatchObject({ problem: expect.stringMatching(/nothing is recoverable/) });
    const cutTail = { ...s3, previous: { file: 'mysql-bin.000003', endPosition: 1200 } };
    expect(contiguousFrom([s1, s2, cutTail], 'ctl1', 'mysql-bin.000003')).toEqual([s1, s2]);
    expect(planPointInTime([full, inc], [s1, s2, cutTail], T('10:14:00'))).toMatchObject({ ranges: [{ to: T('10:12:29') }] });
  });

  test('a file whose first segment (its format description) is missing cannot be replayed', () => {
    expect(contiguousFrom([s2, s3], 'ctl1', 'mysql-bin.000003')).toBeNull();
  });

  test('an incremental whose parent is missing is no base', () => {
    const r = planPointInTime([inc], segs, T('10:11:00'));
    expect(r).toMatchObject({ problem: expect.stringMatching(/nothing is recoverable/) });
  });
});

describe('achieved RPO', () => {
  test('now − the last catch-up, against the target', () => {
    const now = Date.parse(T('10:00:10'));
    expect(rpoStatus(now, T('10:00:07'), T('10:00:01'), 5)).toEqual({ caughtUpAt: T('10:00:07'), newestEventAt: T('10:00:01'), achievedRpoSeconds: 3, newestEventAgeSeconds: 9, rpoTargetSeconds: 5, rpoMet: true });
    expect(rpoStatus(now, T('10:00:00'), null, 5)).toMatchObject({ achievedRpoSeconds: 10, rpoMet: false });
    expect(rpoStatus(now, null, null, 5)).toMatchObject({ achievedRpoSeconds: null, rpoMet: null });
  });
});

describe('a segment manifest elsewhere: retention, catalog, sealed files', () => {
  const m = {
    formatVersion: 1, id: 'binlog-ctl1-mysql-bin.000004-000000000000', cloud: 'c', component: 'binlog', kind: 'binlog', parentId: null,
    startedAt: T('10:13:01'), completedAt: T('10:13:02'), workflowId: 'w', source: { host: 'ctl1', address: 'a', containerRuntime: 'none', serverId: 1 },
    binlog: { file: 'mysql-bin.000004', sequence: 4, startPosition: 0, endPosition: 300, events: 3, firstEventAt: T('10:13:00'), lastEventAt: T('10:14:00'), firstGtid: '0-1-5', lastGtid: '0-1-6', serverIds: [1], archivedThrough: T('10:15:00'), previous: { file: 'mysql-bin.000003', endPosition: 1000 } },
    artifact: { file: 'segment.zst.gpg', bytes: 123, sha256: 'ab', streamBytes: 300, layers: ['binlog', 'zstd', 'openpgp'], compression: { format: 'zstd', level: 3, where: 'worker' }, encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] } },
    tools: { zstd: 'v', gpg: 'v', osbackup: 'v' }, restoreRecipe: 'RESTORE.md',
  } as BinlogManifest;

  test('retention sees a byte range of file 4 that follows file 3 closed at 1000', () => {
    expect(binlogRetentionArtifact(m)).toEqual({ id: m.id, kind: 'binlog', sequence: 4, startPosition: 0, endPosition: 300, previousEnd: 1000, firstEventAt: T('10:13:00'), lastEventAt: T('10:14:00') });
  });

  test('the catalog lists it with its range; copies and scrubs see its one sealed file', () => {
    expect(catalogEntry(m, [])).toMatchObject({ component: 'binlog', kind: 'binlog', binlog: 'mysql-bin.000004:0-300', path: `clouds/c/binlog/${m.id}/segment.zst.gpg`, bytes: 123 });
    expect(sealedFiles(m)).toEqual([{ rel: `clouds/c/binlog/${m.id}/segment.zst.gpg`, sha256: 'ab', bytes: 123, encryption: m.artifact.encryption }]);
  });
});
