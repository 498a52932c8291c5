// Several workers updating one target's catalog at once, on a real store. Each worker is a
// Catalog over its own GatedStore: the store itself, seen under another location (so every
// per-process queue keyed by the target's location treats the workers as separate processes)
// whose first catalog write waits until every worker has reached its own first catalog write.
// That is the race point of a read-modify-write index: each worker has read what it will
// rewrite, none has written yet.
import { Readable } from 'node:stream';
import { Catalog } from '../../activities/catalog/catalog.js';
import type { StoredObject, TargetStore } from '../../activities/storage/target.js';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { artifactDir, checkRecordKey, MANIFEST_FILE, type ArtifactManifest } from '../../core/manifest/manifest.js';

/** Releases everyone once `parties` have arrived, or after `timeoutMs` (a design that never meets there). */
export class Rendezvous {
  private arrived = 0;
  private release!: () => void;
  private readonly all = new Promise<void>((r) => (this.release = r));
  /** Set when the rendezvous gave up waiting: the workers did not all reach the race point. */
  timedOut = false;
  constructor(
    private readonly parties: number,
    private readonly timeoutMs = 3000,
  ) {}
  private waiters: { n: number; resolve: () => void }[] = [];
  /** Resolves once `n` parties are waiting (to start the others only after one has read everything). */
  reached(n: number): Promise<void> {
    return new Promise((resolve) => (this.arrived >= n ? resolve() : this.waiters.push({ n, resolve })));
  }
  arrive(): Promise<void> {
    if (++this.arrived >= this.parties) this.release();
    for (const w of this.waiters) if (this.arrived >= w.n) w.resolve();
    const timer = setTimeout(() => {
      this.timedOut = true;
      this.release();
    }, this.timeoutMs);
    return this.all.finally(() => clearTimeout(timer));
  }
}

/** A real store, delegated to in full; only the first write under catalog/ waits at the rendezvous. */
export class GatedStore implements TargetStore {
  readonly location: string;
  private gated = false;
  constructor(
    private readonly t: TargetStore,
    private readonly gate: Rendezvous,
    worker: string,
  ) {
    this.location = `${t.location} (as seen by ${worker})`;
  }
  get name() {
    return this.t.name;
  }
  get type() {
    return this.t.type;
  }
  get retention() {
    return this.t.retention;
  }
  private async before(keys: string[]): Promise<void> {
    if (this.gated || !keys.some((k) => k.startsWith('catalog/'))) return;
    this.gated = true;
    await this.gate.arrive();
  }
  checkWritable() {
    return this.t.checkWritable();
  }
  list(prefix: string) {
    return this.t.list(prefix);
  }
  stat(key: string) {
    return this.t.stat(key);
  }
  openRead(key: string, signal?: AbortSignal) {
    return this.t.openRead(key, signal);
  }
  readText(key: string) {
    return this.t.readText(key);
  }
  async putStream(key: string, source: Readable, opts?: Parameters<TargetStore['putStream']>[2]) {
    await this.before([key]);
    return this.t.putStream(key, source, opts);
  }
  async putText(key: string, text: string) {
    await this.before([key]);
    return this.t.putText(key, text);
  }
  async deleteKeys(keys: string[]) {
    await this.before(keys);
    return this.t.deleteKeys(keys);
  }
  collectPartials(olderThanMs: number) {
    return this.t.collectPartials(olderThanMs);
  }
  capacity() {
    return this.t.capacity();
  }
  close() {}
}

/** `n` workers over one store, meeting at their first catalog write. */
export function workers(t: TargetStore, n: number): { catalogs: Catalog[]; gate: Rendezvous } {
  const gate = new Rendezvous(n);
  return { gate, catalogs: Array.from({ length: n }, (_, i) => new Catalog(new GatedStore(t, gate, `worker ${i}`))) };
}

export function manifest(cloud: string, id: string, startedAt: string): ArtifactManifest {
  return {
    id,
    cloud,
    component: 'database',
    kind: 'full',
    parentId: null,
    startedAt,
    completedAt: startedAt,
    source: { host: 'ctl1' },
    artifact: { file: 'data.xb.zst.gpg', bytes: 3, sha256: 'ab'.repeat(32), streamBytes: 9 },
    mariadb: { checkpoints: { fromLsn: '0', toLsn: '10' }, binlog: null },
  } as unknown as ArtifactManifest;
}

/** What a backup leaves: its data, then its manifest (last, as every writer does). */
export async function publish(t: TargetStore, m: ArtifactManifest): Promise<void> {
  const dir = artifactDir(m.cloud, m.component, m.id);
  await t.putText(`${dir}/data.xb.zst.gpg`, 'xyz');
  await t.putText(`${dir}/${MANIFEST_FILE}`, JSON.stringify(m));
}

