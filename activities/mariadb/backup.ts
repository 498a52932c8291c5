// The full backup stream: mariabackup on the controller → SSH → zstd → gpg → SHA-256 → staged
// file in a folder repository, or a multipart upload into an S3 repository. One pass, no
// temporary copy of the data anywhere.
import { createHash, randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApplicationFailure } from '@temporalio/common';
import { artifactDir } from '../../core/manifest/manifest.js';
import type {
  BinlogPosition,
  Checkpoints,
  EncryptionInfo,
  StagedDatabaseArtifact,
} from '../../core/manifest/manifest.js';
import type { Env } from '../deps.js';
import { fatal, fsFailure, transient, FailureType } from '../errors.js';
import { beatEvery, cancellationSignal, heartbeater } from '../heartbeat.js';
import { ensureGpgHome, gpgEncrypt, gpgVersion, keyFingerprints } from '../crypto/gpg.js';
import { zstdCompress, zstdVersion } from '../crypto/zstd.js';
import { PipelineGuard, type ProcessStage } from '../crypto/stage.js';
import { classifyMariadbError } from './classify.js';
import { runSql } from './facts.js';
import { inServiceContext } from '../ssh/quote.js';
import {
  backupMetadataScript,
  backupStreamScript,
  leftoverScript,
  missingGrants,
  parseBinlogFromInfo,
  parseCheckpoints,
  parseServerVersionFromInfo,
  parseToolVersion,
  parseZstdSummary,
} from './commands.js';

export const DB_ARTIFACT_FILE = 'data.xb.zst.gpg';

export interface StreamBackupInput {
  cloud: string;
  backupId: string;
  /** For an incremental: the chain member it builds on, and the LSN where that one ended. */
  base?: { id: string; toLsn: string };
  /** The host to read from instead of the cloud's database host (a Galera donor). */
  host?: string;
  /** Ask mariabackup for --galera-info and return the cluster position it recorded. */
  galeraInfo?: boolean;
}

export interface StreamBackupResult extends StagedDatabaseArtifact {
  streamSeconds: number;
  compressedOn: 'source' | 'worker';
  /** An earlier attempt's mariabackup was still running on the host and was stopped first. */
  stoppedLeftover: boolean;
  /** xtrabackup_galera_info as read (with galeraInfo): "<cluster uuid>:<seqno>". */
  galeraInfo: string | null;
}

/** Keeps the last `max` bytes of a stream (error messages come at the end). */
export function tailOf(stream: Readable, max = 64 * 1024): () => string {
  let buf = Buffer.alloc(0);
  stream.on('data', (b: Buffer) => {
    buf = Buffer.concat([buf, b]);
    if (buf.length > max) buf = buf.subarray(buf.length - max);
  });
  return () => buf.toString('utf8');
}

/** Counts (and optionally hashes) the bytes flowing through. */
export function meter(onChunk: (n: number) => void, hash?: ReturnType<typeof createHash>): Transform {
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      hash?.update(chunk);
      onChunk(chunk.length);
      cb(null, chunk);
    },
  });
}

