// Binlog compaction: the merged manifest (pure), the planner's piece cap, and the merge and
// remove activities on a real folder repository with real gpg and zstd (segments sealed the way
// the archiver seals them, from synthetic binlog bytes the event scanner accepts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Env } from '../../activities/deps.js';
import type { Config } from '../../config/schema.js';
import { binlogArchiveSchema, databaseSchema } from '../../config/schema.js';
import { sealBuffer, unsealFile } from '../../activities/control-plane/sealed.js';
import { scanEvents } from '../../activities/pitr/events.js';
import {
  mergeBinlogSegments,
  planBinlogCompaction,
  removeBinlogPieces,
  type CompactionRun,
  type MergeResult,
} from '../../activities/pitr/compact.js';
import {
  binlogSegmentId,
  contiguousFrom,
  mergedSegmentId,
  planCompaction,
  segmentLink,
  SEGMENT_FILE,
  type BinlogManifest,
} from '../../core/pitr/segments.js';
import { compactedFrom, mergedManifest, mergeProblem } from '../../core/pitr/compaction.js';
import { artifactDir, MANIFEST_FORMAT, RECIPE_FILE } from '../../core/manifest/manifest.js';
import { isBinlogManifest } from '../../core/manifest/any-manifest.js';
import { retentionPolicySchema } from '../../core/retention/policy.js';
import { binlogFile } from '../helpers/binlog-file.js';

const FILE = 'mysql-bin.000007';
const T = (s: number) => new Date(Date.UTC(2026, 10, 30, 9, 0, s)).toISOString();

/** A piece's manifest as the archiver writes it (events read from its bytes). */
function pieceManifest(
  bytes: Buffer,
  start: number,
  landedSec: number,
  artifact: Partial<BinlogManifest['artifact']> = {},
): BinlogManifest {
  const e = scanEvents(bytes, start);
  return {
    formatVersion: MANIFEST_FORMAT,
    id: binlogSegmentId('ctl1', FILE, start),
    cloud: 'c',
    component: 'binlog',
    kind: 'binlog',
    parentId: null,
    startedAt: T(landedSec),
    completedAt: T(landedSec),
    workflowId: 'archive-binlogs:c',
    source: { host: 'ctl1', address: '10.0.0.1', containerRuntime: 'none', serverId: 1 },
    binlog: {
      file: FILE,
      sequence: 7,
      startPosition: start,
      endPosition: start + bytes.length,
      events: e.events,
      firstEventAt: e.firstEventAt,
      lastEventAt: e.lastEventAt,
      firstGtid: e.firstGtid,
      lastGtid: e.lastGtid,
      serverIds: e.serverIds,
      archivedThrough: T(landedSec - 1),
      previous: start === 0 ? { file: 'mysql-bin.000006', endPosition: 900 } : null,
    },
    artifact: {
      file: SEGMENT_FILE,
      bytes: 0,
      sha256: '',
      streamBytes: bytes.length,
      layers: ['binlog', 'zstd', 'openpgp'],
      compression: { format: 'zstd', level: 3, where: 'worker' },
      encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
      ...artifact,
    },
    tools: { zstd: 'z', gpg: 'g', osbackup: 't' },
    restoreRecipe: RECIPE_FILE,
  };
}

// magic + format description = 107 bytes, then one transaction (GTID + query) = 99 bytes each, at 09:00:10, :11, …
const data = binlogFile([1, 2, 3, 4, 5].map((i) => Date.UTC(2026, 10, 30, 9, 0, 10 + i) / 1000));
const cuts = [0, 206, 305, 404, 503, 602];

test("config: defaults with or without a binlog section; a merged segment must fit a restore's memory", () => {
  const d = {
    segmentSeconds: 5,
    rpoTargetSeconds: 60,
    maxSegmentMiB: 64,
    compressionLevel: 3,
    compactAfterMinutes: 60,
    compactMaxMiB: 64,
    compactMaxPieces: 2000,
  };
  expect(binlogArchiveSchema.parse({})).toEqual(d);
  expect(databaseSchema.parse({ host: 'ctl1', user: 'backup', password: { env: 'X' } }).binlog).toEqual(d);
  expect(binlogArchiveSchema.parse({ compactAfterMinutes: 0.1 }).compactAfterMinutes).toBe(0.1);
  expect(binlogArchiveSchema.safeParse({ compactMaxMiB: 300 }).success).toBe(false);
  expect(binlogArchiveSchema.safeParse({ compactMaxPieces: 1 }).success).toBe(false);
});