/** What a scrub leaves beside a manifest it re-read. */
export async function writeCheck(
  t: TargetStore,
  m: ArtifactManifest,
  result: 'CHECKED' | 'CORRUPT',
  checkedAt: string,
): Promise<void> {
  await t.putText(
    checkRecordKey(m.cloud, m.component, m.id, checkedAt),
    JSON.stringify({
      formatVersion: 1,
      backupId: m.id,
      cloud: m.cloud,
      component: m.component,
      target: t.name,
      checkedAt,
      workflowId: 'scrub',
      result,
      files: [],
    }),
  );
}

/** What retention does: every object of the artifact's folder deleted. */
export async function deleteArtifact(t: TargetStore, m: ArtifactManifest): Promise<void> {
  const files: StoredObject[] = await t.list(`${artifactDir(m.cloud, m.component, m.id)}/`);
  await t.deleteKeys(files.map((f) => f.key));
}

export function rowsOf(entries: CatalogEntry[], cloud: string): [string, string][] {
  return entries.filter((e) => e.cloud === cloud).map((e) => [e.id, e.check]);
}

/**
 * The lost update: worker 0 scrubs X (a check record, then refreshMany), worker 1 deletes Y
 * as retention does (then refresh, which forgets it), worker 2 publishes Z; all three are held
 * at their first catalog write until each has read what it needs. Returns what a fresh
 * worker then lists for the cloud: X CHECKED, Y gone, Z present is the only right answer.
 */
export async function publishCheckDeleteAtOnce(t: TargetStore, cloud: string): Promise<[string, string][]> {
  const x = manifest(cloud, 'db-full-x', '2026-11-01T00:00:00Z');
  const y = manifest(cloud, 'db-full-y', '2026-11-02T00:00:00Z');
  const z = manifest(cloud, 'db-full-z', '2026-11-03T00:00:00Z');
  await publish(t, x);
  await publish(t, y);
  expect(rowsOf(await new Catalog(t).rebuild(), cloud)).toEqual([
    ['db-full-x', 'UNCHECKED'],
    ['db-full-y', 'UNCHECKED'],
  ]);
  const { catalogs, gate } = workers(t, 3);
  await Promise.all([
    (async () => {
      await writeCheck(t, x, 'CHECKED', '2026-11-04T00:00:00.000Z');
      await catalogs[0]!.refreshMany(cloud, [{ component: 'database', id: x.id }]);
    })(),
    (async () => {
      await deleteArtifact(t, y);
      await catalogs[1]!.refresh(cloud, 'database', y.id);
    })(),
    (async () => {
      await publish(t, z);
      await catalogs[2]!.refresh(cloud, 'database', z.id);
    })(),
  ]);
  // the workers met at the race point: the test exercised what it claims to
  expect(gate.timedOut).toBe(false);
  return rowsOf(await new Catalog(t).list(), cloud);
}

/**
 * A listing that rewrites the snapshot (worker 0: a new artifact W to add) has read everything
 * and is held before its write; only then does worker 1 delete Y (retention) and worker 2
 * scrub X. All three writes land after all three reads, in any order. Returns what a fresh
 * worker lists: X CHECKED, Y gone, W present.
 */
export async function compactWhileOthersWrite(t: TargetStore, cloud: string): Promise<[string, string][]> {
  const x = manifest(cloud, 'db-full-x', '2026-11-01T00:00:00Z');
  const y = manifest(cloud, 'db-full-y', '2026-11-02T00:00:00Z');
  const w = manifest(cloud, 'db-full-w', '2026-11-03T00:00:00Z');
  await publish(t, x);
  await publish(t, y);
  await new Catalog(t).rebuild();
  await publish(t, w);
  const { catalogs, gate } = workers(t, 3);
  const listing = catalogs[0]!.list(cloud);
  await gate.reached(1);
  await Promise.all([
    (async () => {
      await deleteArtifact(t, y);
      await catalogs[1]!.refresh(cloud, 'database', y.id);
    })(),
    (async () => {
      await writeCheck(t, x, 'CHECKED', '2026-11-04T00:00:00.000Z');
      await catalogs[2]!.refreshMany(cloud, [{ component: 'database', id: x.id }]);
    })(),
  ]);
  // what the held listing returns is what it read: all three, none checked
  expect(rowsOf(await listing, cloud)).toEqual([
    ['db-full-x', 'UNCHECKED'],
    ['db-full-y', 'UNCHECKED'],
    ['db-full-w', 'UNCHECKED'],
  ]);
  expect(gate.timedOut).toBe(false);
  return rowsOf(await new Catalog(t).list(), cloud);
}
