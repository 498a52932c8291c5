// Importing a backup osbackup did not take: the original is read on its host over SSH (`cat`,
// or `tar -c` for a mariabackup --target-dir folder), decoded on the worker (openssl enc -d,
// gzip -d, tar → xbstream) and re-protected as an ordinary database artifact in one pass:
//   host: cat file → SSH → sha256 → [openssl -d] → [gzip -d] → [tar → xbstream] → xbstream check → zstd → gpg → sha256 → staged file
// The xbstream is read as it flows past (its metadata picked out, every chunk's CRC checked);
// the plaintext exists only in pipes, never on the host's or the worker's disk. Decoding on
// the worker keeps the host's work to reading (cat, tar: no gzip, mbstream or zstd needed
// there), keeps the seed's passphrase on the worker, and the link carries the compressed original.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  BinlogPosition,
  Checkpoints,
  EncryptionInfo,
  StagedDatabaseArtifact,
} from '../../core/manifest/manifest.js';
import type { Env } from '../deps.js';
import { fatal, fsFailure, transient, FailureType } from '../errors.js';
import { cancellationSignal, heartbeater, withHeartbeat } from '../heartbeat.js';
import { ensureGpgHome, gpgEncrypt, gpgVersion, keyFingerprints } from '../crypto/gpg.js';
import { zstdCompress, zstdVersion } from '../crypto/zstd.js';
import { PipelineGuard, spawnStage, type ProcessStage } from '../crypto/stage.js';
import { opensslDecrypt, OPENSSL_DEFAULT_ITERATIONS } from '../crypto/openssl-import.js';
import { resolveSecret } from '../secrets.js';
import { DB_ARTIFACT_FILE, meter, stageFailure, tailOf } from '../mariadb/backup.js';
import {
  parseBinlogFromInfo,
  parseCheckpoints,
  parseServerVersionFromInfo,
  parseToolVersion,
} from '../mariadb/commands.js';
import { ArchiveError, tarToXbstream, xbstreamTap, XbstreamError } from '../mariadb/xbstream.js';
import { shQuote } from '../ssh/quote.js';
import type { Decoder, ListedFile } from '../../core/import/import.js';

export type { Decoder } from '../../core/import/import.js';

export interface ImportStreamInput {
  cloud: string;
  host: string;
  /** A file is read with `cat`; a mariabackup --target-dir folder with `tar -c` (then decode it with 'tar'). */
  source: { kind: 'file' | 'folder'; path: string };
  decode: Decoder[];
  /** Names the staging folder (the artifact id it will get). */
  id: string;
  /** The original's SHA-256 as listed on the host or recorded in the seed's catalog: a different one is refused. */
  expectOriginalSha256?: string;
  expectKind?: 'full' | 'incremental';
  /** openssl enc files: the passphrase the seed used (a file on the worker), and its PBKDF2 settings. */
  openssl?: { passphraseFile: string; iterations?: number; digest?: string };
}

export interface ImportStreamResult extends StagedDatabaseArtifact {
  originalBytes: number;
  originalSha256: string;
  seconds: number;
  decoded: string[];
}

const METADATA = ['xtrabackup_checkpoints', 'xtrabackup_info', 'mariadb_backup_checkpoints', 'mariadb_backup_info'];

/** Exits 66 when the original is not there (checked before the stream, whose teardown could hide the status). */
function presentCheck(input: ImportStreamInput): string {
  const p = shQuote(input.source.path);
  if (input.source.kind === 'file') return `test -f ${p} || { echo "no such file" >&2; exit 66; }`;
  return `test -d ${p} || { echo "no such folder" >&2; exit 66; }; test -f ${p}/xtrabackup_checkpoints -o -f ${p}/mariadb_backup_checkpoints || { echo "the folder holds no xtrabackup_checkpoints: not a mariabackup folder" >&2; exit 66; }`;
}

function remoteCommand(input: ImportStreamInput): string {
  const p = shQuote(input.source.path);
  // tar is on every host; the worker turns it into the xbstream mbstream -c would have made
  return `${presentCheck(input)}; ${input.source.kind === 'file' ? `cat -- ${p}` : `tar -C ${p} -cf - .`}`;
}

