// A repository on local disk (or an NFS-mounted path). Artifacts are staged under .staging/,
// checked, then moved into place; the manifest is written last, so a folder without a
// manifest is never a backup — only garbage to collect. Folders 0700, files 0600.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertMounted } from './target.js';
import {
  FACTS_FILE,
  MANIFEST_FILE,
  type ReferenceFacts,
  type VerificationRecord,
} from '../../core/manifest/manifest.js';
import { type AnyManifest } from '../../core/manifest/any-manifest.js';
import { assertHeartbeated } from '../heartbeat.js';
import { fsFailure } from '../errors.js';
import { needsReferenceFacts, withReferenceFacts, type ArtifactUpload, type Repository } from './repository.js';

export const STAGING = '.staging';

export class LocalRepository implements Repository {
  readonly type = 'local' as const;
  constructor(
    readonly root: string,
    /** Set when the repository is on a share: nothing is staged unless it is mounted. */
    private readonly mountPoint?: string,
  ) {}

  get location(): string {
    return this.root;
  }

  /** A staged file of its own: moved into place whole by publish. */
  async beginArtifact(relDir: string, file: string): Promise<ArtifactUpload> {
    const id = relDir.split('/').pop()!;
    let stagingDir: string;
    try {
      stagingDir = await this.createStaging(id);
    } catch (e) {
      throw fsFailure(e, `creating a staging folder in ${this.root}`);
    }
    const path = join(stagingDir, file);
    const sink = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
    return {
      stagingDir,
      sink,
      finished: Promise.resolve(),
      storedBytes: () => sink.bytesWritten,
      failure: (e) => Promise.resolve(fsFailure(e, `writing ${path}`)),
    };
  }

  async openArtifact(rel: string): Promise<Readable> {
    return this.openRead(rel);
  }

  hashArtifact(rel: string): Promise<{ sha256: string; bytes: number }> {
    return this.sha256File(this.path(rel));
  }

  async ensure(): Promise<void> {
    await assertMounted('repository', this.mountPoint, this.root);
    await mkdir(join(this.root, STAGING), { recursive: true, mode: 0o700 });
  }

