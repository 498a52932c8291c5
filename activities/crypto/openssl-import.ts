// Importing seed-era artifacts: files the seed scripts made with
//   openssl enc -aes-256-cbc -pbkdf2 -salt -pass file:<passphrase file>
// are decrypted and re-protected as osbackup artifacts (zstd, then OpenPGP) in one stream:
//   file → sha256 → openssl enc -d → zstd → gpg --encrypt → sha256 → <out>.partial → <out>
// The plaintext exists only in pipes between processes, never on disk. The passphrase
// reaches openssl on file descriptor 3 (`-pass fd:3`), never argv or a file.
//
// Key derivation: `-pbkdf2` with openssl's defaults, i.e. PBKDF2-HMAC-SHA256 (`-md sha256`,
// the default digest since OpenSSL 1.1.0; -pbkdf2 itself appeared in 1.1.1) and 10 000
// iterations (`-iter`, openssl's default when -pbkdf2 is given without -iter). Pass
// `iterations`/`digest` when the seed used other values.
//
// CBC has no integrity check: a wrong passphrase is caught by the padding check ("bad
// decrypt") in all but ~1 in 256 cases; the result then is garbage that nothing can detect.
// `expectPlaintextSha256` (e.g. from the seed's catalog) closes that gap when known.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SecretRef } from '../../config/schema.js';
import type { EncryptionInfo } from '../../core/manifest/manifest.js';
import { fatal, FailureType, fsFailure, transient } from '../errors.js';
import { resolveSecret } from '../secrets.js';
import { gpgEncrypt, type GpgKeys } from './gpg.js';
import { PipelineGuard, spawnStage, type ProcessStage } from './stage.js';
import { zstdCompress } from './zstd.js';
import { recipientFingerprints, gpgReason } from './escrow.js';

export const OPENSSL_IMPORT_FROM = 'openssl-aes-256-cbc-pbkdf2' as const;
export const OPENSSL_DEFAULT_ITERATIONS = 10_000;

export interface ImportOpensslOptions {
  /** The seed-era file (`openssl enc -aes-256-cbc -pbkdf2 -salt`). */
  file: string;
  /** Its passphrase: a resolved value, or a reference resolved here. */
  passphrase?: string;
  passphraseRef?: SecretRef;
  env?: NodeJS.ProcessEnv;
  /** Where the re-protected artifact goes (must not exist; written as <out>.partial-… then renamed). */
  out: string;
  /** How to re-protect it (the config's encryption: passphrase and/or recipients). */
  keys: GpgKeys;
  compressionLevel?: number;
  iterations?: number;
  digest?: string;
  expectPlaintextSha256?: string;
  signal?: AbortSignal;
}

export interface ImportOpensslResult {
  file: string;
  /** Stored bytes / SHA-256 of the new artifact (for manifest.artifact). */
  bytes: number;
  sha256: string;
  /** Plaintext bytes that went into zstd (manifest.artifact.streamBytes). */
  streamBytes: number;
  plaintextSha256: string;
  seconds: number;
  encryption: EncryptionInfo;
  compression: { format: 'zstd'; level: number };
  imported: {
    from: typeof OPENSSL_IMPORT_FROM;
    originalFile: string;
    originalSha256: string;
    originalBytes: number;
    iterations: number;
    digest: string;
  };
}

function tap(fn: (b: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      fn(chunk);
      cb(null, chunk);
    },
  });
}

export function opensslDecrypt(
  passphrase: string,
  iterations: number,
  digest: string,
  signal?: AbortSignal,
): ProcessStage {
  return spawnStage(
    'openssl enc -d',
    'openssl',
    ['enc', '-d', '-aes-256-cbc', '-pbkdf2', '-iter', String(iterations), '-md', digest, '-pass', 'fd:3'],
    { signal, fd3: passphrase + '\n' },
  );
}