export async function importStream(env: Env, input: ImportStreamInput): Promise<ImportStreamResult> {
  const { host, target } = env.host(input.cloud, input.host);
  const where = `${input.host}:${input.source.path}`;
  const keys = await env.gpgKeys();
  await ensureGpgHome(keys.homedir);
  const level = env.cloud(input.cloud).database.compressionLevel;
  let passphrase: string | undefined;
  if (input.decode.includes('openssl')) {
    if (!input.openssl)
      throw fatal(
        FailureType.ConfigInvalid,
        `${where} is openssl-encrypted but no passphrase file was given`,
        'pass --passphrase-file with the passphrase the seed used',
      );
    passphrase = await resolveSecret(
      { file: input.openssl.passphraseFile },
      `the seed's passphrase for ${where}`,
      env.deps.env,
    );
  }
  const present = await env.deps.ssh.run(target, presentCheck(input), { signal: cancellationSignal() });
  if (present.code === 66)
    throw fatal(
      FailureType.BackupNotFound,
      `${where}: ${present.stderr.trim()}`,
      'it was moved or deleted (rotated?): nothing was imported from it; list the backups again',
    );
  const guard = new PipelineGuard(cancellationSignal());
  const signal = guard.signal;
  let stagingDir: string;
  try {
    stagingDir = await env.repo.createStaging(input.id);
  } catch (e) {
    throw fsFailure(e, `creating a staging folder in ${env.repo.root}`);
  }
  const file = join(stagingDir, DB_ARTIFACT_FILE);
  const beat = heartbeater();
  const t0 = performance.now();
  const original = createHash('sha256');
  const stored = createHash('sha256');
  let originalBytes = 0;
  let streamBytes = 0;
  let bytes = 0;
  try {
    const remote = await env.deps.ssh.exec(target, remoteCommand(input), signal);
    remote.stdin.end();
    const remoteErr = tailOf(remote.stderr);
    const decoders: ProcessStage[] = input.decode
      .filter((d) => d !== 'tar')
      .map((d) =>
        d === 'gzip'
          ? spawnStage('gzip -d', 'gzip', ['-d', '-c'], { signal })
          : opensslDecrypt(
              passphrase!,
              input.openssl?.iterations ?? OPENSSL_DEFAULT_ITERATIONS,
              input.openssl?.digest ?? 'sha256',
              signal,
            ),
      );
    // tar → xbstream runs in-process, after the process decoders
    const tar = input.decode.includes('tar') ? tarToXbstream() : undefined;
    const links: { name: string; stdin: Writable; stdout: Readable }[] = [
      ...decoders,
      ...(tar ? [{ name: 'tar → xbstream', stdin: tar, stdout: tar }] : []),
    ];
    const xb = xbstreamTap(new Set(METADATA));
    const zstd = zstdCompress(level, signal);
    const gpg = gpgEncrypt(keys, signal);
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
    guard.track(
      remote.stdout,
      ...links.flatMap((d) => [d.stdin, d.stdout]),
      xb.tap,
      zstd.stdin,
      zstd.stdout,
      gpg.stdin,
      gpg.stdout,
      out,
    );
    const progress = () =>
      beat({
        step: `importing ${where}`,
        originalBytes,
        streamBytes,
        storedBytes: bytes,
        seconds: Math.round((performance.now() - t0) / 1000),
      });
    // source → decoders… → xbstream check → zstd
    const hops: Promise<unknown>[] = [];
    let from: Readable = remote.stdout;
    let part = 'source';
    const first: Writable = links[0]?.stdin ?? xb.tap;
    hops.push(
      guard.watch(
        part,
        pipeline(
          from,
          meter((n) => {
            originalBytes += n;
            progress();
          }, original),
          first,
        ),
      ),
    );
    links.forEach((d, i) => {
      from = d.stdout;
      part = d.name;
      hops.push(guard.watch(part, pipeline(from, links[i + 1]?.stdin ?? xb.tap)));
    });
    const [[xbHop, zstdHop, fileHop, remoteDone, zstdExit, gpgExit], decoderExits, hopResults] = await Promise.all([
      Promise.allSettled([
        guard.watch(
          'xbstream',
          pipeline(
            xb.tap,
            meter((n) => (streamBytes += n)),
            zstd.stdin,
          ),
        ),
        guard.watch('zstd', pipeline(zstd.stdout, gpg.stdin)),
        guard.watch(
          'file',
          pipeline(
            gpg.stdout,
            meter((n) => (bytes += n), stored),
            out,
          ),
        ),
        guard.watchExit('remote', remote.done),
        guard.watchStage(zstd),
        guard.watchStage(gpg),
      ]),
      Promise.allSettled(decoders.map((d) => guard.watchStage(d))),
      Promise.allSettled(hops),
    ]);
    if (signal.aborted && !guard.first)
      throw transient(
        FailureType.RepositoryWriteFailed,
        `import of ${where} cancelled; nothing was published`,
        'start it again',
      );
    // the original's own problems first: a vanished file, a cut download, a wrong passphrase
    if (remoteDone.status === 'rejected') throw remoteDone.reason;
    if (remoteDone.value.code === 66)
      throw fatal(
        FailureType.BackupNotFound,
        `${where}: ${remoteErr().trim().split('\n').at(-1)}`,
        'it was moved or deleted (rotated?) while it was read: nothing was imported from it; list the backups again',
      );
    if (remoteDone.value.code !== 0 && remoteDone.value.signal !== 'ABORTED')
      throw transient(
        FailureType.RemoteCommandFailed,
        `${input.host}: reading ${input.source.path} failed (exit ${remoteDone.value.code}): ${remoteErr().trim().split('\n').slice(-2).join(' | ')}`,
        'check the file and the host',
      );
    const originalSha256 = original.digest('hex');
    if (input.expectOriginalSha256 && input.expectOriginalSha256 !== originalSha256 && !guard.first) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `${where} reads as SHA-256 ${originalSha256} (${originalBytes} bytes), not the expected ${input.expectOriginalSha256}`,
        'the file changed or is damaged: if it changed since it was listed, import again; otherwise use another backup',
      );
    }
    decoders.forEach((d, i) => {
      const r = decoderExits[i];
      if (r?.status === 'fulfilled' && r.value.code !== 0 && r.value.signal === undefined) {
        const why = r.value.stderr.trim().split('\n').slice(-2).join(' | ');
        if (d.name === 'gzip -d')
          throw fatal(
            FailureType.ImportSourceCorrupt,
            `${where} is not a whole gzip file (gzip: ${why.replace(/^gzip: /, '')})`,
            'the backup was cut short or damaged when it was written or copied: it cannot be imported; use another backup',
          );
        throw fatal(
          FailureType.DecryptionFailed,
          `cannot decrypt ${where} (openssl: ${/bad decrypt/i.test(why) ? 'bad decrypt' : why}): wrong passphrase, or not AES-256-CBC with PBKDF2`,
          'pass the passphrase file the seed used for it (and --iter/--md if the seed changed them)',
        );
      }
    });
    const archiveError = hopResults
      .map((r) => (r.status === 'rejected' ? r.reason : undefined))
      .find((e): e is ArchiveError => e instanceof ArchiveError);
    if (archiveError)
      throw fatal(
        FailureType.ImportSourceCorrupt,
        `${where}: ${archiveError.message}`,
        'the archive was cut short or damaged, or is not of a mariabackup folder: it cannot be imported; use another backup',
      );
    // the reader's verdict, whichever of the two pipelines around it reported it first
    const xbError = [xbHop, ...hopResults]
      .map((r) => (r.status === 'rejected' ? r.reason : undefined))
      .find((e): e is XbstreamError => e instanceof XbstreamError);
    if (xbError)
      throw fatal(
        FailureType.ImportSourceCorrupt,
        `${where} does not hold a whole mariabackup xbstream: ${xbError.message}`,
        'the backup was cut short or damaged: it cannot be imported; use another backup',
      );
    if (guard.first?.part === 'file') throw fsFailure(guard.first.error, `writing ${file}`);
    if (zstdExit.status === 'fulfilled' && zstdExit.value.code !== 0)
      throw stageFailure(zstd, zstdExit.value.code, zstdExit.value.stderr);
    if (gpgExit.status === 'fulfilled' && gpgExit.value.code !== 0)
      throw stageFailure(gpg, gpgExit.value.code, gpgExit.value.stderr);
    if (fileHop.status === 'rejected') throw fsFailure(fileHop.reason, `writing ${file}`);
    for (const r of [xbHop, zstdHop])
      if (r.status === 'rejected')
        throw transient(
          FailureType.EncryptionFailed,
          `import pipeline broke: ${(r.reason as Error).message}`,
          'check the worker host',
        );
    if (guard.first)
      throw transient(
        FailureType.EncryptionFailed,
        `import pipeline broke in ${guard.first.part}: ${(guard.first.error as Error)?.message ?? guard.first.error}`,
        'check the worker host',
      );

    const meta = xb.summary().files;
    const checkpointsText = (meta.get('xtrabackup_checkpoints') ?? meta.get('mariadb_backup_checkpoints'))?.toString(
      'utf8',
    );
    const infoText = (meta.get('xtrabackup_info') ?? meta.get('mariadb_backup_info'))?.toString('utf8') ?? '';
    if (!checkpointsText)
      throw fatal(
        FailureType.ImportSourceCorrupt,
        `${where} holds no xtrabackup_checkpoints: not a complete mariabackup backup (mariabackup writes it last)`,
        'use another backup',
      );
    let checkpoints: Checkpoints;
    try {
      checkpoints = parseCheckpoints(checkpointsText);
    } catch (e) {
      throw fatal(FailureType.ImportSourceCorrupt, `${where}: ${(e as Error).message}`, 'use another backup');
    }
    const kind =
      checkpoints.backupType === 'full-backuped'
        ? 'full'
        : checkpoints.backupType === 'incremental'
          ? 'incremental'
          : null;
    if (!kind || checkpoints.toLsn === '0')
      throw fatal(
        FailureType.ImportSourceCorrupt,
        `${where}: backup_type ${checkpoints.backupType}, to_lsn ${checkpoints.toLsn} — not an unprepared full or incremental backup`,
        'import backups as mariabackup --backup left them (not prepared ones)',
      );
    const [fingerprints, zv, gv] = await Promise.all([
      keyFingerprints(keys.recipientKeyFiles, keys.homedir),
      zstdVersion(),
      gpgVersion(),
    ]);
    return {
      stagingDir,
      file: DB_ARTIFACT_FILE,
      bytes,
      sha256: stored.digest('hex'),
      streamBytes,
      originalBytes,
      originalSha256,
      seconds: (performance.now() - t0) / 1000,
      checkpoints,
      binlog: parseBinlogFromInfo(infoText),
      mariabackupVersion: parseToolVersion(infoText),
      serverVersion: parseServerVersionFromInfo(infoText),
      encryption: {
        format: 'openpgp',
        cipher: 'AES256',
        passphrase: keys.passphrase !== undefined,
        recipientFingerprints: fingerprints,
      },
      compressionLevel: level,
      tools: { zstd: zv, gpg: gv },
      source: { host: input.host, address: host.address, containerRuntime: host.containerRuntime },
      decoded: [
        ...(input.source.kind === 'folder' ? ['tar -c (on the host)'] : []),
        ...input.decode.map((d) =>
          d === 'gzip' ? 'gzip -d' : d === 'tar' ? 'tar → xbstream' : 'openssl enc -d -aes-256-cbc -pbkdf2',
        ),
      ],
    };
  } catch (e) {
    guard.abort.abort();
    await env.repo.discardStaging(stagingDir);
    throw e;
  }
}

