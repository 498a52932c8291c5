// The catalog: an index over one target's manifests, verification records and check records,
// kept on that target under catalog/ for fast listing. The target stays the truth: the index is
// rebuilt from it on demand, and every row is read from it again whenever the index is
// missing, unreadable or of an older format.
//
// Several writers (workers on several sites, two workers on one task queue) update it at once,
// so nothing in it is read-modify-write of shared state:
// - refresh() writes only its own artifact's record: catalog/entries/<cloud>/<component>/<id>.json
//   (the entry and the basis it was derived from), or, for an artifact osbackup deleted, a
//   deletion record catalog/deleted/<cloud>/<component>/<id>.json. Each is one atomic object
//   write (temporary file + rename on folders, one PUT on S3); no conditional request is needed.
// - list() merges the snapshot catalog/index.json with those records and with the storage's
//   listing (core/catalog/merge.ts): an entry stands only while the storage still lists the
//   basis it was derived from, so a stale or lost cache is re-read, never believed. It then
//   rewrites the snapshot — anyone may, at any time, last writer wins — and deletes the records
//   it folded in once they are older than RECORD_GRACE_MS.
import { catalogEntry, type CatalogEntry } from '../../core/catalog/catalog.js';
import { basisOf, byStart, entryKey, keyOfDir, mergeCatalog, type Cached } from '../../core/catalog/merge.js';
import { artifactDir, MANIFEST_FILE, type CheckRecord, type VerificationRecord } from '../../core/manifest/manifest.js';
import { type AnyManifest } from '../../core/manifest/any-manifest.js';
import { byArtifactDir, readManifests, type StoredObject, type TargetStore } from '../storage/target.js';

export const INDEX_FILE = 'catalog/index.json';
const ENTRIES = 'catalog/entries/';
const DELETED = 'catalog/deleted/';

// 3: entries carry the basis they were derived from, updates are per-artifact records; an
// index of an older format is rebuilt on first read
const INDEX_FORMAT = 3;

/**
 * A listing that started before an entry record was written may still write a snapshot
 * without it: the record is kept this long after being folded in (far longer than a listing
 * takes), so such a snapshot never hides it for good.
 */
const RECORD_GRACE_MS = 15 * 60_000;
/**
 * Deletion records are kept a day: every snapshot written from a read older than the
 * deletion, and every stale entry record of the artifact, is long gone by then.
 */
const DELETED_KEEP_MS = 24 * 3600_000;
/** Requests in flight when reading many small objects (S3 answers each in milliseconds, one by one). */
const READ_WIDTH = 8;

interface IndexFile {
  formatVersion: typeof INDEX_FORMAT;
  writtenAt: string;
  entries: CatalogEntry[];
  /** By entry key: the basis each entry was derived from. */
  bases: Record<string, string>;
  /** Entry records already in this snapshot (still within their grace), by object key: their listing stamp. */
  folded: Record<string, string>;
}

interface EntryRecord {
  formatVersion: typeof INDEX_FORMAT;
  writtenAt: string;
  basis: string;
  entry: CatalogEntry;
}

interface DeletionRecord {
  formatVersion: typeof INDEX_FORMAT;
  deletedAt: string;
  cloud: string;
  component: string;
  id: string;
}

interface Snapshot {
  entries: Map<string, Cached>;
  folded: Record<string, string>;
}

const entryRecordKey = (key: string) => `${ENTRIES}${key}.json`;
const deletionRecordKey = (key: string) => `${DELETED}${key}.json`;
/** `<cloud>/<component>/<id>` of a record under `prefix`, if the object is one. */
const keyOfRecord = (prefix: string, objectKey: string) =>
  objectKey.startsWith(prefix) && objectKey.endsWith('.json') && objectKey.split('/').length === 5
    ? objectKey.slice(prefix.length, -'.json'.length)
    : undefined;
/** What identifies one version of a stored object in a listing. */
const stampOf = (o: StoredObject) => `${o.bytes} ${o.modifiedAt ?? ''}`;
const olderThan = (o: StoredObject, ms: number, now: number) => !!o.modifiedAt && now - Date.parse(o.modifiedAt) > ms;

