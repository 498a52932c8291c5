// The catalog: an index over the repository's manifests and verification records, kept in
// <repository>/catalog/index.json for fast listing. The repository stays the truth: the
// index is rebuilt from it on demand, or whenever it is missing or unreadable.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { catalogEntry, type CatalogEntry } from '../../workflows/lib/catalog.js';
import { artifactDir, MANIFEST_FILE } from '../../workflows/lib/manifest.js';
import type { LocalRepository } from '../storage/local-repository.js';

export const INDEX_FILE = 'catalog/index.json';

interface IndexFile {
  formatVersion: 1;
  rebuiltAt: string;
  entries: CatalogEntry[];
}

export class Catalog {
  /** Index updates are read-modify-write: one at a time within a worker. */
  private queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly repo: LocalRepository) {}

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Scans every manifest and verification record and rewrites the index. */
  rebuild(): Promise<CatalogEntry[]> {
    return this.serial(() => this.rebuildNow());
  }

  private async rebuildNow(): Promise<CatalogEntry[]> {
    const entries: CatalogEntry[] = [];
    for (const m of await this.repo.scanManifests()) {
      entries.push(catalogEntry(m, await this.repo.readVerifications(artifactDir(m.cloud, m.component, m.id))));
    }
    await this.write(entries);
    return entries;
  }

  /**
   * The index, healed first: an entry whose manifest has gone (a folder deleted behind
   * osbackup's back, the seed's "catalog out of sync") triggers a rebuild from the repository.
   */
  async list(cloud?: string): Promise<CatalogEntry[]> {
    let entries = await this.read();
    if (entries) {
      for (const e of entries) {
        if (!(await this.repo.exists(join(this.repo.root, artifactDir(e.cloud, e.component, e.id), MANIFEST_FILE)))) {
          entries = undefined;
          break;
        }
      }
    }
    entries ??= await this.rebuild();
    return cloud ? entries.filter((e) => e.cloud === cloud) : entries;
  }

  /** Re-reads one artifact's manifest and records into the index (after a publish or a proof). */
  refresh(cloud: string, component: string, id: string): Promise<void> {
    return this.serial(() => this.refreshNow(cloud, component, id));
  }

  private async refreshNow(cloud: string, component: string, id: string): Promise<void> {
    const entries = await this.read();
    if (!entries) {
      await this.rebuildNow();
      return;
    }
    const rel = artifactDir(cloud, component, id);
    const m = await this.repo.readManifest(rel);
    const rest = entries.filter((e) => !(e.cloud === cloud && e.component === component && e.id === id));
    if (m) rest.push(catalogEntry(m, await this.repo.readVerifications(rel)));
    rest.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
    await this.write(rest);
  }

  private async read(): Promise<CatalogEntry[] | undefined> {
    try {
      const f = JSON.parse(await readFile(join(this.repo.root, INDEX_FILE), 'utf8')) as IndexFile;
      return f.formatVersion === 1 && Array.isArray(f.entries) ? f.entries : undefined;
    } catch {
      return undefined;
    }
  }

  private async write(entries: CatalogEntry[]): Promise<void> {
    const f: IndexFile = { formatVersion: 1, rebuiltAt: new Date().toISOString(), entries };
    await this.repo.writeAtomic(join(this.repo.root, INDEX_FILE), JSON.stringify(f, null, 2) + '\n');
  }
}
