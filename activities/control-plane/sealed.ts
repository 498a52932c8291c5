// Sealing artifacts whose plaintext never touches the worker's disk: compressed with zstd,
// encrypted with gpg, hashed, written to a staged file. Control-plane data (configs, keys,
// definitions) is kilobytes to megabytes and is held in memory, under a hard cap that turns a
// surprise (someone's 5 GB file under /etc/kolla) into a clear error instead of an exhausted
// worker; binlog segments stream through (sealStream, unsealTo) without being held whole.
import { createReadStream, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { TarEntry } from '../../core/control-plane/control-plane.js';
import type { EncryptionInfo } from '../../core/manifest/manifest.js';
import { classifyDecryptError } from '../crypto/escrow.js';
import { ensureGpgHome, gpgDecrypt, gpgEncrypt, type GpgKeys } from '../crypto/gpg.js';
import { zstdCompress, zstdDecompress } from '../crypto/zstd.js';
import { PipelineGuard } from '../crypto/stage.js';
import { fatal, FailureType } from '../errors.js';
import { meter, stageFailure } from '../mariadb/backup.js';

export const MAX_PLAIN_BYTES = 256 * 1024 * 1024;

export interface Sealed {
  bytes: number;
  sha256: string;
  plainBytes: number;
  plainSha256: string;
}

/** plaintext → zstd → gpg → file (mode 0600, must not exist). */
export function sealBuffer(
  keys: GpgKeys,
  level: number,
  plain: Buffer,
  file: string,
  outer?: AbortSignal,
): Promise<Sealed> {
  return sealStream(keys, level, Readable.from([plain]), file, outer);
}

/** A plaintext stream → zstd → gpg → file (mode 0600, must not exist); the plaintext is hashed on its way. */
export async function sealStream(
  keys: GpgKeys,
  level: number,
  source: Readable,
  file: string,
  outer?: AbortSignal,
): Promise<Sealed> {
  await ensureGpgHome(keys.homedir);
  const guard = new PipelineGuard(outer);
  const zstd = zstdCompress(level, guard.signal);
  const gpg = gpgEncrypt(keys, guard.signal);
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const hash = createHash('sha256');
  const plainHash = createHash('sha256');
  let bytes = 0;
  let plainBytes = 0;
  guard.track(source, zstd.stdin, zstd.stdout, gpg.stdin, gpg.stdout, out);
  const [p, a, b, zx, gx] = await Promise.allSettled([
    guard.watch(
      'source',
      pipeline(
        source,
        meter((n) => (plainBytes += n), plainHash),
        zstd.stdin,
      ),
    ),
    guard.watch('zstd', pipeline(zstd.stdout, gpg.stdin)),
    guard.watch(
      'file',
      pipeline(
        gpg.stdout,
        meter((n) => (bytes += n), hash),
        out,
      ),
    ),
    guard.watchStage(zstd),
    guard.watchStage(gpg),
  ]);
  // the first part to fail is the cause (a broken source, a full disk); what the guard's abort
  // then does to the others — a killed zstd, a closed pipe — is only its echo
  const first = guard.first;
  if (first && (first.part === 'source' || first.part === 'file')) throw first.error;
  if (zx.status === 'fulfilled' && zx.value.code !== 0) throw stageFailure(zstd, zx.value.code, zx.value.stderr);
  if (gx.status === 'fulfilled' && gx.value.code !== 0) throw stageFailure(gpg, gx.value.code, gx.value.stderr);
  for (const r of [p, a, b]) if (r.status === 'rejected') throw r.reason;
  return { bytes, sha256: hash.digest('hex'), plainBytes, plainSha256: plainHash.digest('hex') };
}

/**
 * file → (SHA-256 checked) → gpg → zstd → plaintext in memory. A file that does not hash to
 * what the manifest recorded is refused, whatever gpg says about it.
 */
export async function unsealFile(
  keys: Pick<GpgKeys, 'homedir' | 'passphrase'>,
  file: string,
  expect: { sha256: string; bytes: number; plainSha256?: string; encryption: EncryptionInfo },
  what: string,
  outer?: AbortSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let plainBytes = 0;
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      plainBytes += c.length;
      if (plainBytes > MAX_PLAIN_BYTES) return cb(new Error(`more than ${MAX_PLAIN_BYTES} bytes of plaintext`));
      chunks.push(c);
      cb();
    },
  });
  await unsealTo(keys, file, expect, what, sink, outer);
  return Buffer.concat(chunks);
}

