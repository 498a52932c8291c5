// Which artifact folders a copy between two targets must carry, in which order. Pure, so the
// CLI's dry run and the copy workflow agree.
//
// Rules:
// - Every target is self-sufficient: a database restore point is copied with its whole chain
//   (the full and every incremental below it), parents first. A crash midway therefore leaves
//   the destination with complete chains only — the child's manifest is written after its
//   parents', and a folder without a manifest is not a backup.
// - What the destination already holds with the same stored bytes (same SHA-256) is skipped;
//   the same id with other bytes is a conflict, reported and never overwritten.
// - A restore point whose chain is broken on the source is not copied at all.
import { chainTo } from '../chain/chain.js';
import { type ArtifactManifest } from '../manifest/manifest.js';
import { isDatabaseManifest, sealedFiles, type AnyManifest } from '../manifest/any-manifest.js';

export interface CopyPlan {
  /** Artifact ids to copy, parents before children. */
  copy: string[];
  /** Already on the destination with the same bytes. */
  present: string[];
  problems: { id: string; reason: string }[];
}

/** A digest of an artifact's stored bytes: the artifact's SHA-256, or every sealed part's. */
export function storedDigest(m: AnyManifest): string {
  return sealedFiles(m)
    .map((f) => `${f.rel}:${f.sha256}`)
    .join(',');
}

export function planCopy(
  source: readonly AnyManifest[],
  dest: readonly AnyManifest[],
  want: readonly string[],
): CopyPlan {
  const src = new Map(source.map((m) => [m.id, m]));
  const dst = new Map(dest.map((m) => [m.id, m]));
  const dbSource = source.filter(isDatabaseManifest);
  const copy: string[] = [];
  const present: string[] = [];
  const problems: CopyPlan['problems'] = [];
  const decided = new Set<string>();
  for (const id of want) {
    const m = src.get(id);
    if (!m) {
      problems.push({ id, reason: `${id} is not on the source target` });
      continue;
    }
    let members: AnyManifest[] = [m];
    if (isDatabaseManifest(m)) {
      const c = chainTo(dbSource as ArtifactManifest[], id);
      if ('problem' in c) {
        problems.push({ id, reason: `not copied: its chain is broken on the source (${c.problem.reason})` });
        continue;
      }
      members = c.chain;
    }
    const conflict = members.find((x) => dst.has(x.id) && storedDigest(dst.get(x.id)!) !== storedDigest(x));
    if (conflict) {
      problems.push({
        id,
        reason: `not copied: the destination holds ${conflict.id} with other bytes (a different backup under the same id) — inspect both before removing either`,
      });
      continue;
    }
    for (const x of members) {
      if (decided.has(x.id)) continue;
      decided.add(x.id);
      (dst.has(x.id) ? present : copy).push(x.id);
    }
  }
  return { copy, present, problems };
}

/**
 * What a tier promotes: the newest full (its chain is itself) and, for each control-plane
 * kind, the newest backup taken no later than a day after it — "that Sunday's full chain".
 * The full must be fresh (completed within `maxAgeMs` before `notAfter`): an older one means
 * the weekly full failed, and promoting last week's would hide that.
 */
export function promotionSet(
  source: readonly AnyManifest[],
  notAfter: string,
  maxAgeMs = 24 * 3600_000,
): { ids: string[]; problem: string | null } {
  const fulls = source.filter((m) => isDatabaseManifest(m) && m.kind === 'full' && m.completedAt <= notAfter);
  const full = fulls.at(-1);
  if (!full) return { ids: [], problem: `no full backup completed by ${notAfter} to promote` };
  if (Date.parse(notAfter) - Date.parse(full.completedAt) > maxAgeMs) {
    return {
      ids: [],
      problem: `the newest full backup (${full.id}, ${full.completedAt}) is older than ${maxAgeMs / 3600_000} h: the weekly full this promotion expects is missing — take it (osbackup schedules trigger weekly), then run the monthly tier again, or copy a chosen full with osbackup copy --id`,
    };
  }
  const out = [full.id];
  const limit = new Date(Date.parse(full.completedAt) + 24 * 3600_000).toISOString();
  const cp = source.filter(
    (m) =>
      m.component === 'control-plane' &&
      m.completedAt <= limit &&
      m.completedAt <= notAfter &&
      !('reason' in m && m.reason === 'pre-restore'),
  );
  const newest = cp.at(-1);
  if (newest) out.push(newest.id);
  return { ids: out, problem: null };
}