export function stageFailure(stage: ProcessStage, code: number | undefined, stderr: string): ApplicationFailure {
  return transient(
    FailureType.EncryptionFailed,
    `${stage.name} exited with ${code ?? 'a signal'}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
    'check the worker host (disk, gpg keys, zstd)',
  );
}

export async function streamBackup(env: Env, input: StreamBackupInput): Promise<StreamBackupResult> {
  const { cloud, backupId, base } = input;
  const db = { ...env.cloud(cloud).database, host: input.host ?? env.cloud(cloud).database.host };
  const { host, target } = env.dbHost(cloud, db.host);
  const keys = await env.gpgKeys();
  await ensureGpgHome(keys.homedir);
  const secret = await env.dbOptionFile(cloud, host);
  const outer = cancellationSignal();
  const guard = new PipelineGuard(outer);
  const signal = guard.signal;

  // a staged file in a folder repository; in an S3 repository the multipart upload of the final key
  const artifact = await env.repository.beginArtifact(
    artifactDir(cloud, 'database', backupId),
    DB_ARTIFACT_FILE,
    signal,
  );
  const { stagingDir } = artifact;
  // The backup id in the folder name tags the remote processes: a retry after a crash finds
  // and stops what an earlier attempt left running (two mariabackups would fight for locks).
  const workDir = `/tmp/osbackup-${backupId}-${randomBytes(4).toString('hex')}`;
  const leftover = await env.deps.ssh.run(
    target,
    inServiceContext(host, host.containers.mariadb, leftoverScript(backupId)),
    { signal },
  );
  const stoppedLeftover = /stopped/.test(leftover.stdout);
  const beat = heartbeater();
  const t0 = performance.now();
  let streamBytes = 0;
  let bytes = 0;
  const hash = createHash('sha256');
  try {
    const extra = base ? [`--incremental-lsn=${base.toLsn}`] : [];
    if (db.ftwrlWaitTimeout !== undefined)
      extra.push(`--ftwrl-wait-timeout=${db.ftwrlWaitTimeout}`, '--ftwrl-wait-query-type=all');
    if (db.ftwrlWaitThreshold !== undefined) extra.push(`--ftwrl-wait-threshold=${db.ftwrlWaitThreshold}`);
    if (input.galeraInfo) extra.push('--galera-info');
    // zstd where the data is (default): fewer bytes over SSH and through the worker; the
    // bench (bench/results.md) shows the worker-side variant losing on a loaded link
    const onSource = db.compressOn === 'source';
    const remote = await env.deps.ssh.exec(
      target,
      backupStreamScript(host, secret.length, workDir, extra, onSource ? { level: db.compressionLevel } : undefined),
      signal,
    );
    remote.stdin.end(secret);
    const remoteErr = tailOf(remote.stderr);
    const zstd = onSource ? undefined : zstdCompress(db.compressionLevel, signal);
    const gpg = gpgEncrypt(keys, signal);
    const out = artifact.sink;
    guard.track(remote.stdout, remote.stdin, ...(zstd ? [zstd.stdin, zstd.stdout] : []), gpg.stdin, gpg.stdout, out);
    let wireBytes = 0;
    const progress = () =>
      beat({
        step: 'streaming',
        ...(onSource ? { compressedBytes: wireBytes } : { streamBytes }),
        storedBytes: bytes,
        ...(env.repository.type === 's3' ? { uploadedBytes: artifact.storedBytes() } : {}),
        seconds: Math.round((performance.now() - t0) / 1000),
      });
    const stopBeats = beatEvery(progress);
    const [toZstd, toGpg, toFile, remoteDone, zstdExit, gpgExit] = await Promise.allSettled([
      guard.watch(
        'source',
        pipeline(
          remote.stdout,
          meter((n) => {
            wireBytes += n;
            if (!onSource) streamBytes += n;
            progress();
          }),
          zstd ? zstd.stdin : gpg.stdin,
        ),
      ),
      zstd ? guard.watch('zstd', pipeline(zstd.stdout, gpg.stdin)) : Promise.resolve(),
      guard.watch(
        'file',
        Promise.all([
          pipeline(
            gpg.stdout,
            meter((n) => (bytes += n), hash),
            out,
          ),
          artifact.finished,
        ]),
      ),
      guard.watchExit('remote', remote.done),
      guard.watchStage(zstd),
      guard.watchStage(gpg),
    ]).finally(stopBeats);
    if (onSource && /zstd: (command )?not found|zstd: not found/.test(remoteErr())) {
      throw fatal(
        FailureType.ConfigInvalid,
        `${db.host}: zstd is not installed on the host (needed to compress where the data is)`,
        `install zstd on ${db.host}, or set clouds.${cloud}.database.compressOn: worker`,
      );
    }
    if (outer?.aborted)
      throw transient(
        FailureType.MariadbBackupFailed,
        'backup cancelled; the partial artifact was discarded',
        'start it again',
      );
    // The root cause first: whatever broke first, not the broken pipes it left behind.
    if (guard.first?.part === 'file') throw await artifact.failure(guard.first.error);
    if (remoteDone.status === 'rejected') throw remoteDone.reason;
    const rc = remoteDone.value;
    // mariabackup's own verdict: with zstd on the host the pipeline's status is zstd's, so the
    // "completed OK!" line is what says the backup itself finished
    const brokeLocally =
      guard.first !== undefined && (guard.first.part === zstd?.name || guard.first.part === gpg.name);
    if (!brokeLocally && (rc.code !== 0 || !/completed OK!/.test(remoteErr()))) {
      throw classifyMariadbError(db.host, 'mariabackup --backup', rc.code, remoteErr());
    }
    if (zstd && zstdExit.status === 'fulfilled' && zstdExit.value.code !== 0)
      throw stageFailure(zstd, zstdExit.value.code, zstdExit.value.stderr);
    if (onSource) {
      const summary = parseZstdSummary(remoteErr());
      if (!summary)
        throw transient(
          FailureType.MariadbBackupFailed,
          `${db.host}: zstd on the host did not report what it compressed (${remoteErr().trim().split('\n').slice(-2).join(' | ')})`,
          'the stream may have been cut: the backup is retried',
        );
      if (summary.outBytes !== wireBytes)
        throw transient(
          FailureType.SshConnectionLost,
          `${db.host}: zstd wrote ${summary.outBytes} bytes but ${wireBytes} arrived`,
          'the link dropped data: the backup is retried',
        );
      streamBytes = summary.inBytes;
    }
    if (gpgExit.status === 'fulfilled' && gpgExit.value.code !== 0)
      throw stageFailure(gpg, gpgExit.value.code, gpgExit.value.stderr);
    if (toFile.status === 'rejected') throw await artifact.failure(toFile.reason);
    for (const r of [toZstd, toGpg])
      if (r.status === 'rejected')
        throw transient(
          FailureType.EncryptionFailed,
          `local pipeline broke: ${(r.reason as Error).message}`,
          'check the worker host',
        );
    const streamSeconds = (performance.now() - t0) / 1000;

    const meta = await env.deps.ssh.run(target, backupMetadataScript(host, workDir), { signal });
    if (meta.code !== 0) throw classifyMariadbError(db.host, 'reading xtrabackup_checkpoints', meta.code, meta.stderr);
    const [checkpointsText, infoText = ''] = meta.stdout.split('--osbackup--\n');
    const checkpoints = parseCheckpoints(checkpointsText ?? '');
    const expected = base ? 'incremental' : 'full-backuped';
    if (
      checkpoints.toLsn === '0' ||
      checkpoints.backupType !== expected ||
      (base && checkpoints.fromLsn !== base.toLsn)
    ) {
      throw fatal(
        FailureType.MariadbBackupFailed,
        `${db.host}: unexpected checkpoints (${checkpoints.backupType} from LSN ${checkpoints.fromLsn} to ${checkpoints.toLsn}; expected ${expected}${base ? ` from ${base.toLsn}` : ''})`,
        'inspect mariabackup on the host',
      );
    }
    const [fingerprints, zv, gv] = await Promise.all([
      keyFingerprints(keys.recipientKeyFiles, keys.homedir),
      zstdVersion(),
      gpgVersion(),
    ]);
    return {
      stagingDir,
      file: DB_ARTIFACT_FILE,
      bytes,
      sha256: hash.digest('hex'),
      streamBytes,
      streamSeconds,
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
      compressionLevel: db.compressionLevel,
      compressedOn: db.compressOn,
      tools: { zstd: zv, gpg: gv },
      source: { host: db.host, address: host.address, containerRuntime: host.containerRuntime },
      stoppedLeftover,
      // xtrabackup_galera_info travels only inside the stream (not to --extra-lsndir); mariabackup
      // logs the same "<uuid>:<seqno>" as it writes it
      galeraInfo: input.galeraInfo ? (/Writing Galera info succeeded with (\S+)/.exec(remoteErr())?.[1] ?? null) : null,
    };
  } catch (e) {
    guard.abort.abort();
    await artifact.finished.catch(() => undefined); // an upload aborts itself before it settles
    await env.repository.discardStaging(stagingDir);
    if ((e as { type?: string }).type === FailureType.MariadbPrivileges)
      throw await explainPrivileges(env, cloud, db.host, db.user, e as Error);
    // best effort: the metadata folder on the controller holds no data, only a few small files
    await env.deps.ssh.run(target, `rm -rf '${workDir}'`).catch(() => undefined);
    throw e;
  }
}

/** Turns "access denied / privilege" into the exact grants missing, when the server can say. */
async function explainPrivileges(
  env: Env,
  cloud: string,
  hostName: string,
  user: string,
  original: Error,
): Promise<Error> {
  const grants = await runSql(env, cloud, hostName, 'SHOW GRANTS').catch(() => undefined);
  if (grants === undefined) return original;
  const missing = missingGrants(grants);
  if (missing.length === 0) return original;
  return fatal(
    FailureType.MariadbPrivileges,
    `${hostName}: the backup user ${user} lacks ${missing.join(', ')} (mariabackup: ${original.message.split('. Fix:')[0]})`,
    `GRANT ${missing.join(', ')} ON *.* TO the backup user (for example: GRANT ${missing.join(', ')} ON *.* TO '${user}'@'localhost')`,
  );
}
