// The pre-upgrade gate's verdict: is there, right now, a restore point fresh enough to undo
// an upgrade with — the database and the control plane, re-read from storage (CHECKED), and
// when asked, proven by a real restore (VERIFIED)? Pure: the rows come from the catalog.
import type { CatalogEntry } from '../catalog/catalog.js';

export interface GateInput {
  rows: CatalogEntry[];
  /** Check outcomes of this run, newer than the catalog may know. */
  checked: Record<string, string>;
  now: string;
  maxAgeMinutes: number;
  prove: boolean;
  /** False when the cloud configures no control-plane part (then none is required). */
  controlPlaneRequired: boolean;
}

export interface GateVerdict {
  ok: boolean;
  database: string | null;
  controlPlane: string | null;
  /** Why the gate is closed; empty when open. */
  problems: string[];
}

const newest = (rows: CatalogEntry[]) =>
  [...rows].sort((a, b) => b.completedAt.localeCompare(a.completedAt))[0] ?? null;

export function gateVerdict(g: GateInput): GateVerdict {
  const since = new Date(Date.parse(g.now) - g.maxAgeMinutes * 60_000).toISOString();
  const fresh = g.rows.filter((r) => r.completedAt >= since);
  const checked = (r: CatalogEntry) => (g.checked[r.id] ?? r.check) === 'CHECKED';
  const problems: string[] = [];

  // A full: an incremental would also need its parents re-read; the preflight takes a full anyway.
  const dbFresh = fresh.filter((r) => r.component === 'database' && r.kind === 'full');
  const db = newest(dbFresh.filter((r) => checked(r) && (!g.prove || r.verification === 'VERIFIED')));
  if (!db) {
    if (!dbFresh.length) problems.push(`no full database backup completed since ${since} (${g.maxAgeMinutes} min)`);
    else if (!dbFresh.some(checked))
      problems.push(
        `the database backups since ${since} were not re-read intact from storage (not CHECKED): ${dbFresh.map((r) => `${r.id} ${g.checked[r.id] ?? r.check}`).join(', ')}`,
      );
    else
      problems.push(
        `no database backup since ${since} has been proven by a restore (VERIFIED): ${dbFresh.map((r) => `${r.id} ${r.verification}`).join(', ')}`,
      );
  }
  const cpFresh = fresh.filter((r) => r.component === 'control-plane');
  const cp = newest(cpFresh.filter(checked));
  if (!cp && g.controlPlaneRequired)
    problems.push(
      cpFresh.length
        ? `the control-plane backups since ${since} were not re-read intact (not CHECKED)`
        : `no control-plane backup completed since ${since}`,
    );
  return { ok: problems.length === 0, database: db?.id ?? null, controlPlane: cp?.id ?? null, problems };
}
