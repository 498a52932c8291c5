// Binlog segment compaction: old contiguous segments of one file become one segment artifact.
//
//   plan    — scan the repository's binlog manifests, planCompaction (core/pitr/segments.ts)
//   merge   — one planned run: open each piece (unsealTo refuses bytes whose SHA-256 is not the
//             manifest's: damaged data is never merged) and stream the byte ranges in position
//             order (the first piece of a file carries the magic and the format description, the
//             rest are whole events after it, so the result is the file's bytes exactly), walked
//             as events, into one sealed file; open it again and compare its plaintext hash,
//             publish (manifest last), hash the published file against the manifest. The worker
//             holds one event at a time, never a piece or the merged segment whole
//   remove  — only pieces a published merged segment covers, manifest first; idempotent. A crash
//             between merge and remove leaves pieces the next plan names as `covered`.
// The pieces stay the truth until the merged segment is published and checked; the restore
// planner takes the longest segment at one start, so both being there for a while is harmless.
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { artifactDir, MANIFEST_FILE, RECIPE_FILE } from '../../core/manifest/manifest.js';
import { isBinlogManifest } from '../../core/manifest/any-manifest.js';
import {
  planCompaction,
  segmentArtifact,
  segmentLink,
  SEGMENT_FILE,
  type BinlogManifest,
} from '../../core/pitr/segments.js';
import { mergedManifest, mergeProblem } from '../../core/pitr/compaction.js';
import { binlogSegmentRecipe } from '../../core/pitr/recipe.js';
import type { Env } from '../deps.js';
import { fatal, fsFailure, FailureType } from '../errors.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { forwardInto, sealStream, unsealTo } from '../control-plane/sealed.js';
import { gpgVersion, keyFingerprints } from '../crypto/gpg.js';
import { zstdVersion } from '../crypto/zstd.js';
import { EventScanner } from './events.js';

export interface CompactionRun {
  id: string;
  host: string;
  file: string;
  startPosition: number;
  endPosition: number;
  pieces: string[];
}

export interface CompactionPlanResult {
  /** Set when nothing can be merged at all (the reason, for the workflow's result). */
  skipped: string | null;
  merge: CompactionRun[];
  /** Pieces inside a published merged segment, with the segment that holds their bytes. */
  covered: { id: string; by: string }[];
  /** More was planned than returned (payload size): plan again after this batch. */
  more: boolean;
  segments: number;
}

/** At most this many runs, piece ids and covered pieces per plan: ids travel through workflow history (~50 bytes each). */
const MAX_RUNS = 16;
const MAX_PIECES = 4000;
const MAX_COVERED = 2000;

export async function planBinlogCompaction(env: Env, cloud: string, now = Date.now()): Promise<CompactionPlanResult> {
  const b = env.cloud(cloud).database.binlog;
  const empty = (skipped: string | null, segments = 0): CompactionPlanResult => ({
    skipped,
    merge: [],
    covered: [],
    more: false,
    segments,
  });
  if (!b.compactAfterMinutes) return empty('compaction is off (database.binlog.compactAfterMinutes: 0)');
  // the worker's gpg home holds no secret key: pieces open only with the passphrase
  if ((await env.gpgKeys()).passphrase === undefined)
    return empty(
      'the worker has no passphrase to open segments with (encryption.passphrase unset: public-key recipients only), so it cannot merge them',
    );
  const segs = (await env.repo.scanManifests(cloud)).filter(isBinlogManifest);
  const plan = planCompaction(
    segs.map(segmentLink),
    now,
    b.compactAfterMinutes * 60_000,
    b.compactMaxMiB * 1024 * 1024,
    b.compactMaxPieces,
  );
  const byId = new Map(segs.map((m) => [m.id, m]));
  const covered: { id: string; by: string }[] = [];
  for (const id of plan.covered.slice(0, MAX_COVERED)) {
    const p = byId.get(id)!.binlog;
    const host = byId.get(id)!.source.host;
    // the longest segment holding it (what the restore planner reads instead)
    const outer = segs
      .filter(
        (m) =>
          m.id !== id &&
          m.source.host === host &&
          m.binlog.file === p.file &&
          m.binlog.startPosition <= p.startPosition &&
          p.endPosition <= m.binlog.endPosition,
      )
      .sort(
        (x, y) => y.binlog.endPosition - y.binlog.startPosition - (x.binlog.endPosition - x.binlog.startPosition),
      )[0];
    if (outer) covered.push({ id, by: outer.id });
  }
  const merge: CompactionRun[] = [];
  let ids = 0;
  for (const r of plan.merge) {
    if (merge.length && (merge.length >= MAX_RUNS || ids + r.pieces.length > MAX_PIECES)) break;
    merge.push(r);
    ids += r.pieces.length;
  }
  return {
    skipped: null,
    merge,
    covered,
    more: plan.merge.length > merge.length || plan.covered.length > MAX_COVERED,
    segments: segs.length,
  };
}

