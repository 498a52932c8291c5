// The catalog: an index over one target's manifests, verification records and check records,
// kept on that target in catalog/index.json for fast listing. The target stays the truth: the
// index is rebuilt from it on demand, or whenever it is missing, unreadable or out of date.
import { catalogEntry, type CatalogEntry } from '../../core/catalog/catalog.js';
import { artifactDir, MANIFEST_FILE, type CheckRecord, type VerificationRecord } from '../../core/manifest/manifest.js';
import { type AnyManifest } from '../../core/manifest/any-manifest.js';
import {
  byArtifactDir,
  readManifests,
  scanTargetManifests,
  type StoredObject,
  type TargetStore,
} from '../storage/target.js';

export const INDEX_FILE = 'catalog/index.json';

// 2: entries carry workflowId and binlogSpan; an index of format 1 is rebuilt on first read
const INDEX_FORMAT = 2;

interface IndexFile {
  formatVersion: typeof INDEX_FORMAT;
  rebuiltAt: string;
  entries: CatalogEntry[];
}

/** Records (verifications/ or checks/) of one artifact folder, oldest first; torn ones are ignored. */
async function records<T>(
  t: TargetStore,
  files: StoredObject[],
  dir: string,
  sub: 'verifications' | 'checks',
): Promise<T[]> {
  const keys = files
    .map((f) => f.key)
    .filter((k) => k.startsWith(`${dir}/${sub}/`) && k.endsWith('.json'))
    .sort();
  const out: T[] = [];
  for (const k of keys) {
    try {
      out.push(JSON.parse((await t.readText(k)) ?? '') as T);
    } catch {
      /* a torn record is ignored; the next run writes a new one */
    }
  }
  return out;
}

async function entryFor(t: TargetStore, m: AnyManifest, files: StoredObject[]): Promise<CatalogEntry> {
  const dir = artifactDir(m.cloud, m.component, m.id);
  return catalogEntry(
    m,
    await records<VerificationRecord>(t, files, dir, 'verifications'),
    await records<CheckRecord>(t, files, dir, 'checks'),
    t.name,
  );
}

/**
 * Index updates are read-modify-write: one at a time per target within a worker, whichever
 * Catalog object asks (the activities' and the metrics collector's are different objects).
 */
const queues = new Map<string, Promise<unknown>>();

export class Catalog {
  constructor(private readonly target: TargetStore) {}

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const key = `${this.target.type}:${this.target.location}`;
    const next = (queues.get(key) ?? Promise.resolve()).then(work, work);
    queues.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Scans every manifest and record on the target and rewrites the index (forgetting vanished entries). */
  rebuild(): Promise<CatalogEntry[]> {
    return this.serial(() => this.rebuildNow());
  }

  private async rebuildNow(): Promise<CatalogEntry[]> {
    const entries: CatalogEntry[] = [];
    for (const { manifest, files } of await scanTargetManifests(this.target))
      entries.push(await entryFor(this.target, manifest, files));
    await this.write(entries);
    return entries;
  }

  /** The index as stored, without healing (verify compares it with the storage). */
  async stored(): Promise<CatalogEntry[] | undefined> {
    return this.read();
  }

  /**
   * The index, brought in step with the target first. A manifest the index lacks is added. An
   * entry whose manifest has gone — a folder deleted behind osbackup's back, the seed's
   * "catalog out of sync" — stays listed as MISSING (with when that was seen), so a vanished
   * backup is reported rather than forgotten; `catalog rebuild` starts afresh from the storage.
   * osbackup's own deletions (retention) remove their entries through refresh().
   */
  async list(cloud?: string): Promise<CatalogEntry[]> {
    const entries = await this.serial(() => this.reconcile());
    return cloud ? entries.filter((e) => e.cloud === cloud) : entries;
  }

