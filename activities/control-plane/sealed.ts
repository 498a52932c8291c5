// Sealing small artifacts (configs, keys, definitions): plaintext held in memory only — never
// on the worker's disk — compressed with zstd, encrypted with gpg, hashed, written to a staged
// file. Control-plane data is kilobytes to megabytes; a hard cap turns a surprise (someone's
// 5 GB file under /etc/kolla) into a clear error instead of an exhausted worker.
import { createReadStream, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
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

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** plaintext → zstd → gpg → file (mode 0600, must not exist). */
export async function sealBuffer(
  keys: GpgKeys,
  level: number,
  plain: Buffer,
  file: string,
  outer?: AbortSignal,
): Promise<Sealed> {
  await ensureGpgHome(keys.homedir);
  const guard = new PipelineGuard(outer);
  const zstd = zstdCompress(level, guard.signal);
  const gpg = gpgEncrypt(keys, guard.signal);
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const hash = createHash('sha256');
  let bytes = 0;
  guard.track(zstd.stdin, zstd.stdout, gpg.stdin, gpg.stdout, out);
  zstd.stdin.end(plain);
  const [a, b, zx, gx] = await Promise.allSettled([
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
  if (zx.status === 'fulfilled' && zx.value.code !== 0) throw stageFailure(zstd, zx.value.code, zx.value.stderr);
  if (gx.status === 'fulfilled' && gx.value.code !== 0) throw stageFailure(gpg, gx.value.code, gx.value.stderr);
  for (const r of [a, b]) if (r.status === 'rejected') throw r.reason;
  return { bytes, sha256: hash.digest('hex'), plainBytes: plain.length, plainSha256: sha256(plain) };
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
  await ensureGpgHome(keys.homedir);
  const guard = new PipelineGuard(outer);
  const gpg = gpgDecrypt(keys, guard.signal);
  const zstd = zstdDecompress(guard.signal);
  const source = createReadStream(file);
  const hash = createHash('sha256');
  let bytes = 0;
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
    guard.watch('zstd', pipeline(zstd.stdout, sink)),
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
  const plain = Buffer.concat(chunks);
  if (expect.plainSha256 && sha256(plain) !== expect.plainSha256)
    throw fatal(
      FailureType.ChecksumMismatch,
      `${what} decrypts to content that does not match its manifest`,
      'restore an earlier backup',
    );
  return plain;
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