export interface MergeInput {
  cloud: string;
  run: CompactionRun;
  workflowId: string;
  toolVersion?: string;
}

export interface MergeResult {
  id: string;
  pieces: number;
  streamBytes: number;
  bytes: number;
  /** Published by an earlier attempt (found and re-checked, not merged again). */
  adopted: boolean;
  seconds: number;
}

async function readSegment(env: Env, cloud: string, id: string): Promise<BinlogManifest | undefined> {
  const m = await env.repo.readManifest(artifactDir(cloud, 'binlog', id));
  return m && isBinlogManifest(m) ? m : undefined;
}

/** A stored segment's bytes hash to its manifest (what a restore's verify checks), else a typed failure. */
async function checkStored(env: Env, m: BinlogManifest, role: 'piece' | 'merged'): Promise<void> {
  const rel = join(artifactDir(m.cloud, 'binlog', m.id), m.artifact.file);
  const got = await env.repo.sha256File(env.repo.path(rel)).catch(() => ({ sha256: 'unreadable', bytes: -1 }));
  if (got.sha256 === m.artifact.sha256 && got.bytes === m.artifact.bytes) return;
  const what = `binlog segment ${m.id} is corrupt: SHA-256 ${got.sha256} (${got.bytes} bytes) but the manifest recorded ${m.artifact.sha256} (${m.artifact.bytes} bytes)`;
  if (role === 'piece')
    throw fatal(
      FailureType.ChecksumMismatch,
      `${what}; nothing was merged, the segments stay as they are`,
      'run `osbackup verify`; copy the segment back from another target (`osbackup copy`) or restore to a time before it',
    );
  throw fatal(
    FailureType.ChecksumMismatch,
    `merged ${what} (it reads back other than written); its pieces were kept`,
    'check the repository disk (dmesg, fsck); remove the merged folder by hand, the next compaction merges again',
  );
}

