// What a scrub found on one target, and what it means for restoring: which restore points
// each corrupt or missing artifact breaks (a full breaks every incremental chained on it),
// which stay intact, the newest intact one. Pure: the verify workflow and the unit tests call it.
//
// Words: CHECKED = the stored bytes were re-read and their SHA-256 and size equal the
// manifest's (with the date). VERIFIED = a restore proved the data (VerificationRecord). A
// restore point is "intact" here when its whole chain is present and every member was
// CHECKED in this run — never "verified".
import { chainTo, type ChainLink } from '../chain/chain.js';
import type { CheckedFile, CheckResult } from '../manifest/manifest.js';
import type { AnyManifest } from '../manifest/any-manifest.js';

/** An artifact reduced to what chains and reports need: small enough for workflow history. */
export interface VerifyNode extends ChainLink {
  component: string;
  startedAt: string;
  completedAt: string;
}

/** A catalog row's fields verify reads (CatalogEntry has them all). */
export interface ExpectedEntry {
  id: string;
  cloud: string;
  component: string;
  kind: string;
  parentId: string | null;
  startedAt: string;
  completedAt: string;
  toLsn?: string;
}

/** One artifact's re-read, as the check activity returns it. */
export interface ArtifactCheck {
  id: string;
  result: CheckResult;
  checkedAt: string;
  /** Every sealed file with its outcome. */
  files: CheckedFile[];
}

export interface BadArtifact {
  id: string;
  component: string;
  kind: string;
  completedAt: string | null;
  result: 'CORRUPT' | 'MISSING';
  /** What is wrong, for people: the first bad file, or why the folder counts as missing. */
  reason: string;
  /** The files that are not ok (empty when the whole folder is gone). */
  files: CheckedFile[];
  /** Restore points (artifact ids, oldest first) that cannot be restored from this target because of it. */
  breaks: string[];
}

export type RestorePointState = 'intact' | 'broken' | 'not checked';

export interface RestorePointReport {
  id: string;
  component: string;
  kind: string;
  completedAt: string;
  state: RestorePointState;
  /** Why it is broken: the bad members, or the chain's own problem. */
  because: string[];
}

export interface VerifyTargetReport {
  target: string;
  location: string;
  cloud: string;
  /** Only artifacts completed at or after this time were re-read (null: all). */
  since: string | null;
  /** Whether the target holds a catalog index to name folders that vanished entirely. */
  catalogIndex: boolean;
  counts: { checked: number; corrupt: number; missing: number; notChecked: number };
  artifacts: {
    id: string;
    component: string;
    kind: string;
    completedAt: string;
    result: CheckResult | 'NOT CHECKED';
    checkedAt: string | null;
  }[];
  bad: BadArtifact[];
  restorePoints: RestorePointReport[];
  /** Per component, the newest restore point whose whole chain is present and CHECKED in this run. */
  newestIntact: Record<string, string | null>;
}

export interface VerifyReportInput {
  target: string;
  location: string;
  cloud: string;
  since: string | null;
  /** Manifests published on the target (this cloud). */
  present: VerifyNode[];
  /** What should be there: the target's catalog index (null when it has none). */
  expected: ExpectedEntry[] | null;
  checks: ArtifactCheck[];
}

const NO_LSN = { checkpoints: { fromLsn: '', toLsn: '' } };

export function verifyNode(m: AnyManifest): VerifyNode {
  return {
    id: m.id,
    cloud: m.cloud,
    component: m.component,
    kind: m.kind,
    parentId: m.parentId,
    startedAt: m.startedAt,
    completedAt: m.completedAt,
    mariadb:
      m.component === 'database'
        ? { checkpoints: { fromLsn: m.mariadb.checkpoints.fromLsn, toLsn: m.mariadb.checkpoints.toLsn } }
        : NO_LSN,
  };
}

/**
 * "7d", "12h", "30m", "2w" before `now`, or an ISO date/time; null when it is neither.
 * Durations let a schedule pass the same `since` every run.
 */