  /** A fresh private staging folder for one attempt of one artifact. */
  async createStaging(id: string): Promise<string> {
    await this.ensure();
    await this.collectStaleStaging();
    const dir = join(this.root, STAGING, `${id}.${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /**
   * Removes staging folders left by attempts that died with their worker (kill -9, power
   * loss). A live attempt writes continuously, so a folder whose newest file is older than
   * `maxAgeMs` belongs to nobody.
   */
  async collectStaleStaging(maxAgeMs = 6 * 3600_000): Promise<string[]> {
    const base = join(this.root, STAGING);
    const removed: string[] = [];
    for (const name of await readdir(base).catch(() => [] as string[])) {
      const dir = join(base, name);
      let newest = (await stat(dir).catch(() => undefined))?.mtimeMs ?? 0;
      for (const f of await readdir(dir).catch(() => [] as string[]))
        newest = Math.max(newest, (await stat(join(dir, f)).catch(() => undefined))?.mtimeMs ?? 0);
      if (Date.now() - newest > maxAgeMs) {
        await rm(dir, { recursive: true, force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  async discardStaging(dir: string): Promise<void> {
    if (dir.startsWith(join(this.root, STAGING) + '/')) await rm(dir, { recursive: true, force: true });
  }

  path(rel: string): string {
    return join(this.root, rel);
  }

  /**
   * Moves a staged folder to `relDir`, writes `extraFiles`, then the manifest (atomically).
   * Idempotent: an already published manifest for the same id is left as it is.
   */
  async publish(
    stagingDir: string,
    relDir: string,
    manifest: AnyManifest,
    extraFiles: Record<string, string>,
  ): Promise<void> {
    const final = join(this.root, relDir);
    if (await this.exists(join(final, MANIFEST_FILE))) return;
    await mkdir(dirname(final), { recursive: true, mode: 0o700 });
    if (await this.exists(stagingDir)) {
      await rm(final, { recursive: true, force: true }); // a half-published folder from a crashed attempt
      await rename(stagingDir, final);
    } else if (
      !(await this.exists(final)) ||
      ('artifact' in manifest && !(await this.exists(join(final, manifest.artifact.file))))
    ) {
      throw new Error(`staged artifact ${stagingDir} is gone and ${final} has no artifact`);
    }
    for (const [name, text] of Object.entries(extraFiles)) await this.writeAtomic(join(final, name), text);
    await this.writeAtomic(join(final, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    await this.fsyncDir(final);
    await this.fsyncDir(dirname(final));
  }

  async writeAtomic(file: string, text: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  }

  async fsyncDir(dir: string): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async exists(p: string): Promise<boolean> {
    return stat(p).then(
      () => true,
      () => false,
    );
  }

  async sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
    assertHeartbeated(`hashing ${file}`);
    const h = createHash('sha256');
    let bytes = 0;
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), async function* (src: AsyncIterable<Buffer>) {
      for await (const b of src) {
        h.update(b);
        bytes += b.length;
      }
    });
    return { sha256: h.digest('hex'), bytes };
  }

  openRead(rel: string): Readable {
    assertHeartbeated(`reading ${rel}`);
    return createReadStream(join(this.root, rel), { highWaterMark: 1 << 20 });
  }

  /**
   * A published manifest. A database backup whose facts come from the backup gets its `tables`
   * from facts.json once its first verified restore has written it: every reader (restores,
   * drills, the catalog) then compares with the same reference.
   */
  async readManifest(relDir: string): Promise<AnyManifest | undefined> {
    let m: AnyManifest;
    try {
      m = JSON.parse(await readFile(join(this.root, relDir, MANIFEST_FILE), 'utf8')) as AnyManifest;
    } catch {
      return undefined;
    }
    return needsReferenceFacts(m) ? withReferenceFacts(m, await this.readReferenceFacts(relDir)) : m;
  }

  async readReferenceFacts(relDir: string): Promise<ReferenceFacts | undefined> {
    try {
      return JSON.parse(await readFile(join(this.root, relDir, FACTS_FILE), 'utf8')) as ReferenceFacts;
    } catch {
      return undefined;
    }
  }

  /** Writes facts.json unless one is there: the first reading stays the reference. */
  async writeReferenceFacts(relDir: string, facts: ReferenceFacts): Promise<boolean> {
    if (await this.readReferenceFacts(relDir)) return false;
    await this.writeAtomic(join(this.root, relDir, FACTS_FILE), JSON.stringify(facts, null, 2) + '\n');
    return true;
  }

  /** Every published manifest under clouds/<cloud>/<component>/ (the catalog's source of truth). */
  async scanManifests(cloud?: string): Promise<AnyManifest[]> {
    const out: AnyManifest[] = [];
    const cloudsDir = join(this.root, 'clouds');
    const clouds = cloud ? [cloud] : await readdir(cloudsDir).catch(() => [] as string[]);
    for (const c of clouds) {
      for (const comp of await readdir(join(cloudsDir, c)).catch(() => [] as string[])) {
        for (const id of await readdir(join(cloudsDir, c, comp)).catch(() => [] as string[])) {
          const m = await this.readManifest(join('clouds', c, comp, id));
          // a manifest counts only in its own folder: a renamed or copied folder is not that backup
          if (m && m.id === id && m.cloud === c) out.push(m);
        }
      }
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async writeVerification(relDir: string, record: VerificationRecord): Promise<string> {
    const name = `verifications/${record.verifiedAt.replace(/[:.]/g, '')}.json`;
    await this.writeAtomic(join(this.root, relDir, name), JSON.stringify(record, null, 2) + '\n');
    return join(relDir, name);
  }

  async readVerifications(relDir: string): Promise<VerificationRecord[]> {
    const dir = join(this.root, relDir, 'verifications');
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
    const out: VerificationRecord[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as VerificationRecord);
      } catch {
        /* a torn record is ignored; the next verification writes a new one */
      }
    }
    return out;
  }
}
