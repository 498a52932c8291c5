// One interface over every place artifacts can live: a folder (local disk or an NFS mount)
// or an S3 / Swift bucket. Copies, verify, retention and the catalog work through it, so a
// target type is a config choice, not a code path. Keys are relative ("clouds/<c>/…").
//
// Visibility is the manifest's: a folder holds a backup only once its manifest.json exists,
// and every writer puts the manifest last. put() itself is atomic per object (temporary
// name + rename on folders; S3 PUT/multipart completion on buckets), so an interrupted write
// leaves no object that looks whole.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../config/schema.js';
import type { TargetConfig } from '../../config/targets-schema.js';
import type { RetentionPolicy } from '../../core/retention/policy.js';
import { MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { type AnyManifest } from '../../core/manifest/any-manifest.js';
import { fatal, FailureType, fsFailure } from '../errors.js';
import { S3Store } from './s3-store.js';
import type { S3Target } from '../../config/s3-target-schema.js';
import { assertHeartbeated } from '../heartbeat.js';

export interface StoredObject {
  key: string;
  bytes: number;
  modifiedAt: string | null;
}

export interface TargetStore {
  readonly name: string;
  readonly type: 'local' | 'nfs' | 's3';
  /** Where it is, for messages: a path or s3://bucket/prefix at the endpoint. */
  readonly location: string;
  readonly retention: RetentionPolicy;
  /** Throws a typed failure naming the cause when the target must not be written now. */
  checkWritable(): Promise<void>;
  /** Every object under `prefix`, recursively. */
  list(prefix: string): Promise<StoredObject[]>;
  stat(key: string): Promise<StoredObject | undefined>;
  openRead(key: string, signal?: AbortSignal): Promise<Readable>;
  readText(key: string): Promise<string | undefined>;
  /** Writes a stream atomically; returns what was written (bytes, SHA-256 of the bytes read). */
  putStream(
    key: string,
    source: Readable,
    opts?: { bytes?: number; signal?: AbortSignal; onProgress?: (bytes: number) => void },
  ): Promise<{ bytes: number; sha256: string }>;
  putText(key: string, text: string): Promise<void>;
  deleteKeys(keys: string[]): Promise<void>;
  /** Removes what crashed writers left (partial files, open multipart uploads) older than `olderThanMs`. */
  collectPartials(olderThanMs: number): Promise<string[]>;
  /** Bytes the target may hold and still has free; null when the store cannot say. */
  capacity(): Promise<{ totalBytes: number | null; freeBytes: number | null }>;
  close(): void;
}

/** Mount points of this process's mount namespace (/proc/self/mountinfo, field 5, octal escapes undone). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[4]) out.add(f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Refuses (typed, with the fix) when `mountPoint` is set and nothing is mounted there. */
export async function assertMounted(name: string, mountPoint: string | undefined, root: string): Promise<void> {
  const mp = mountPoint?.replace(/(.)\/$/, '$1');
  if (mp && !(await mountPoints()).has(mp)) {
    throw fatal(
      FailureType.TargetNotMounted,
      `target "${name}": ${mp} is not a mount point — the share is not mounted, and writing to ${root} would fill the local disk under it (the seed's "NFS mount disconnected: shows local mount")`,
      `mount the share (mount ${mp}; check the NFS server and /etc/fstab), then retry; nothing was written`,
    );
  }
}

/** A target in a folder: the repository, another local disk, or an NFS mount. */
export class FsTarget implements TargetStore {
  readonly location: string;
  constructor(
    readonly name: string,
    readonly type: 'local' | 'nfs',
    readonly root: string,
    readonly retention: RetentionPolicy,
    private readonly o: { mountPoint?: string; capacityGiB?: number } = {},
  ) {
    this.location = root;
  }

  private path(key: string): string {
    if (!key || key.startsWith('/') || key.split('/').includes('..'))
      throw fatal(FailureType.ConfigInvalid, `invalid key "${key}"`, 'keys are relative and stay inside the target');
    return join(this.root, key);
  }

  async checkWritable(): Promise<void> {
    await assertMounted(this.name, this.o.mountPoint, this.root);
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fsFailure(e, `preparing target "${this.name}" at ${this.root}`);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    // an unmounted share lists as an empty folder: that is "not reachable", never "nothing there"
    await assertMounted(this.name, this.o.mountPoint, this.root);
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let names: Dirent[];
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fsFailure(e, `listing ${dir}`);
      }
      for (const d of names) {
        const p = join(dir, d.name);
        if (d.isDirectory()) await walk(p);
        else if (d.isFile() && !d.name.includes('.partial-')) {
          const s = await stat(p).catch(() => undefined);
          if (s) out.push({ key: relative(this.root, p), bytes: s.size, modifiedAt: s.mtime.toISOString() });
        }
      }
    };
    await walk(prefix ? this.path(prefix.replace(/\/$/, '')) : this.root);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const s = await stat(this.path(key)).catch(() => undefined);
    return s?.isFile() ? { key, bytes: s.size, modifiedAt: s.mtime.toISOString() } : undefined;
  }

  async openRead(key: string): Promise<Readable> {
    assertHeartbeated(`reading ${key} on ${this.name}`);
    const p = this.path(key);
    const fh = await open(p, 'r').catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT'
        ? fatal(
            FailureType.ArtifactMissing,
            `${this.name}: ${key} is missing`,
            'run `osbackup verify` to see which restore points this breaks',
          )
        : fsFailure(e, `opening ${p}`);
    });
    return fh.createReadStream({ highWaterMark: 1 << 20 });
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsFailure(e, `reading ${key} on ${this.name}`);
    }
  }

  async putStream(
    key: string,
    source: Readable,
    opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
  ): Promise<{ bytes: number; sha256: string }> {
    const file = this.path(key);
    const tmp = `${file}.partial-${randomBytes(4).toString('hex')}`;
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      const tap = new Transform({
        transform(chunk: Buffer, _e, cb) {
          hash.update(chunk);
          bytes += chunk.length;
          opts.onProgress?.(bytes);
          cb(null, chunk);
        },
      });
      await pipeline(source, tap, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal: opts.signal });
      const fh = await open(tmp, 'r');
      await fh.sync().finally(() => fh.close());
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
      throw fsFailure(e, `writing ${key} to target "${this.name}" (${this.root})`);
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  async putText(key: string, text: string): Promise<void> {
    await this.putStream(key, Readable.from([Buffer.from(text, 'utf8')]));
  }

  async deleteKeys(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const k of keys) {
      await rm(this.path(k), { force: true });
      dirs.add(dirname(this.path(k)));
    }
    // empty folders are what is left of a deleted artifact: remove them bottom-up, never the root
    const sorted = [...dirs].sort((a, b) => b.length - a.length);
    for (let d of sorted) {
      while (d.startsWith(this.root + '/')) {
        const left = await readdir(d).catch(() => undefined);
        if (!left || left.length) break;
        await rmdir(d).catch(() => undefined);
        d = dirname(d);
      }
    }
  }

  async collectPartials(olderThanMs: number): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[])) {
        const p = join(dir, d.name);
        if (d.isDirectory()) await walk(p);
        else if (d.name.includes('.partial-')) {
          const s = await stat(p).catch(() => undefined);
          if (s && Date.now() - s.mtimeMs > olderThanMs) {
            await rm(p, { force: true });
            out.push(relative(this.root, p));
          }
        }
      }
    };
    await walk(join(this.root, 'clouds'));
    return out;
  }

  async capacity(): Promise<{ totalBytes: number | null; freeBytes: number | null }> {
    const s = await statfs(this.root).catch(() => undefined);
    const fsTotal = s ? s.blocks * s.bsize : null;
    const fsFree = s ? s.bavail * s.bsize : null;
    if (this.o.capacityGiB === undefined) return { totalBytes: fsTotal, freeBytes: fsFree };
    const total = this.o.capacityGiB * 1024 ** 3;
    const used = (await this.list('')).reduce((n, o) => n + o.bytes, 0);
    return { totalBytes: total, freeBytes: Math.max(0, Math.min(total - used, fsFree ?? Infinity)) };
  }

  close(): void {}
}