export function resolveSince(since: string, now: Date): string | null {
  const d = /^(\d+)\s*([mhdw])$/.exec(since.trim());
  if (d) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }[d[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - Number(d[1]) * unit).toISOString();
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(since.trim())) return null;
  const t = Date.parse(since.trim());
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** The artifacts a run re-reads: every one, or those completed at or after `since`. */
export function selectForCheck<T extends { completedAt: string }>(nodes: readonly T[], since: string | null): T[] {
  return since ? nodes.filter((n) => Date.parse(n.completedAt) >= Date.parse(since)) : [...nodes];
}

/** The artifact's result from its files: any missing → MISSING, else any other bytes → CORRUPT. */
export function checkResult(files: readonly CheckedFile[]): CheckResult {
  if (files.some((f) => f.outcome === 'missing')) return 'MISSING';
  if (files.some((f) => f.outcome !== 'ok')) return 'CORRUPT';
  return 'CHECKED';
}

/** Compares what was read with the manifest: ok, corrupt (same size), truncated (other size), missing. */
export function classifyFile(
  expected: { rel: string; sha256: string; bytes: number },
  actual: { sha256: string; bytes: number } | null,
): CheckedFile {
  const base = { rel: expected.rel, expectedSha256: expected.sha256, expectedBytes: expected.bytes };
  if (!actual) return { ...base, actualSha256: null, actualBytes: null, outcome: 'missing' };
  const outcome = actual.bytes !== expected.bytes ? 'truncated' : actual.sha256 !== expected.sha256 ? 'corrupt' : 'ok';
  return { ...base, actualSha256: actual.sha256, actualBytes: actual.bytes, outcome };
}

export function describeFile(f: CheckedFile): string {
  const name = f.rel.split('/').at(-1);
  if (f.outcome === 'missing') return `${name} is missing`;
  if (f.outcome === 'truncated')
    return `${name} has ${f.actualBytes} bytes, the manifest says ${f.expectedBytes}${(f.actualBytes ?? 0) < f.expectedBytes ? ' (truncated)' : ''}`;
  if (f.outcome === 'corrupt')
    return `${name} has the right size (${f.expectedBytes} bytes) but other bytes: SHA-256 ${f.actualSha256?.slice(0, 16) ?? '?'}…, the manifest says ${f.expectedSha256.slice(0, 16)}…`;
  return `${name} ok`;
}

const byTime = (a: { startedAt: string; id: string }, b: { startedAt: string; id: string }) =>
  a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id);