export async function mergeBinlogSegments(env: Env, input: MergeInput): Promise<MergeResult> {
  const { cloud, run } = input;
  const t0 = performance.now();
  const rel = artifactDir(cloud, 'binlog', run.id);
  const done = await readSegment(env, cloud, run.id);
  if (done) {
    // an attempt that died after publishing: check what it left, never merge twice
    await checkStored(env, done, 'merged');
    return {
      id: run.id,
      pieces: run.pieces.length,
      streamBytes: done.artifact.streamBytes,
      bytes: done.artifact.bytes,
      adopted: true,
      seconds: (performance.now() - t0) / 1000,
    };
  }
  const pieces: BinlogManifest[] = [];
  for (const id of run.pieces) {
    const m = await readSegment(env, cloud, id);
    if (!m)
      throw fatal(
        FailureType.BackupNotFound,
        `binlog segment ${id}, planned into ${run.id}, is gone from the repository (retention, or another compaction?)`,
        'nothing to do: the next compaction pass plans afresh',
      );
    pieces.push(m);
  }
  const problem = mergeProblem(pieces);
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (
    problem ||
    first.binlog.startPosition !== run.startPosition ||
    last.binlog.endPosition !== run.endPosition ||
    first.source.host !== run.host
  ) {
    throw fatal(
      FailureType.ConfigInvalid,
      `binlog segments planned into ${run.id} cannot be merged: ${problem ?? `they span ${first.source.host} ${first.binlog.file} ${first.binlog.startPosition}–${last.binlog.endPosition}, not the planned range`}`,
      'nothing was changed; the next compaction pass plans afresh from the repository',
    );
  }
  const keys = await env.gpgKeys();
  const signal = cancellationSignal();
  const beat = heartbeater(1000);
  const b = env.cloud(cloud).database.binlog;
  const startedAt = new Date().toISOString();
  let stagingDir: string;
  try {
    stagingDir = await env.repo.createStaging(run.id);
  } catch (e) {
    throw fsFailure(e, `creating a staging folder in ${env.repo.root}`);
  }
  try {
    const staged = join(stagingDir, SEGMENT_FILE);
    // the pieces, opened one after another, walk as whole events into one sealed file: nothing is held whole
    const scanner = new EventScanner(run.startPosition);
    let scanError: Error | undefined;
    const joined = new Transform({
      transform(chunk: Buffer, _e, cb) {
        try {
          for (const x of scanner.push(chunk)) this.push(x);
          cb();
        } catch (e) {
          scanError = e as Error;
          cb(e as Error);
        }
      },
    });
    let read = 0;
    const feed = (async () => {
      for (const m of pieces) {
        // hashed before gpg sees a byte of it (unsealTo checks again on the way in)
        await checkStored(env, m, 'piece');
        const { plainBytes } = await unsealTo(
          keys,
          env.repo.path(join(artifactDir(cloud, 'binlog', m.id), m.artifact.file)),
          m.artifact,
          `binlog segment ${m.id}`,
          forwardInto(joined, () => undefined),
          signal,
        );
        if (plainBytes !== m.binlog.endPosition - m.binlog.startPosition) {
          throw fatal(
            FailureType.ChecksumMismatch,
            `binlog segment ${m.id} decrypts to ${plainBytes} bytes, not the ${m.binlog.endPosition - m.binlog.startPosition} its manifest records; nothing was merged`,
            'run `osbackup verify`; the segment stays as it is',
          );
        }
        beat({ step: 'reading pieces', segment: m.id, read: ++read, of: pieces.length });
      }
      joined.end();
    })().catch((e: unknown) => {
      // the sealing side would wait for the rest of the stream forever
      joined.destroy(e as Error);
      throw e;
    });
    const [fed, sealedR] = await Promise.allSettled([
      feed,
      sealStream(keys, b.compressionLevel, joined, staged, signal),
    ]);
    if (fed.status === 'rejected' && !scanError) throw fed.reason;
    // the bytes must walk as whole events from the first piece's position to the last one's end
    if (scanError)
      throw fatal(
        FailureType.ChecksumMismatch,
        `the pieces of ${run.id} do not join into binlog events (${scanError.message}); nothing was merged`,
        'inspect the pieces with mariadb-binlog (hand-restore recipe beside each); they stay as they are',
      );
    if (sealedR.status === 'rejected') throw sealedR.reason;
    const sealed = sealedR.value;
    const scan = scanner.summary();
    const events = pieces.reduce((n, m) => n + m.binlog.events, 0);
    const length = run.endPosition - run.startPosition;
    if (scanner.pendingBytes !== 0 || scan.wholeBytes !== length || scan.events !== events) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `the pieces of ${run.id} join into ${scan.events} events over ${scan.wholeBytes} of ${scan.wholeBytes + scanner.pendingBytes} bytes, but their manifests record ${events} events over ${length}; nothing was merged`,
        'inspect the pieces with mariadb-binlog; they stay as they are',
      );
    }
    beat({ step: 'sealed', segment: run.id, bytes: sealed.bytes });
    // the sealed file must open to exactly the bytes merged (gpg and zstd round trip) before the
    // pieces can go: unsealTo refuses plaintext whose SHA-256 is not the one hashed on the way in
    const back = await unsealTo(
      keys,
      staged,
      {
        sha256: sealed.sha256,
        bytes: sealed.bytes,
        plainSha256: sealed.plainSha256,
        encryption: first.artifact.encryption,
      },
      `merged binlog segment ${run.id}`,
      new Writable({ write: (_c, _e, cb) => cb() }),
      signal,
    );
    if (back.plainBytes !== length)
      throw fatal(
        FailureType.ChecksumMismatch,
        `merged binlog segment ${run.id} decrypts to ${back.plainBytes} bytes, not the ${length} merged; nothing was published`,
        'check the worker (memory, disk); the pieces stay as they are',
      );
    const fingerprints = await keyFingerprints(keys.recipientKeyFiles, keys.homedir);
    const m = mergedManifest(pieces, {
      id: run.id,
      startedAt,
      completedAt: new Date().toISOString(),
      workflowId: input.workflowId,
      artifact: segmentArtifact(sealed, length, b.compressionLevel, keys.passphrase !== undefined, fingerprints),
      tools: { zstd: await zstdVersion(), gpg: await gpgVersion(), osbackup: input.toolVersion ?? 'unknown' },
    });
    await env.repo.publish(stagingDir, rel, m, { [RECIPE_FILE]: binlogSegmentRecipe(m) });
    await checkStored(env, m, 'merged');
    return {
      id: run.id,
      pieces: pieces.length,
      streamBytes: length,
      bytes: sealed.bytes,
      adopted: false,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    await env.repo.discardStaging(stagingDir);
    if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
    throw fsFailure(e, `publishing merged binlog segment ${run.id}`);
  }
}

