// Backup chains: a full backup and the incrementals that build on it, each starting at the
// LSN where its parent ended. Pure logic, shared by workflows, activities and the client.
import type { ArtifactManifest } from '../manifest/manifest.js';

export interface ChainProblem {
  id: string;
  reason: string;
}

/** What a chain walk reads of a manifest: callers holding only catalog-sized summaries (verify) pass those. */
export interface ChainLink {
  id: string;
  cloud: string;
  kind: string;
  parentId: string | null;
  mariadb: { checkpoints: { fromLsn: string; toLsn: string } };
}

/** The members from the full backup to `id`, oldest first — or the first reason it is unusable. */
export function chainTo<M extends ChainLink = ArtifactManifest>(
  manifests: readonly M[],
  id: string,
): { chain: M[] } | { problem: ChainProblem } {
  const byId = new Map(manifests.map((m) => [m.id, m]));
  const chain: M[] = [];
  const seen = new Set<string>();
  let cur = byId.get(id);
  if (!cur) return { problem: { id, reason: `backup ${id} is not in the repository` } };
  for (;;) {
    if (seen.has(cur.id)) return { problem: { id: cur.id, reason: `backup ${cur.id} is part of a cycle of parents` } };
    seen.add(cur.id);
    chain.unshift(cur);
    if (cur.kind === 'full') break;
    if (!cur.parentId) return { problem: { id: cur.id, reason: `incremental ${cur.id} names no parent` } };
    const parent = byId.get(cur.parentId);
    if (!parent)
      return {
        problem: {
          id: cur.id,
          reason: `incremental ${cur.id} needs ${cur.parentId}, which is missing from the repository`,
        },
      };
    if (parent.mariadb.checkpoints.toLsn !== cur.mariadb.checkpoints.fromLsn) {
      return {
        problem: {
          id: cur.id,
          reason: `incremental ${cur.id} starts at LSN ${cur.mariadb.checkpoints.fromLsn} but its parent ${parent.id} ends at ${parent.mariadb.checkpoints.toLsn}`,
        },
      };
    }
    if (parent.cloud !== cur.cloud)
      return { problem: { id: cur.id, reason: `incremental ${cur.id} names a parent of another cloud` } };
    cur = parent;
  }
  return { chain };
}

const byTime = (a: ArtifactManifest, b: ArtifactManifest) =>
  a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id);

/**
 * The base for the next incremental: the newest database backup whose chain is intact and
 * not marked corrupt. Returns why none qualifies otherwise.
 */
export function incrementalBase(
  manifests: ArtifactManifest[],
  corrupt: ReadonlySet<string> = new Set(),
): { base: ArtifactManifest } | { problem: string } {
  const db = manifests
    .filter((m) => m.component === 'database')
    .sort(byTime)
    .reverse();
  if (db.length === 0) return { problem: 'there is no full backup to build on' };
  const skipped: string[] = [];
  for (const m of db) {
    const r = chainTo(manifests, m.id);
    if ('chain' in r && !r.chain.some((c) => corrupt.has(c.id))) return { base: m };
    skipped.push('problem' in r ? r.problem.reason : `${m.id}'s chain holds a corrupt artifact`);
  }
  return { problem: `no backup has an intact chain (${skipped.slice(0, 3).join('; ')})` };
}

/** The newest restore point whose whole chain is intact and avoids `corrupt`, if any. */
export function newestIntactRestorePoint(manifests: ArtifactManifest[], corrupt: ReadonlySet<string>): string | null {
  const r = incrementalBase(manifests, corrupt);
  return 'base' in r ? r.base.id : null;
}