  private async reconcile(): Promise<CatalogEntry[]> {
    const entries = await this.read();
    if (!entries) return this.rebuildNow();
    const objects = await this.target.list('clouds/');
    const manifests = new Set(objects.map((o) => o.key).filter((k) => k.endsWith(`/${MANIFEST_FILE}`)));
    const keyOf = (e: CatalogEntry) => `${artifactDir(e.cloud, e.component, e.id)}/${MANIFEST_FILE}`;
    const indexed = new Set(entries.map(keyOf));
    let changed = false;
    const now = new Date().toISOString();
    for (const e of entries) {
      if (!manifests.has(keyOf(e)) && e.check !== 'MISSING') {
        e.check = 'MISSING';
        e.lastCheckedAt = now;
        changed = true;
      } else if (manifests.has(keyOf(e)) && e.check === 'MISSING') {
        // it came back (a folder restored by hand): read it afresh below
        indexed.delete(keyOf(e));
      }
    }
    // only the folders the index lacks are read, from the listing already in hand
    const dirs = byArtifactDir(objects);
    for (const dir of [...dirs.keys()]) if (indexed.has(`${dir}/${MANIFEST_FILE}`)) dirs.delete(dir);
    for (const x of await readManifests(this.target, dirs)) {
      const k = `${artifactDir(x.manifest.cloud, x.manifest.component, x.manifest.id)}/${MANIFEST_FILE}`;
      const i = entries.findIndex((e) => keyOf(e) === k);
      const entry = await entryFor(this.target, x.manifest, x.files);
      if (i >= 0) entries[i] = entry;
      else entries.push(entry);
      changed = true;
    }
    if (changed) {
      entries.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
      await this.write(entries);
    }
    return entries;
  }

  /** Re-reads one artifact's manifest and records into the index (after a publish, a proof, a check or a deletion). */
  refresh(cloud: string, component: string, id: string): Promise<void> {
    return this.serial(() => this.refreshNow(cloud, [{ component, id }], true));
  }

  /**
   * refresh() for many artifacts of one cloud (a scrub's batch), the index read and written once.
   * An entry whose manifest has gone is kept (list() marks it MISSING): a scrub reports a loss, it
   * does not forget it the way osbackup's own deletions do.
   */
  refreshMany(cloud: string, artifacts: readonly { component: string; id: string }[]): Promise<void> {
    return this.serial(() => this.refreshNow(cloud, artifacts, false));
  }

  /** refresh() for many artifacts osbackup itself deleted or published (a compaction's pieces), the index read and written once. */
  refreshOwn(cloud: string, artifacts: readonly { component: string; id: string }[]): Promise<void> {
    return this.serial(() => this.refreshNow(cloud, artifacts, true));
  }

  private async refreshNow(
    cloud: string,
    artifacts: readonly { component: string; id: string }[],
    forgetVanished: boolean,
  ): Promise<void> {
    const entries = await this.read();
    if (!entries) {
      await this.rebuildNow();
      return;
    }
    const wanted = new Set(artifacts.map((a) => `${a.component}\u0000${a.id}`));
    const rest = entries.filter((e) => !(e.cloud === cloud && wanted.has(`${e.component}\u0000${e.id}`)));
    for (const { component, id } of artifacts) {
      const dir = artifactDir(cloud, component, id);
      const files = await this.target.list(`${dir}/`);
      const text = files.some((f) => f.key === `${dir}/${MANIFEST_FILE}`)
        ? await this.target.readText(`${dir}/${MANIFEST_FILE}`)
        : undefined;
      if (text) rest.push(await entryFor(this.target, JSON.parse(text) as AnyManifest, files));
      else if (!forgetVanished)
        rest.push(...entries.filter((e) => e.cloud === cloud && e.component === component && e.id === id));
    }
    rest.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
    await this.write(rest);
  }

  private async read(): Promise<CatalogEntry[] | undefined> {
    try {
      const f = JSON.parse((await this.target.readText(INDEX_FILE)) ?? '') as IndexFile;
      return f.formatVersion === INDEX_FORMAT && Array.isArray(f.entries) ? f.entries : undefined;
    } catch {
      return undefined;
    }
  }

  private async write(entries: CatalogEntry[]): Promise<void> {
    const f: IndexFile = { formatVersion: INDEX_FORMAT, rebuiltAt: new Date().toISOString(), entries };
    await this.target.putText(INDEX_FILE, JSON.stringify(f, null, 2) + '\n');
  }
}