export interface RemoveInput {
  cloud: string;
  /** Each piece with the published segment that holds its bytes. */
  pieces: { id: string; by: string }[];
}

/**
 * Deletes pieces whose bytes a published, intact merged segment holds: manifest first (from
 * that instant the folder is garbage, never a segment), then its files. A piece already gone
 * is not an error; one its `by` does not cover, or whose `by` is missing or damaged, is kept.
 */
export async function removeBinlogPieces(
  env: Env,
  input: RemoveInput,
  onRemoved: (ids: string[]) => Promise<void>,
): Promise<{ removed: string[]; kept: string[] }> {
  const { cloud } = input;
  const t = env.primary;
  const beat = heartbeater(1000);
  const removed: string[] = [];
  const kept: string[] = [];
  const checked = new Map<string, BinlogManifest | null>();
  for (const { id, by } of input.pieces) {
    if (!checked.has(by)) {
      const outer = await readSegment(env, cloud, by);
      let ok = !!outer;
      if (outer) await checkStored(env, outer, 'merged').catch(() => (ok = false));
      checked.set(by, ok ? outer! : null);
    }
    const outer = checked.get(by);
    const dir = artifactDir(cloud, 'binlog', id);
    const piece = await readSegment(env, cloud, id);
    if (!piece) {
      // gone already (an earlier attempt); its leftovers, if any, go too
      const files = await t.list(`${dir}/`);
      if (files.length) await t.deleteKeys(files.map((f) => f.key));
      removed.push(id);
      continue;
    }
    const inside =
      outer &&
      outer.id !== id &&
      outer.source.host === piece.source.host &&
      outer.binlog.file === piece.binlog.file &&
      outer.binlog.startPosition <= piece.binlog.startPosition &&
      piece.binlog.endPosition <= outer.binlog.endPosition;
    if (!inside) {
      kept.push(id);
      continue;
    }
    const files = await t.list(`${dir}/`);
    await t.deleteKeys(files.filter((f) => f.key === `${dir}/${MANIFEST_FILE}`).map((f) => f.key));
    await t.deleteKeys(files.filter((f) => f.key !== `${dir}/${MANIFEST_FILE}`).map((f) => f.key));
    removed.push(id);
    beat({ step: 'removing merged pieces', removed: removed.length, of: input.pieces.length });
  }
  if (removed.length) await onRemoved(removed);
  return { removed, kept };
}