export async function importOpensslFile(o: ImportOpensslOptions): Promise<ImportOpensslResult> {
  const passphrase =
    o.passphrase ??
    (o.passphraseRef
      ? await resolveSecret(o.passphraseRef, `passphrase for ${basename(o.file)}`, o.env ?? {})
      : undefined);
  if (!passphrase)
    throw fatal(
      FailureType.ConfigInvalid,
      `importing ${o.file}: no passphrase given`,
      'pass the passphrase file the seed used (--passphrase-file)',
    );
  const iterations = o.iterations ?? OPENSSL_DEFAULT_ITERATIONS;
  const digest = o.digest ?? 'sha256';
  const level = o.compressionLevel ?? 3;
  if (
    await stat(o.out).then(
      () => true,
      () => false,
    )
  )
    throw fatal(
      FailureType.RepositoryWriteFailed,
      `${o.out} already exists`,
      'choose another --out, or remove it first',
    );
  const guard = new PipelineGuard(o.signal);
  const signal = guard.signal;
  const t0 = performance.now();
  const partial = `${o.out}.partial-${randomBytes(4).toString('hex')}`;
  const original = createHash('sha256');
  const plain = createHash('sha256');
  const stored = createHash('sha256');
  let originalBytes = 0;
  let streamBytes = 0;
  let bytes = 0;

  const source = createReadStream(o.file, { highWaterMark: 1 << 20 });
  const openssl = opensslDecrypt(passphrase, iterations, digest, signal);
  const zstd = zstdCompress(level, signal);
  const gpg = gpgEncrypt(o.keys, signal);
  const out = createWriteStream(partial, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
  guard.track(source, openssl.stdin, openssl.stdout, zstd.stdin, zstd.stdout, gpg.stdin, gpg.stdout, out);
  let done = false;
  try {
    const [fromFile, toZstd, toGpg, toOut, sslExit, zstdExit, gpgExit] = await Promise.allSettled([
      guard.watch(
        'file',
        pipeline(
          source,
          tap((b) => {
            original.update(b);
            originalBytes += b.length;
          }),
          openssl.stdin,
        ),
      ),
      guard.watch(
        'openssl',
        pipeline(
          openssl.stdout,
          tap((b) => {
            plain.update(b);
            streamBytes += b.length;
          }),
          zstd.stdin,
        ),
      ),
      guard.watch('zstd', pipeline(zstd.stdout, gpg.stdin)),
      guard.watch(
        'out',
        pipeline(
          gpg.stdout,
          tap((b) => {
            stored.update(b);
            bytes += b.length;
          }),
          out,
        ),
      ),
      guard.watchStage(openssl),
      guard.watchStage(zstd),
      guard.watchStage(gpg),
    ]);
    if (o.signal?.aborted)
      throw transient(
        FailureType.EncryptionFailed,
        `import of ${o.file} cancelled; nothing was written`,
        'start it again',
      );
    if (fromFile.status === 'rejected' && (fromFile.reason as NodeJS.ErrnoException).code === 'ENOENT')
      throw fatal(FailureType.BackupNotFound, `${o.file} does not exist`, 'give the path of the seed-era .enc file');
    // openssl first: a wrong passphrase fails there and breaks everything downstream
    if (sslExit.status === 'fulfilled' && sslExit.value.code !== 0) {
      const err = sslExit.value.stderr;
      if (/bad decrypt|wrong final block length|bad magic number|error reading input file/i.test(err)) {
        const what = /bad magic number/i.test(err)
          ? 'it is not an `openssl enc -salt` file (no Salted__ header)'
          : `wrong passphrase, or not AES-256-CBC with PBKDF2 (${iterations} iterations, ${digest})`;
        throw fatal(
          FailureType.DecryptionFailed,
          `cannot decrypt ${o.file}: ${what} (openssl: ${/bad decrypt/i.test(err) ? 'bad decrypt' : err.trim().split('\n')[0]})`,
          'pass the passphrase file the seed used for this file; if the seed set other iterations or digest, give them (--iter, --md)',
        );
      }
      throw fatal(
        FailureType.DecryptionFailed,
        `openssl enc -d failed on ${o.file} (exit ${sslExit.value.code}): ${err.trim().split('\n')[0] ?? ''}`,
        'check that the file was made by openssl enc with AES-256-CBC and PBKDF2',
      );
    }
    if (zstdExit.status === 'fulfilled' && zstdExit.value.code !== 0)
      throw transient(
        FailureType.EncryptionFailed,
        `zstd failed (exit ${zstdExit.value.code}): ${zstdExit.value.stderr.trim()}`,
        'check the worker host',
      );
    if (gpgExit.status === 'fulfilled' && gpgExit.value.code !== 0)
      throw fatal(
        FailureType.EncryptionFailed,
        `gpg --encrypt failed (exit ${gpgExit.value.code}): ${gpgReason(gpgExit.value.stderr)}`,
        'check encryption.recipientKeyFiles and encryption.passphrase',
      );
    if (toOut.status === 'rejected') throw fsFailure(toOut.reason, `writing ${partial}`);
    for (const r of [fromFile, toZstd, toGpg])
      if (r.status === 'rejected')
        throw transient(
          FailureType.EncryptionFailed,
          `import pipeline broke: ${(r.reason as Error).message}`,
          'check the worker host',
        );
    const plaintextSha256 = plain.digest('hex');
    if (o.expectPlaintextSha256 && o.expectPlaintextSha256.toLowerCase() !== plaintextSha256) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `${o.file} decrypted to data with SHA-256 ${plaintextSha256}, not the expected ${o.expectPlaintextSha256} (a wrong passphrase can pass CBC's padding check by chance)`,
        'check the passphrase and the expected checksum',
      );
    }
    await rename(partial, o.out);
    done = true;
    return {
      file: o.out,
      bytes,
      sha256: stored.digest('hex'),
      streamBytes,
      plaintextSha256,
      seconds: (performance.now() - t0) / 1000,
      encryption: {
        format: 'openpgp',
        cipher: 'AES256',
        passphrase: o.keys.passphrase !== undefined,
        recipientFingerprints: await recipientFingerprints(o.keys.recipientKeyFiles),
      },
      compression: { format: 'zstd', level },
      imported: {
        from: OPENSSL_IMPORT_FROM,
        originalFile: o.file,
        originalSha256: original.digest('hex'),
        originalBytes,
        iterations,
        digest,
      },
    };
  } finally {
    if (!done) await rm(partial, { force: true });
  }
}
