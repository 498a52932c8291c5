// How the catalog stays right with several writers: every cached entry carries the basis it
// was derived from — a fingerprint of its folder's manifest and records as the storage lists
// them — and an entry is used only while the storage still lists that basis. Caches (the
// snapshot, per-artifact entry records) can then be stale, lost or overwritten in any order
// without the catalog ever saying something the storage does not: a cache that does not match
// is re-derived from the folder. What the storage cannot tell — that osbackup deleted an
// artifact (forget it) rather than someone behind its back (MISSING) — is a deletion record
// of its own, written by the deleter and never overwritten by anyone else.
import type { CatalogEntry } from './catalog.js';

/** One object of a listing, as much of it as the basis needs. */
export interface ListedFile {
  key: string;
  bytes: number;
  modifiedAt: string | null;
}

/** An entry and the basis it was derived from. */
export interface Cached {
  entry: CatalogEntry;
  basis: string;
}

/** `<cloud>/<component>/<id>`: an artifact's key in the catalog (its folder under clouds/). */
export function entryKey(e: { cloud: string; component: string; id: string }): string {
  return `${e.cloud}/${e.component}/${e.id}`;
}

/** The key of an artifact folder `clouds/<cloud>/<component>/<id>`. */
export function keyOfDir(dir: string): string {
  return dir.slice('clouds/'.length);
}

/** cyrb53: a 53-bit string hash, enough to tell two folder states apart. */
function hash53(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * The basis of an artifact folder: what its catalog entry is derived from — the manifest
 * (size and time: a rewritten manifest is another basis) and the names and sizes of its
 * verification and check records (each written once under a new, time-ordered name).
 */
export function basisOf(dir: string, files: readonly ListedFile[]): string {
  const manifest = `${dir}/manifest.json`;
  const parts: string[] = [];
  for (const f of files) {
    const rel = f.key.slice(dir.length + 1);
    if (f.key === manifest) parts.push(`m ${f.bytes} ${f.modifiedAt ?? ''}`);
    else if (/^(verifications|checks)\/[^/]+\.json$/.test(rel)) parts.push(`${rel} ${f.bytes}`);
  }
  return hash53(parts.sort().join('\n'));
}

export interface MergeInput {
  /** The snapshot (catalog/index.json) as read. */
  snapshot: ReadonlyMap<string, Cached>;
  /** Per-artifact entry records that are not already in the snapshot. */
  records: ReadonlyMap<string, Cached>;
  /** Keys with a deletion record: artifacts osbackup deleted. */
  deleted: ReadonlySet<string>;
  /** Every artifact folder with a manifest, by key, with its current basis. */
  storage: ReadonlyMap<string, string>;
  /** When a vanished artifact is first seen missing. */
  now: string;
}

export interface MergeResult {
  /** Entries that stand, by key (those in `stale` are not yet among them). */
  entries: Map<string, Cached>;
  /** Keys whose folder must be read again: no cache matches what the storage lists. */
  stale: string[];
  /** Whether the snapshot differs from `entries` (once the stale ones are read, it always does). */
  changed: boolean;
}

/**
 * The catalog as the storage says it is, from whatever caches were found. An artifact the
 * storage lists is a cache whose basis matches (never a MISSING one), else stale. One it
 * does not list is dropped when osbackup deleted it, else kept as MISSING from `now` on.
 */
export function mergeCatalog(input: MergeInput): MergeResult {
  const { snapshot, records, deleted, storage, now } = input;
  const entries = new Map<string, Cached>();
  const stale: string[] = [];
  let changed = false;
  for (const [key, basis] of storage) {
    const fresh = [records.get(key), snapshot.get(key)].find(
      (c) => c && c.basis === basis && c.entry.check !== 'MISSING',
    );
    if (!fresh) {
      stale.push(key);
      continue;
    }
    entries.set(key, fresh);
    const s = snapshot.get(key);
    if (!s || s.basis !== basis || s.entry.check === 'MISSING') changed = true;
  }
  for (const key of new Set([...snapshot.keys(), ...records.keys()])) {
    if (storage.has(key)) continue;
    const s = snapshot.get(key);
    if (deleted.has(key)) {
      if (s) changed = true;
      continue;
    }
    const known = s ?? records.get(key)!;
    if (known.entry.check === 'MISSING') {
      entries.set(key, known);
      if (!s) changed = true;
    } else {
      entries.set(key, { basis: known.basis, entry: { ...known.entry, check: 'MISSING', lastCheckedAt: now } });
      changed = true;
    }
  }
  return { entries, stale, changed: changed || stale.length > 0 };
}

/** What places a row in catalog order: never changes for an artifact (its manifest's). */
export type StartKey = Pick<CatalogEntry, 'startedAt' | 'id' | 'cloud' | 'component'>;

/**
 * Catalog order: oldest first, then by id; cloud and component only tell apart rows that share
 * both, so the order is total and a page cursor (core/catalog/page.ts) places every row.
 */
export function byStart(a: StartKey, b: StartKey): number {
  return (
    a.startedAt.localeCompare(b.startedAt) ||
    a.id.localeCompare(b.id) ||
    a.cloud.localeCompare(b.cloud) ||
    a.component.localeCompare(b.component)
  );
}