/** A target in an S3 bucket (Swift s3api, Ceph RGW, MinIO, AWS): everything store-specific is config. */
export class S3TargetStore implements TargetStore {
  readonly type = 's3' as const;
  readonly location: string;
  private opened: Promise<S3Store> | undefined;
  constructor(
    readonly name: string,
    /** Opens the store (resolves its credentials) on first use: the repository's target is built where nothing can wait. */
    private readonly open: () => Promise<S3Store>,
    readonly retention: RetentionPolicy,
    where: { bucket: string; prefix: string; endpoint: string },
    private readonly capacityGiB?: number,
  ) {
    this.location = `s3://${where.bucket}/${where.prefix} at ${where.endpoint}`;
  }

  /** The store, opened once; a failed opening (an unreadable key file) is tried again next time. */
  s3(): Promise<S3Store> {
    if (!this.opened) {
      this.opened = this.open();
      this.opened.catch(() => (this.opened = undefined));
    }
    return this.opened;
  }

  async checkWritable(): Promise<void> {
    await (await this.s3()).checkBucket();
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return (await (await this.s3()).list(prefix)).map((o) => ({
      key: o.key,
      bytes: o.size,
      modifiedAt: o.lastModified?.toISOString() ?? null,
    }));
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const h = await (await this.s3()).head(key);
    return h ? { key, bytes: h.size, modifiedAt: h.lastModified?.toISOString() ?? null } : undefined;
  }