describe('merged manifest (pure)', () => {
  const pieces = cuts.slice(0, -1).map((s, i) => pieceManifest(data.subarray(s, cuts[i + 1]), s, 20 + i));
  const artifact = { ...pieces[0]!.artifact, bytes: 1, sha256: 'ab', streamBytes: 602 };

  test('spans the pieces: range, events, times, GTIDs, archivedThrough, the link to the file before', () => {
    const m = mergedManifest(pieces, {
      id: mergedSegmentId('ctl1', FILE, 0, 602),
      startedAt: T(50),
      completedAt: T(51),
      workflowId: 'compact-binlogs:c',
      artifact,
      tools: pieces[0]!.tools,
    });
    expect(m.binlog).toEqual({
      file: FILE,
      sequence: 7,
      startPosition: 0,
      endPosition: 602,
      events: 11,
      firstEventAt: new Date(1000 * 1000).toISOString(),
      lastEventAt: T(15),
      firstGtid: '0-1-1',
      lastGtid: '0-1-5',
      serverIds: [1],
      archivedThrough: T(23),
      previous: { file: 'mysql-bin.000006', endPosition: 900 },
      // piece i landed at 20+i, its first event at 11+i, the previous piece ended at 18+i: 2 s each (the first has no measure)
      compacted: { pieces: 5, firstLandedAt: T(20), lastLandedAt: T(24), worstLandingSeconds: 2 },
    });
    expect(m).toMatchObject({
      id: mergedSegmentId('ctl1', FILE, 0, 602),
      component: 'binlog',
      kind: 'binlog',
      source: pieces[0]!.source,
      artifact,
    });
    // whatever the planner reads of a segment, it reads of this one
    expect(segmentLink(m)).toMatchObject({
      startPosition: 0,
      endPosition: 602,
      firstGtid: '0-1-1',
      lastGtid: '0-1-5',
      archivedThrough: T(23),
    });
  });

  test('a merged piece contributes what it recorded; gaps, other files and single pieces are refused', () => {
    const inner = mergedManifest(pieces.slice(0, 3), {
      id: 'm',
      startedAt: T(50),
      completedAt: T(51),
      workflowId: 'w',
      artifact,
      tools: pieces[0]!.tools,
    });
    expect(compactedFrom([inner, pieces[3]!, pieces[4]!])).toEqual({
      pieces: 5,
      firstLandedAt: T(20),
      lastLandedAt: T(24),
      worstLandingSeconds: 2,
    });
    expect(mergeProblem([pieces[0]!, pieces[2]!])).toMatch(/starts at 305, not where .* ends \(206\)/);
    expect(mergeProblem([pieces[0]!])).toMatch(/at least two/);
    expect(
      mergeProblem([pieces[0]!, { ...pieces[1]!, binlog: { ...pieces[1]!.binlog, file: 'mysql-bin.000008' } }]),
    ).toMatch(/not of ctl1's mysql-bin.000007/);
    expect(() =>
      mergedManifest([pieces[1]!, pieces[0]!], {
        id: 'x',
        startedAt: T(1),
        completedAt: T(1),
        workflowId: 'w',
        artifact,
        tools: pieces[0]!.tools,
      }),
    ).toThrow(/not where/);
  });

  test('the planner caps pieces per merged segment; a later pass merges the merged ones', () => {
    const links = pieces.map(segmentLink);
    const now = Date.parse(T(3600));
    expect(planCompaction(links, now, 60_000, 1 << 20, 2).merge.map((r) => r.pieces.length)).toEqual([2, 2]);
    const m1 = { ...links[0]!, id: mergedSegmentId('ctl1', FILE, 0, 305), endPosition: 305 };
    const m2 = { ...links[2]!, id: mergedSegmentId('ctl1', FILE, 305, 503), endPosition: 503 };
    expect(planCompaction([m1, m2, links[4]!], now, 60_000, 1 << 20, 2000).merge).toEqual([
      {
        host: 'ctl1',
        file: FILE,
        startPosition: 0,
        endPosition: 602,
        id: mergedSegmentId('ctl1', FILE, 0, 602),
        pieces: [m1.id, m2.id, links[4]!.id],
      },
    ]);
  });
});

describe('merge and remove on a real repository (gpg, zstd)', () => {
  const root = mkdtempSync(join(tmpdir(), 'osb-compact-unit-'));
  const raw = binlogArchiveSchema.parse({ compactAfterMinutes: 1, compactMaxPieces: 3 });
  const config = {
    repository: { name: 'local', path: join(root, 'repo'), retention: retentionPolicySchema.parse({}) },
    targets: {},
    stateDir: join(root, 'state'),
    encryption: { passphrase: { env: 'OSB_UNIT_PASS' }, recipientKeyFiles: [] },
    clouds: { c: { database: { host: 'ctl1', binlog: raw } } },
  } as unknown as Config;
  const env = new Env({ config, env: { OSB_UNIT_PASS: 'unit-test-passphrase' }, ssh: undefined as never });
  const mock = new MockActivityEnvironment();
  const dir = (id: string) => join(root, 'repo', artifactDir('c', 'binlog', id));
  const ids = () =>
    env.repo.scanManifests('c').then((ms) =>
      ms
        .filter(isBinlogManifest)
        .map((m) => m.id)
        .sort(),
    );

  async function publishPiece(start: number, end: number, landedSec: number): Promise<BinlogManifest> {
    const bytes = data.subarray(start, end);
    const id = binlogSegmentId('ctl1', FILE, start);
    const staging = await env.repo.createStaging(id);
    const s = await sealBuffer(await env.gpgKeys(), 3, bytes, join(staging, SEGMENT_FILE));
    const m = pieceManifest(bytes, start, landedSec, { bytes: s.bytes, sha256: s.sha256 });
    await env.repo.publish(staging, artifactDir('c', 'binlog', id), m, {});
    return m;
  }
  const open = async (m: BinlogManifest) =>
    unsealFile(await env.gpgKeys(), join(dir(m.id), m.artifact.file), m.artifact, m.id);

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('old pieces merge into one segment that decrypts to their bytes; pieces go only under it; a second pass merges the merged', async () => {
    for (let i = 0; i < 5; i++) await publishPiece(cuts[i]!, cuts[i + 1]!, 20 + i);
    const plan = await planBinlogCompaction(env, 'c', Date.parse(T(3600)));
    expect(plan).toMatchObject({ skipped: null, covered: [], more: false, segments: 5 });
    expect(plan.merge.map((r) => [r.startPosition, r.endPosition, r.pieces.length])).toEqual([
      [0, 404, 3],
      [404, 602, 2],
    ]);

    const merged: MergeResult[] = [];
    for (const run of plan.merge)
      merged.push(
        (await mock.run(mergeBinlogSegments, env, { cloud: 'c', run, workflowId: 'compact-binlogs:c' })) as MergeResult,
      );
    expect(merged.map((r) => [r.streamBytes, r.adopted])).toEqual([
      [404, false],
      [198, false],
    ]);
    const m1 = (await env.repo.readManifest(artifactDir('c', 'binlog', plan.merge[0]!.id))) as BinlogManifest;
    expect(await open(m1)).toEqual(data.subarray(0, 404));
    expect(m1.binlog).toMatchObject({
      startPosition: 0,
      endPosition: 404,
      events: 7,
      firstGtid: '0-1-1',
      lastGtid: '0-1-3',
      compacted: { pieces: 3 },
    });
    expect(readFileSync(join(dir(m1.id), RECIPE_FILE), 'utf8')).toContain('bytes 0–404');
    // a retried merge finds its segment published and re-checks it
    expect(
      await mock.run(mergeBinlogSegments, env, { cloud: 'c', run: plan.merge[0]!, workflowId: 'w' }),
    ).toMatchObject({ adopted: true });

    // both there for a moment: the restore planner reads the merged one, compaction names the leftovers
    expect(
      contiguousFrom((await env.repo.scanManifests('c')).filter(isBinlogManifest).map(segmentLink), 'ctl1', FILE)!.map(
        (s) => s.id,
      ),
    ).toEqual([m1.id, plan.merge[1]!.id]);
    const again = await planBinlogCompaction(env, 'c', Date.parse(T(3600)));
    expect(again.covered).toHaveLength(5);
    expect(again.covered.find((c) => c.id === binlogSegmentId('ctl1', FILE, 206))).toEqual({
      id: binlogSegmentId('ctl1', FILE, 206),
      by: m1.id,
    });

    // a piece named under a segment that does not hold it stays
    const forgotten: string[] = [];
    const wrong = await removeBinlogPieces(
      env,
      { cloud: 'c', pieces: [{ id: binlogSegmentId('ctl1', FILE, 404), by: m1.id }] },
      async (x) => void forgotten.push(...x),
    );
    expect(wrong).toEqual({ removed: [], kept: [binlogSegmentId('ctl1', FILE, 404)] });
    const gone = await removeBinlogPieces(
      env,
      { cloud: 'c', pieces: again.covered },
      async (x) => void forgotten.push(...x),
    );
    expect(gone.removed).toHaveLength(5);
    expect(forgotten).toHaveLength(5);
    expect(await ids()).toEqual([m1.id, plan.merge[1]!.id].sort());
    // idempotent: removing again is not an error
    expect(
      (await removeBinlogPieces(env, { cloud: 'c', pieces: again.covered }, async () => undefined)).removed,
    ).toHaveLength(5);

    // the next pass joins the two merged segments: the whole file, every event
    const third = await planBinlogCompaction(env, 'c', Date.parse(T(3600)));
    expect(third.merge).toEqual([
      expect.objectContaining({ startPosition: 0, endPosition: 602, pieces: [m1.id, plan.merge[1]!.id] }),
    ]);
    await mock.run(mergeBinlogSegments, env, { cloud: 'c', run: third.merge[0]!, workflowId: 'w' });
    const whole = (await env.repo.readManifest(artifactDir('c', 'binlog', third.merge[0]!.id))) as BinlogManifest;
    expect(await open(whole)).toEqual(data);
    expect(whole.binlog).toMatchObject({
      events: 11,
      lastGtid: '0-1-5',
      compacted: { pieces: 5, worstLandingSeconds: 2 },
      previous: { file: 'mysql-bin.000006', endPosition: 900 },
    });

    // the hand-restore recipe beside it, run as written (bash, jq, sha256sum, gpg, zstd), with a
    // leftover piece beside the merged segment: the file comes back byte for byte
    await publishPiece(206, 305, 21);
    const recipe = readFileSync(join(dir(whole.id), RECIPE_FILE), 'utf8');
    const script = /\n {4}(cd <repository>[\s\S]*?\n {4}\})\n/.exec(recipe)![1]!.replace(/^ {4}/gm, '');
    const pass = join(root, 'pass');
    writeFileSync(pass, 'unit-test-passphrase');
    const r = spawnSync(
      'bash',
      ['-c', script.replace('<repository>', join(root, 'repo')).replace('/path/to/backup-passphrase', pass)],
      { env: { ...process.env, GNUPGHOME: join(root, 'state', 'gnupg') }, encoding: 'utf8' },
    );
    expect(r.stderr).not.toMatch(/missing|FAILED|error/i);
    expect(r.status).toBe(0);
    expect(readFileSync(join(root, 'repo', 'clouds', 'c', 'binlog', FILE))).toEqual(data);
  });

  test('sealing fails with its cause, not an echo: a staged file that already exists (the guard then kills zstd and gpg)', async () => {
    const staging = await env.repo.createStaging('seal-cause');
    const file = join(staging, SEGMENT_FILE);
    writeFileSync(file, 'earlier');
    await expect(sealBuffer(await env.gpgKeys(), 3, data.subarray(0, 4096), file)).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(readFileSync(file, 'utf8')).toBe('earlier');
    await env.repo.discardStaging(staging);
  });

  test('a damaged piece is never merged: nothing is published, the pieces stay', async () => {
    rmSync(join(root, 'repo', 'clouds'), { recursive: true, force: true });
    for (let i = 0; i < 3; i++) await publishPiece(cuts[i]!, cuts[i + 1]!, 20 + i);
    const f = join(dir(binlogSegmentId('ctl1', FILE, 206)), SEGMENT_FILE);
    const b = readFileSync(f);
    b[b.length - 5] = b[b.length - 5]! ^ 0xff;
    writeFileSync(f, b);
    const run: CompactionRun = (await planBinlogCompaction(env, 'c', Date.parse(T(3600)))).merge[0]!;
    await expect(mock.run(mergeBinlogSegments, env, { cloud: 'c', run, workflowId: 'w' })).rejects.toMatchObject({
      type: 'ChecksumMismatch',
      nonRetryable: true,
      message: expect.stringContaining(`binlog segment ${binlogSegmentId('ctl1', FILE, 206)} is corrupt`),
    });
    expect(await ids()).toEqual([0, 206, 305].map((s) => binlogSegmentId('ctl1', FILE, s)));
    expect(await env.repo.readManifest(artifactDir('c', 'binlog', run.id))).toBeUndefined();
  });

  test('off, or no passphrase to open segments with: skipped with the reason', async () => {
    const off = new Env({
      config: {
        ...config,
        clouds: { c: { database: { host: 'ctl1', binlog: { ...raw, compactAfterMinutes: 0 } } } },
      } as unknown as Config,
      env: { OSB_UNIT_PASS: 'x' },
      ssh: undefined as never,
    });
    expect((await planBinlogCompaction(off, 'c')).skipped).toMatch(/compaction is off/);
    const keysOnly = new Env({
      config: { ...config, encryption: { recipientKeyFiles: ['/k.asc'] } } as unknown as Config,
      env: {},
      ssh: undefined as never,
    });
    expect((await planBinlogCompaction(keysOnly, 'c')).skipped).toMatch(/no passphrase/);
  });
});