/**
 * file → (SHA-256 checked) → gpg → zstd → `sink`, as it decrypts: nothing is held whole. The
 * sink has seen every byte before a plaintext mismatch can be known, so the caller must treat
 * what it wrote as unusable when this throws.
 */
export async function unsealTo(
  keys: Pick<GpgKeys, 'homedir' | 'passphrase'>,
  file: string,
  expect: { sha256: string; bytes: number; plainSha256?: string; encryption: EncryptionInfo },
  what: string,
  sink: Writable,
  outer?: AbortSignal,
): Promise<{ plainBytes: number }> {
  await ensureGpgHome(keys.homedir);
  const guard = new PipelineGuard(outer);
  const gpg = gpgDecrypt(keys, guard.signal);
  const zstd = zstdDecompress(guard.signal);
  const source = createReadStream(file);
  const hash = createHash('sha256');
  const plainHash = createHash('sha256');
  let bytes = 0;
  let plainBytes = 0;
  guard.track(source, gpg.stdin, gpg.stdout, zstd.stdin, zstd.stdout, sink);
  const results = await Promise.allSettled([
    guard.watch(
      'file',
      pipeline(
        source,
        meter((n) => (bytes += n), hash),
        gpg.stdin,
      ),
    ),
    guard.watch('gpg', pipeline(gpg.stdout, zstd.stdin)),
    guard.watch(
      'zstd',
      pipeline(
        zstd.stdout,
        meter((n) => (plainBytes += n), plainHash),
        sink,
      ),
    ),
    guard.watchStage(gpg),
    guard.watchStage(zstd),
  ]);
  const [fromFile, , , gx, zx] = results;
  if (fromFile!.status === 'rejected' && (fromFile.reason as NodeJS.ErrnoException).code === 'ENOENT')
    throw fatal(
      FailureType.BackupNotFound,
      `${what} is missing from the repository (${file})`,
      'restore another backup (`osbackup catalog list`)',
    );
  const got = hash.digest('hex');
  if (guard.first === undefined && (got !== expect.sha256 || bytes !== expect.bytes)) {
    throw fatal(
      FailureType.ChecksumMismatch,
      `${what} is corrupt: SHA-256 ${got} (${bytes} bytes) but the manifest recorded ${expect.sha256} (${expect.bytes} bytes); nothing was changed`,
      'restore an earlier backup; then find out what damaged the repository',
    );
  }
  if (gx!.status === 'fulfilled' && gx.value.code !== 0)
    throw classifyDecryptError(gx.value.stderr, expect.encryption, { artifact: what, gpgHome: keys.homedir });
  if (zx!.status === 'fulfilled' && zx.value.code !== 0) throw stageFailure(zstd, zx.value.code, zx.value.stderr);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  if (expect.plainSha256 && plainHash.digest('hex') !== expect.plainSha256)
    throw fatal(
      FailureType.ChecksumMismatch,
      `${what} decrypts to content that does not match its manifest`,
      'restore an earlier backup',
    );
  return { plainBytes };
}

/**
 * A writable that forwards into `dest` with its backpressure and never ends it: several
 * segments go one after another into the same remote file.
 */
export function forwardInto(dest: Writable, onChunk: (n: number) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      onChunk(chunk.length);
      if (dest.destroyed || dest.writableEnded) return cb(new Error('the remote file was closed'));
      if (dest.write(chunk)) return cb();
      const settle = (e?: Error | null) => {
        dest.off('drain', drained);
        dest.off('close', closed);
        dest.off('error', settle);
        cb(e ?? null);
      };
      const drained = () => settle();
      const closed = () => settle(new Error('the remote file was closed'));
      dest.once('drain', drained);
      dest.once('close', closed);
      dest.once('error', settle);
    },
  });
}

/** Every member of a tar archive with its metadata and content hash. */
export async function indexTar(tar: Buffer): Promise<TarEntry[]> {
  const ex = extract();
  const entries: TarEntry[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const hash = createHash('sha256');
      for await (const c of entry) hash.update(c as Buffer);
      const type =
        h.type === 'file' || h.type === 'contiguous-file'
          ? 'file'
          : h.type === 'directory'
            ? 'directory'
            : h.type === 'symlink'
              ? 'symlink'
              : 'other';
      entries.push({
        path: h.name.replace(/^\.\//, '').replace(/\/$/, '') || '.',
        type,
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: h.size ?? 0,
        sha256: type === 'file' ? hash.digest('hex') : null,
        ...(h.linkname ? { linkname: h.linkname } : {}),
      });
    }
  })();
  ex.end(tar);
  await done;
  return entries;
}
