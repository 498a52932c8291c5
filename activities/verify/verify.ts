// Scrub and capacity: re-read every sealed file on a target and compare it with its manifest
// (CHECKED, CORRUPT, MISSING; a CheckRecord beside the manifest), and measure what targets hold.
//
// Granularity: the workflow plans once (one listing), then checks artifacts in batches, one
// activity call per batch. Each artifact's CheckRecord is written as soon as it is read and
// carries the workflow id, so a retried batch (worker crash, lost heartbeat) skips the
// artifacts that already have this run's record: a crash costs at most the artifact being read.
// Batches rather than one call per artifact keep the workflow history small on targets with
// thousands of artifacts; one call per target would restart from the first artifact.
import { ApplicationFailure } from '@temporalio/common';
import { Catalog } from '../catalog/catalog.js';
import type { Env } from '../deps.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { FailureType } from '../errors.js';
import {
  artifactDir,
  checkRecordKey,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  type CheckedFile,
  type CheckRecord,
} from '../../core/manifest/manifest.js';
import { sealedFiles, type AnyManifest } from '../../core/manifest/any-manifest.js';
import {
  checkResult,
  classifyFile,
  selectForCheck,
  verifyNode,
  type ArtifactCheck,
  type ExpectedEntry,
  type VerifyNode,
} from '../../core/verify/report.js';
import type { TargetScan } from '../../core/capacity/capacity.js';
import { hashObject, scanTargetManifests, targetNames, type TargetStore } from '../storage/target.js';

export interface VerifyPlan {
  target: string;
  location: string;
  nodes: VerifyNode[];
  /** The target's catalog rows for the cloud; null when it has no readable index. */
  expected: ExpectedEntry[] | null;
  /** What this run re-reads, oldest first, with the bytes each takes to read. */
  toCheck: { id: string; component: string; bytes: number }[];
}

/** The worker's target (opened once per worker: S3 clients keep their connections). */
async function withTarget<T>(env: Env, name: string, work: (t: TargetStore) => Promise<T>): Promise<T> {
  return work(await env.target(name));
}

export function storageTargetNames(env: Env): string[] {
  return targetNames(env.config);
}

/** What the target's catalog says should be there for the cloud; null when it has none. */
async function readCatalogIndex(t: TargetStore, cloud: string): Promise<ExpectedEntry[] | null> {
  // a torn or unreadable catalog names nothing; the chains still name missing parents
  const stored = await new Catalog(t).stored().catch(() => undefined);
  if (!stored) return null;
  return stored
    .filter((e) => e && typeof e.id === 'string' && e.cloud === cloud && typeof e.component === 'string')
    .map((e) => ({
      id: e.id,
      cloud: e.cloud,
      component: e.component,
      kind: e.kind,
      parentId: e.parentId ?? null,
      startedAt: e.startedAt,
      completedAt: e.completedAt,
      toLsn: e.toLsn,
    }));
}

export async function planVerify(
  env: Env,
  input: { cloud: string; target: string; since: string | null },
): Promise<VerifyPlan> {
  return withTarget(env, input.target, async (t) => {
    // an unmounted share or a missing bucket is a failure, not "everything missing"
    await t.checkWritable();
    const scanned = await scanTargetManifests(t, input.cloud);
    const nodes = scanned.map((s) => verifyNode(s.manifest));
    const bytes = new Map(
      scanned.map((s) => [s.manifest.id, sealedFiles(s.manifest).reduce((n, f) => n + f.bytes, 0)]),
    );
    const toCheck = selectForCheck(nodes, input.since).map((n) => ({
      id: n.id,
      component: n.component,
      bytes: bytes.get(n.id) ?? 0,
    }));
    return { target: t.name, location: t.location, nodes, expected: await readCatalogIndex(t, input.cloud), toCheck };
  });
}