  async openRead(key: string, signal?: AbortSignal): Promise<Readable> {
    const store = await this.s3();
    if (!(await store.head(key, signal)))
      throw fatal(
        FailureType.ArtifactMissing,
        `${this.name}: ${key} is missing`,
        'run `osbackup verify` to see which restore points this breaks',
      );
    return store.getStream(key, signal);
  }

  async readText(key: string): Promise<string | undefined> {
    const store = await this.s3();
    if (!(await store.head(key))) return undefined;
    return store.getText(key);
  }

  async putStream(
    key: string,
    source: Readable,
    opts: { bytes?: number; signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
  ): Promise<{ bytes: number; sha256: string }> {
    const r = await (
      await this.s3()
    ).putStream(key, source, {
      contentLength: opts.bytes,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    return { bytes: r.bytes, sha256: r.sha256 };
  }

  async putText(key: string, text: string): Promise<void> {
    await (await this.s3()).putText(key, text);
  }

  async deleteKeys(keys: string[]): Promise<void> {
    if (keys.length) await (await this.s3()).deleteMany(keys);
  }

  async collectPartials(olderThanMs: number): Promise<string[]> {
    return (await (await this.s3()).abortStaleUploads('clouds/', olderThanMs)).map(
      (u) => `${u.key} (upload ${u.uploadId})`,
    );
  }

  async capacity(): Promise<{ totalBytes: number | null; freeBytes: number | null }> {
    if (this.capacityGiB === undefined) return { totalBytes: null, freeBytes: null };
    const total = this.capacityGiB * 1024 ** 3;
    const used = (await this.list('')).reduce((n, o) => n + o.bytes, 0);
    return { totalBytes: total, freeBytes: Math.max(0, total - used) };
  }

  close(): void {
    void this.opened?.then(
      (s) => s.destroy(),
      () => undefined,
    );
  }
}

/** An S3 bucket as a target, from a target's or the repository's settings (credentials resolved on first use). */
export function s3Target(
  name: string,
  t: S3Target & { retention: RetentionPolicy; capacityGiB?: number },
  env: NodeJS.ProcessEnv,
): S3TargetStore {
  const { retention, capacityGiB, ...rest } = t;
  const s3: S3Target = {
    endpoint: rest.endpoint,
    region: rest.region,
    bucket: rest.bucket,
    prefix: rest.prefix,
    forcePathStyle: rest.forcePathStyle,
    checksumMode: rest.checksumMode,
    contentMd5: rest.contentMd5,
    deleteMode: rest.deleteMode,
    partSizeMiB: rest.partSizeMiB,
    queueSize: rest.queueSize,
    maxParts: rest.maxParts,
    requestTimeoutSeconds: rest.requestTimeoutSeconds,
    staleUploadHours: rest.staleUploadHours,
    accessKeyId: rest.accessKeyId,
    secretAccessKey: rest.secretAccessKey,
  };
  return new S3TargetStore(
    name,
    () => S3Store.fromTarget(s3, env),
    retention,
    { bucket: s3.bucket, prefix: s3.prefix, endpoint: s3.endpoint ?? `AWS ${s3.region}` },
    capacityGiB,
  );
}

/** The names of every target, the repository first. */
export function targetNames(config: Config): string[] {
  return [config.repository.name, ...Object.keys(config.targets)];
}

/** Opens a target by name (resolving S3 credentials: activities only). */
export async function openTarget(config: Config, name: string, env: NodeJS.ProcessEnv): Promise<TargetStore> {
  const r = config.repository;
  if (name === r.name) {
    if (r.type === 's3') return s3Target(r.name, r, env);
    return new FsTarget(r.name, r.mountPoint ? 'nfs' : 'local', r.path, r.retention, {
      mountPoint: r.mountPoint,
      capacityGiB: r.capacityGiB,
    });
  }
  const t: TargetConfig | undefined = config.targets[name];
  if (!t)
    throw fatal(
      FailureType.ConfigInvalid,
      `target "${name}" is not configured (known: ${targetNames(config).join(', ')})`,
      'name the repository or a target under `targets` in the config',
    );
  if (t.type === 's3') return s3Target(name, t, env);
  return new FsTarget(name, t.type, t.path, t.retention, {
    mountPoint: t.type === 'nfs' ? t.mountPoint : undefined,
    capacityGiB: t.capacityGiB,
  });
}

/**
 * Objects grouped by the artifact folder they sit in (clouds/<cloud>/<component>/<id>/);
 * anything else (catalog/, clouds/<cloud>/.retention/ journals, clouds/<cloud>/drills/) is left out.
 */
export function byArtifactDir(objects: readonly StoredObject[]): Map<string, StoredObject[]> {
  const out = new Map<string, StoredObject[]>();
  for (const o of objects) {
    const parts = o.key.split('/');
    // drills/ holds drill and rebuild records (core/dr/record.ts), never artifacts:
    // garbage collection must not take them for folders without a manifest
    if (parts.length < 5 || parts[0] !== 'clouds' || parts[2]!.startsWith('.') || parts[2] === 'drills') continue;
    const dir = parts.slice(0, 4).join('/');
    (out.get(dir) ?? out.set(dir, []).get(dir)!).push(o);
  }
  return out;
}

/**
 * The published manifests of the given folders (a listing grouped by byArtifactDir). A
 * manifest counts only in its own folder: a copied or renamed folder is not that backup.
 */
export async function readManifests(
  t: TargetStore,
  dirs: Map<string, StoredObject[]>,
): Promise<{ manifest: AnyManifest; files: StoredObject[] }[]> {
  const out: { manifest: AnyManifest; files: StoredObject[] }[] = [];
  for (const [dir, files] of dirs) {
    if (!files.some((f) => f.key === `${dir}/${MANIFEST_FILE}`)) continue;
    const text = await t.readText(`${dir}/${MANIFEST_FILE}`);
    let m: AnyManifest;
    try {
      m = JSON.parse(text ?? '') as AnyManifest;
    } catch {
      continue; // a torn manifest never counts; verify reports the folder
    }
    const [, c, , id] = dir.split('/');
    if (m.id === id && m.cloud === c) out.push({ manifest: m, files });
  }
  return out.sort((a, b) => a.manifest.startedAt.localeCompare(b.manifest.startedAt));
}

/** Every published manifest on a target: one listing, then the manifests read. */
export async function scanTargetManifests(
  t: TargetStore,
  cloud?: string,
): Promise<{ manifest: AnyManifest; files: StoredObject[] }[]> {
  return readManifests(t, byArtifactDir(await t.list(cloud ? `clouds/${cloud}/` : 'clouds/')));
}

/** Streams one object's SHA-256 and size (verify, copy checks). */
export async function hashObject(
  t: TargetStore,
  key: string,
  onProgress?: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  const src = await t.openRead(key, signal);
  await pipeline(
    src,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const b of chunks) {
        h.update(b);
        bytes += b.length;
        onProgress?.(bytes);
      }
    },
    { signal },
  );
  return { sha256: h.digest('hex'), bytes };
}

/**
 * Garbage of crashed writers on a target: partial objects, open multipart uploads, and
 * artifact folders that never got their manifest (a copy or purge that died), once older
 * than `olderThanMs` — a live writer touches its folder continuously.
 */
export async function collectGarbage(t: TargetStore, cloud: string, olderThanMs: number): Promise<string[]> {
  const removed = await t.collectPartials(olderThanMs);
  const now = Date.now();
  for (const [dir, files] of byArtifactDir(await t.list(`clouds/${cloud}/`))) {
    if (files.some((f) => f.key === `${dir}/${MANIFEST_FILE}`)) continue;
    const newest = Math.max(...files.map((f) => (f.modifiedAt ? Date.parse(f.modifiedAt) : now)));
    if (now - newest <= olderThanMs) continue;
    await t.deleteKeys(files.map((f) => f.key));
    removed.push(`${dir}/ (no manifest)`);
  }
  return removed;
}