/**
 * Lists the backup files under `dir` on a host with size, mtime and SHA-256 (hashed there, so
 * a second run recognises what it imported before without moving any data).
 */
export async function listRemoteFiles(
  env: Env,
  cloud: string,
  hostName: string,
  dir: string,
  nameFilter: string,
): Promise<ListedFile[]> {
  const { target } = env.host(cloud, hostName);
  const d = shQuote(dir);
  const script = `test -d ${d} || { echo "osbackup: no such folder" >&2; exit 66; }; cd ${d} && find . -maxdepth 2 -type f -name ${shQuote(nameFilter)} -print0 | while IFS= read -r -d '' f; do printf '%s %s %s %s\\0' "$(stat -c %s -- "$f")" "$(stat -c %Y -- "$f")" "$(sha256sum -- "$f" | cut -d' ' -f1)" "\${f#./}"; done`;
  const r = await withHeartbeat(
    `hashing the backups in ${hostName}:${dir}`,
    env.deps.ssh.run(target, `bash -c ${shQuote(script)}`, { signal: cancellationSignal() }),
  );
  if (r.code === 66)
    throw fatal(
      FailureType.BackupNotFound,
      `${hostName}:${dir} does not exist`,
      "give the mariadb_backup volume's folder (on a Kolla host usually /var/lib/docker/volumes/mariadb_backup/_data)",
    );
  if (r.code !== 0)
    throw transient(
      FailureType.RemoteCommandFailed,
      `${hostName}: listing ${dir} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`,
      'check the folder and its permissions',
    );
  const files: ListedFile[] = [];
  for (const rec of r.raw.toString('utf8').split('\0')) {
    const m = /^(\d+) (\d+) ([0-9a-f]{64}) (.+)$/s.exec(rec);
    if (m)
      files.push({
        bytes: Number(m[1]),
        mtime: new Date(Number(m[2]) * 1000).toISOString(),
        sha256: m[3]!,
        rel: m[4]!,
      });
  }
  return files;
}