/** This run's record for an artifact, if a previous attempt of the same batch wrote one. */
async function recordOfRun(t: TargetStore, dir: string, workflowId: string): Promise<CheckRecord | undefined> {
  const keys = (await t.list(`${dir}/checks/`))
    .map((o) => o.key)
    .filter((k) => k.endsWith('.json'))
    .sort()
    .reverse();
  for (const k of keys.slice(0, 3)) {
    try {
      const r = JSON.parse((await t.readText(k)) ?? '') as CheckRecord;
      if (r.workflowId === workflowId) return r;
    } catch {
      /* torn record: read again */
    }
  }
  return undefined;
}

/** Re-reads one sealed file; an unreadable medium (EIO) is a corrupt file, not a retry. */
async function checkFile(
  t: TargetStore,
  f: { rel: string; sha256: string; bytes: number },
  onProgress: (n: number) => void,
): Promise<CheckedFile> {
  try {
    return classifyFile(f, await hashObject(t, f.rel, onProgress, cancellationSignal()));
  } catch (e) {
    if (e instanceof ApplicationFailure && e.type === FailureType.ArtifactMissing) return classifyFile(f, null);
    if ((e as NodeJS.ErrnoException).code === 'EIO')
      return {
        rel: f.rel,
        expectedSha256: f.sha256,
        expectedBytes: f.bytes,
        actualSha256: null,
        actualBytes: null,
        outcome: 'corrupt',
      };
    throw e;
  }
}

export async function checkArtifacts(
  env: Env,
  input: { cloud: string; target: string; artifacts: { id: string; component: string }[]; workflowId: string },
): Promise<ArtifactCheck[]> {
  return withTarget(env, input.target, async (t) => {
    const beat = heartbeater();
    const out: ArtifactCheck[] = [];
    let done = 0;
    for (const [i, a] of input.artifacts.entries()) {
      const dir = artifactDir(input.cloud, a.component, a.id);
      const again = await recordOfRun(t, dir, input.workflowId);
      if (again) {
        out.push({ id: a.id, result: again.result, checkedAt: again.checkedAt, files: again.files });
        continue;
      }
      let m: AnyManifest;
      try {
        m = JSON.parse((await t.readText(`${dir}/${MANIFEST_FILE}`)) ?? '') as AnyManifest;
      } catch {
        // published when planned, gone now: nothing to write a record beside
        out.push({ id: a.id, result: 'MISSING', checkedAt: new Date().toISOString(), files: [] });
        continue;
      }
      const files: CheckedFile[] = [];
      for (const f of sealedFiles(m)) {
        files.push(
          await checkFile(t, f, (n) =>
            beat({
              target: t.name,
              artifact: a.id,
              artifactIndex: i,
              artifacts: input.artifacts.length,
              bytes: done + n,
            }),
          ),
        );
        done += files.at(-1)!.actualBytes ?? 0;
      }
      const record: CheckRecord = {
        formatVersion: MANIFEST_FORMAT,
        backupId: m.id,
        cloud: m.cloud,
        component: m.component,
        target: t.name,
        checkedAt: new Date().toISOString(),
        workflowId: input.workflowId,
        result: checkResult(files),
        files,
      };
      await t.putText(
        checkRecordKey(m.cloud, m.component, m.id, record.checkedAt),
        JSON.stringify(record, null, 2) + '\n',
      );
      out.push({ id: a.id, result: record.result, checkedAt: record.checkedAt, files });
    }
    return out;
  });
}

/** What a target holds, per artifact (all clouds: they share its space), and how big it is. */
export async function scanCapacity(env: Env, input: { target: string }): Promise<TargetScan> {
  return withTarget(env, input.target, async (t) => {
    await t.checkWritable(); // an unmounted share would report the local disk's free space
    const scanned = await scanTargetManifests(t);
    const cap = await t.capacity();
    return {
      target: t.name,
      type: t.type,
      location: t.location,
      totalBytes: cap.totalBytes,
      freeBytes: cap.freeBytes,
      artifacts: scanned.map((s) => ({
        cloud: s.manifest.cloud,
        component: s.manifest.component,
        completedAt: s.manifest.completedAt,
        bytes: s.files.reduce((n, f) => n + f.bytes, 0),
      })),
    };
  });
}