async function pool<T, R>(items: readonly T[], width: number, work: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
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

/** The entry of one artifact folder as listed in `files`, with its basis; undefined without a valid manifest. */
async function derive(t: TargetStore, dir: string, files: StoredObject[]): Promise<Cached | undefined> {
  const found = (await readManifests(t, new Map([[dir, files]])))[0];
  if (!found) return undefined;
  const m: AnyManifest = found.manifest;
  const entry = catalogEntry(
    m,
    await records<VerificationRecord>(t, files, dir, 'verifications'),
    await records<CheckRecord>(t, files, dir, 'checks'),
    t.name,
  );
  return { entry, basis: basisOf(dir, files) };
}

/**
 * list() and rebuild() run one at a time per target within a worker, whichever Catalog object
 * asks (the activities' and the metrics collector's are different objects): not for
 * correctness — concurrent ones in other processes are safe — but so one worker does not
 * fold the same records twice at once.
 */
const queues = new Map<string, Promise<unknown>>();

/**
 * How long a merged listing made for a paged listing is kept after its last use. Every page
 * is its own activity; merging the target's whole catalog again for each would make listing
 * N rows cost N²/page-size. Pages after the first may reuse a listing made since the first
 * began (list()'s `madeSince`), so a paged listing shows the catalog of one moment.
 */
const LISTING_KEEP_MS = 60_000;
const listings = new Map<string, { entries: CatalogEntry[]; madeAt: number; drop: ReturnType<typeof setTimeout> }>();

function keepListing(key: string, entries: CatalogEntry[], madeAt: number): void {
  const kept = listings.get(key);
  if (kept && kept.madeAt > madeAt) return;
  if (kept) clearTimeout(kept.drop);
  const drop = setTimeout(() => listings.delete(key), LISTING_KEEP_MS);
  drop.unref();
  listings.set(key, { entries, madeAt, drop });
}

export class Catalog {
  constructor(private readonly target: TargetStore) {}

  private get key(): string {
    return `${this.target.type}:${this.target.location}`;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const key = this.key;
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
    // the records listed before the scan are all older than what the scan reads
    const before = await this.target.list('catalog/');
    const dirs = [...byArtifactDir(await this.target.list('clouds/'))];
    const entries = new Map<string, Cached>();
    for (const c of await pool(dirs, READ_WIDTH, ([dir, files]) => derive(this.target, dir, files)))
      if (c) entries.set(entryKey(c.entry), c);
    const sorted = await this.write(entries, {});
    await this.target.deleteKeys(
      before.map((o) => o.key).filter((k) => keyOfRecord(ENTRIES, k) ?? keyOfRecord(DELETED, k)),
    );
    return sorted;
  }

  /** What the catalog says should be there, without reading the storage (verify compares the two). */
  async stored(): Promise<CatalogEntry[] | undefined> {
    const listed = await this.target.list('catalog/');
    const snap = await this.readSnapshot();
    const { records } = await this.readRecords(listed, snap?.folded ?? {});
    if (!snap && !records.size) return undefined;
    const deleted = new Set(listed.map((o) => keyOfRecord(DELETED, o.key)).filter((k) => k !== undefined));
    const all = new Map([...(snap?.entries ?? []), ...records]);
    return [...all]
      .filter(([k]) => !deleted.has(k))
      .map(([, c]) => c.entry)
      .sort(byStart);
  }

  /**
   * The index, brought in step with the target first. A manifest the index lacks is added, an
   * entry whose folder changed since it was derived is read again. An entry whose manifest has
   * gone — a folder deleted behind osbackup's back, the seed's "catalog out of sync" — stays
   * listed as MISSING (with when that was seen), so a vanished backup is reported rather than
   * forgotten; `catalog rebuild` starts afresh from the storage. osbackup's own deletions
   * (retention) are forgotten through refresh()'s deletion records.
   *
   * `paged`: a page of a paged listing. The merged listing is kept a while, and reused when it
   * was made at or after `madeSince` (when the listing's first page began).
   */
  async list(cloud?: string, paged?: { madeSince: number }): Promise<CatalogEntry[]> {
    let entries: CatalogEntry[];
    const kept = paged && listings.get(this.key);
    if (kept && kept.madeAt >= paged.madeSince) {
      entries = kept.entries;
      keepListing(this.key, entries, kept.madeAt);
    } else {
      const madeAt = Date.now();
      entries = await this.serial(() => this.reconcile());
      if (paged) keepListing(this.key, entries, madeAt);
    }
    return entries.filter((e) => !cloud || e.cloud === cloud);
  }

  private async reconcile(): Promise<CatalogEntry[]> {
    // Order matters: the records are listed before the snapshot is read, and the snapshot
    // again after a record that vanished under us. A record is deleted only after a snapshot
    // holding it was written, so whatever is not found in one place is found in the other.
    // No snapshot, or one of an older format (rows without a basis): every row is read again
    // from the storage, and the records still count — what was MISSING or deleted stays so.
    const listed = await this.target.list('catalog/');
    let snap = (await this.readSnapshot()) ?? { entries: new Map(), folded: {} };
    const { records, vanished } = await this.readRecords(listed, snap.folded);
    if (vanished) snap = (await this.readSnapshot()) ?? snap;
    const deletions = listed.filter((o) => keyOfRecord(DELETED, o.key) !== undefined);
    const deleted = new Set(deletions.map((o) => keyOfRecord(DELETED, o.key)!));

    const dirs = new Map(
      [...byArtifactDir(await this.target.list('clouds/'))].filter(([dir, files]) =>
        files.some((f) => f.key === `${dir}/${MANIFEST_FILE}`),
      ),
    );
    const storage = new Map([...dirs].map(([dir, files]) => [keyOfDir(dir), basisOf(dir, files)]));
    const now = new Date();
    const merged = mergeCatalog({ snapshot: snap.entries, records, deleted, storage, now: now.toISOString() });
    const derived = await pool(merged.stale, READ_WIDTH, (key) => {
      const dir = `clouds/${key}`;
      return derive(this.target, dir, dirs.get(dir)!);
    });
    merged.stale.forEach((key, i) => {
      // a torn or foreign manifest is no backup; an entry already known for the folder stays
      const c =
        derived[i] ??
        [records.get(key), snap.entries.get(key)].find((x) => x !== undefined && x.entry.check !== 'MISSING');
      if (c) merged.entries.set(key, c);
    });

    const nowMs = now.getTime();
    const entryRecords = listed.filter((o) => keyOfRecord(ENTRIES, o.key) !== undefined);
    // Every record listed is now in the snapshot: in the one written here, or — when nothing
    // had to be read — in the one read. The old ones go; the young ones are skipped next time.
    const young = entryRecords.filter((o) => !olderThan(o, RECORD_GRACE_MS, nowMs));
    const sorted =
      merged.changed || records.size
        ? await this.write(merged.entries, Object.fromEntries(young.map((o) => [o.key, stampOf(o)])))
        : [...merged.entries.values()].map((c) => c.entry).sort(byStart);
    const retire = entryRecords.filter((o) => olderThan(o, RECORD_GRACE_MS, nowMs));
    retire.push(
      ...deletions.filter((o) => {
        // a deleted artifact back on the storage (a folder restored by hand) is no longer deleted
        const back = storage.has(keyOfRecord(DELETED, o.key)!) && olderThan(o, RECORD_GRACE_MS, nowMs);
        return back || olderThan(o, DELETED_KEEP_MS, nowMs);
      }),
    );
    if (retire.length) await this.target.deleteKeys(retire.map((o) => o.key));
    return sorted;
  }

  /** Re-reads one artifact's manifest and records into the catalog (after a publish, a proof, a check or a deletion). */
  refresh(cloud: string, component: string, id: string): Promise<void> {
    return this.refreshNow(cloud, [{ component, id }], true);
  }

  /**
   * refresh() for many artifacts of one cloud (a scrub's batch). An artifact whose manifest has
   * gone is not forgotten (list() marks it MISSING): a scrub reports a loss, it does not forget
   * it the way osbackup's own deletions do.
   */
  refreshMany(cloud: string, artifacts: readonly { component: string; id: string }[]): Promise<void> {
    return this.refreshNow(cloud, artifacts, false);
  }

  /** refresh() for many artifacts osbackup itself deleted or published (a compaction's pieces). */
  refreshOwn(cloud: string, artifacts: readonly { component: string; id: string }[]): Promise<void> {
    return this.refreshNow(cloud, artifacts, true);
  }

  private async refreshNow(
    cloud: string,
    artifacts: readonly { component: string; id: string }[],
    forgetVanished: boolean,
  ): Promise<void> {
    await pool(artifacts, 4, async ({ component, id }) => {
      const dir = artifactDir(cloud, component, id);
      const key = keyOfDir(dir);
      const files = await this.target.list(`${dir}/`);
      const c = await derive(this.target, dir, files);
      const now = new Date().toISOString();
      if (c) {
        const r: EntryRecord = { formatVersion: INDEX_FORMAT, writtenAt: now, basis: c.basis, entry: c.entry };
        await this.target.putText(entryRecordKey(key), JSON.stringify(r) + '\n');
      } else if (forgetVanished && !files.some((f) => f.key === `${dir}/${MANIFEST_FILE}`)) {
        const r: DeletionRecord = { formatVersion: INDEX_FORMAT, deletedAt: now, cloud, component, id };
        await this.target.putText(deletionRecordKey(key), JSON.stringify(r) + '\n');
      }
    });
  }

  /** The entry records listed that the snapshot does not already hold; `vanished` when one was gone when read. */
  private async readRecords(
    listed: StoredObject[],
    folded: Record<string, string>,
  ): Promise<{ records: Map<string, Cached>; vanished: boolean }> {
    const wanted = listed.filter((o) => keyOfRecord(ENTRIES, o.key) !== undefined && folded[o.key] !== stampOf(o));
    let vanished = false;
    const read = await pool(wanted, READ_WIDTH, async (o) => {
      const text = await this.target.readText(o.key);
      if (text === undefined) vanished = true;
      try {
        const r = JSON.parse(text ?? '') as EntryRecord;
        return r.formatVersion === INDEX_FORMAT && r.entry && typeof r.basis === 'string'
          ? { key: keyOfRecord(ENTRIES, o.key)!, cached: { entry: r.entry, basis: r.basis } }
          : undefined;
      } catch {
        return undefined; // torn or foreign: the folder is read instead
      }
    });
    return { records: new Map(read.filter((r) => r !== undefined).map((r) => [r.key, r.cached])), vanished };
  }

  private async readSnapshot(): Promise<Snapshot | undefined> {
    try {
      const f = JSON.parse((await this.target.readText(INDEX_FILE)) ?? '') as Partial<IndexFile> & {
        formatVersion?: number;
      };
      if (!Array.isArray(f.entries)) return undefined;
      // an index of an older format names what was there but carries no bases: no row of it is believed
      const bases = f.formatVersion === INDEX_FORMAT ? (f.bases ?? {}) : {};
      return {
        entries: new Map(f.entries.map((e) => [entryKey(e), { entry: e, basis: bases[entryKey(e)] ?? '' }])),
        folded: f.formatVersion === INDEX_FORMAT ? (f.folded ?? {}) : {},
      };
    } catch {
      return undefined;
    }
  }

  private async write(entries: Map<string, Cached>, folded: Record<string, string>): Promise<CatalogEntry[]> {
    const sorted = [...entries.values()].sort((a, b) => byStart(a.entry, b.entry));
    const f: IndexFile = {
      formatVersion: INDEX_FORMAT,
      writtenAt: new Date().toISOString(),
      entries: sorted.map((c) => c.entry),
      bases: Object.fromEntries(sorted.map((c) => [entryKey(c.entry), c.basis])),
      folded,
    };
    await this.target.putText(INDEX_FILE, JSON.stringify(f, null, 2) + '\n');
    return f.entries;
  }
}