export function verifyReport(input: VerifyReportInput): VerifyTargetReport {
  const present = input.present.filter((n) => n.cloud === input.cloud).sort(byTime);
  const presentIds = new Set(present.map((n) => n.id));
  const checks = new Map(input.checks.map((c) => [c.id, c]));
  const bad = new Map<string, Omit<BadArtifact, 'breaks'>>();

  // folders the catalog lists but the target no longer holds: their manifest went with them
  const vanished: VerifyNode[] = [];
  for (const e of input.expected ?? []) {
    if (e.cloud !== input.cloud || presentIds.has(e.id) || vanished.some((v) => v.id === e.id)) continue;
    vanished.push({ ...e, mariadb: { checkpoints: { fromLsn: '', toLsn: e.toLsn ?? '' } } });
    bad.set(e.id, {
      id: e.id,
      component: e.component,
      kind: e.kind,
      completedAt: e.completedAt,
      result: 'MISSING',
      reason: 'its folder is gone from the target (manifest and files); the catalog lists it',
      files: [],
    });
  }
  // a parent named by a present incremental is expected too, catalog or not
  const known = new Set([...presentIds, ...vanished.map((v) => v.id)]);
  for (const n of present) {
    if (n.component !== 'database' || n.kind === 'full' || !n.parentId || known.has(n.parentId)) continue;
    known.add(n.parentId);
    vanished.push({
      id: n.parentId,
      cloud: n.cloud,
      component: n.component,
      kind: 'unknown',
      parentId: null,
      startedAt: '',
      completedAt: '',
      mariadb: NO_LSN,
    });
    bad.set(n.parentId, {
      id: n.parentId,
      component: n.component,
      kind: 'unknown',
      completedAt: null,
      result: 'MISSING',
      reason: `its folder is gone from the target; ${n.id} names it as its parent`,
      files: [],
    });
  }
  for (const c of input.checks) {
    if (c.result === 'CHECKED' || !presentIds.has(c.id)) continue;
    const n = present.find((p) => p.id === c.id)!;
    const files = c.files.filter((f) => f.outcome !== 'ok');
    bad.set(c.id, {
      id: c.id,
      component: n.component,
      kind: n.kind,
      completedAt: n.completedAt,
      result: c.result,
      reason: files.map(describeFile).join('; '),
      files,
    });
  }

  const all = new Map([...present, ...vanished].map((n) => [n.id, n]));
  /** The ids a restore point needs: itself and its parents as far as they are known (cycle-safe). */
  const needs = (id: string): string[] => {
    const out: string[] = [];
    let cur = all.get(id);
    while (cur && !out.includes(cur.id)) {
      out.push(cur.id);
      if (cur.component !== 'database' || cur.kind === 'full' || !cur.parentId) break;
      const p = all.get(cur.parentId);
      if (!p) {
        out.push(cur.parentId);
        break;
      }
      cur = p;
    }
    return out;
  };

  const presentDb = present.filter((n) => n.component === 'database');
  const restorePoints: RestorePointReport[] = [];
  const breaks = new Map<string, string[]>();
  for (const n of [...present, ...vanished.filter((v) => v.startedAt)].sort(byTime)) {
    const members = needs(n.id);
    const because = members.filter((m) => bad.has(m)).map((m) => `${m} ${bad.get(m)!.result}`);
    for (const m of members) if (bad.has(m)) (breaks.get(m) ?? breaks.set(m, []).get(m)!).push(n.id);
    if (!because.length && n.component === 'database') {
      const c = chainTo(presentDb, n.id);
      if ('problem' in c) because.push(c.problem.reason);
    }
    const state: RestorePointState = because.length
      ? 'broken'
      : members.every((m) => checks.get(m)?.result === 'CHECKED')
        ? 'intact'
        : 'not checked';
    restorePoints.push({ id: n.id, component: n.component, kind: n.kind, completedAt: n.completedAt, state, because });
  }

  const newestIntact: Record<string, string | null> = {};
  for (const c of new Set(present.map((n) => n.component)))
    newestIntact[c] = restorePoints.filter((r) => r.component === c && r.state === 'intact').at(-1)?.id ?? null;

  const badList: BadArtifact[] = [...bad.values()]
    .map((b) => ({ ...b, breaks: breaks.get(b.id) ?? [b.id] }))
    .sort((a, b) => (a.completedAt ?? '').localeCompare(b.completedAt ?? '') || a.id.localeCompare(b.id));
  const artifacts = present.map((n) => {
    const c = checks.get(n.id);
    return {
      id: n.id,
      component: n.component,
      kind: n.kind,
      completedAt: n.completedAt,
      result: c?.result ?? ('NOT CHECKED' as const),
      checkedAt: c?.checkedAt ?? null,
    };
  });
  return {
    target: input.target,
    location: input.location,
    cloud: input.cloud,
    since: input.since,
    catalogIndex: input.expected !== null,
    counts: {
      checked: artifacts.filter((a) => a.result === 'CHECKED').length,
      corrupt: badList.filter((b) => b.result === 'CORRUPT').length,
      missing: badList.filter((b) => b.result === 'MISSING').length,
      notChecked: artifacts.filter((a) => a.result === 'NOT CHECKED').length,
    },
    artifacts,
    bad: badList,
    restorePoints,
    newestIntact,
  };
}

/** True when the report found nothing wrong. */
export function reportClean(r: VerifyTargetReport): boolean {
  return r.counts.corrupt === 0 && r.counts.missing === 0 && r.restorePoints.every((p) => p.state !== 'broken');
}

/**
 * Batches for the check activity: at most `maxArtifacts` or about `maxBytes` each (one
 * artifact larger than that is a batch of its own), order kept.
 */
export function checkBatches<T extends { bytes: number }>(
  items: readonly T[],
  maxArtifacts = 16,
  maxBytes = 32 * 1024 ** 3,
): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const it of items) {
    if (cur.length && (cur.length >= maxArtifacts || bytes + it.bytes > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += it.bytes;
  }
  if (cur.length) out.push(cur);
  return out;
}
