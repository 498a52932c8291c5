// Restore steps on a target host: stream back (verify SHA-256 → gpg → zstd → mbstream -x over
// SSH), prepare, stop, keep the old datadir aside, copy back, start. Each step can be retried.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/common';
import { artifactDir, type ArtifactManifest } from '../../core/manifest/manifest.js';
import { isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import type { Env } from '../deps.js';
import { fatal, transient, FailureType } from '../errors.js';
import { beatEvery, cancellationSignal, checkpoint, heartbeater, withHeartbeat, workflowRunId } from '../heartbeat.js';
import { ensureGpgHome, gpgDecrypt } from '../crypto/gpg.js';
import { zstdDecompress } from '../crypto/zstd.js';
import { shJoin, shQuote } from '../ssh/quote.js';
import { meter, stageFailure, tailOf } from './backup.js';
import { PipelineGuard } from '../crypto/stage.js';
import { classifyMariadbError } from './classify.js';
import { classifyDecryptError } from '../crypto/escrow.js';
import { chainTo, newestIntactRestorePoint } from '../../core/chain/chain.js';
import { runSql } from './facts.js';

export async function findDatabaseBackup(env: Env, cloud: string, backupId?: string): Promise<ArtifactManifest> {
  if (backupId) {
    const m = await env.repository.readManifest(artifactDir(cloud, 'database', backupId));
    if (!m || !isDatabaseManifest(m))
      throw fatal(
        FailureType.BackupNotFound,
        `backup ${backupId} of cloud ${cloud} has no manifest in ${env.repository.location}`,
        'list restore points with `osbackup catalog list`',
      );
    return m;
  }
  const all = (await env.repository.scanManifests(cloud)).filter(isDatabaseManifest);
  const newest = newestIntactRestorePoint(all, new Set());
  const m = newest ? all.find((x) => x.id === newest) : undefined;
  if (!m)
    throw fatal(
      FailureType.BackupNotFound,
      `cloud ${cloud} has no restorable database backup in ${env.repository.location}`,
      'take a full backup first: `osbackup backup db --full --wait`',
    );
  return m;
}

/** The chain (full first) that restores `backupId`, checked for gaps before anything is touched. */
export async function planRestore(env: Env, cloud: string, backupId?: string): Promise<ArtifactManifest[]> {
  const all = (await env.repository.scanManifests(cloud)).filter(isDatabaseManifest);
  const targetId = backupId ?? newestIntactRestorePoint(all, new Set());
  const target = targetId ? all.find((m) => m.id === targetId) : undefined;
  if (!target) {
    throw backupId
      ? fatal(
          FailureType.BackupNotFound,
          `backup ${backupId} of cloud ${cloud} has no manifest in ${env.repository.location}`,
          'list restore points with `osbackup catalog list`',
        )
      : fatal(
          FailureType.BackupNotFound,
          `cloud ${cloud} has no restorable database backup in ${env.repository.location}`,
          'take a full backup first: `osbackup backup db --full --wait`',
        );
  }
  const r = chainTo(all, target.id);
  if ('problem' in r) {
    const alt = newestIntactRestorePoint(all, new Set([r.problem.id]));
    throw fatal(
      FailureType.ChainBroken,
      `cannot restore ${target.id}: ${r.problem.reason}`,
      alt
        ? `restore ${alt} instead (the newest restore point with an intact chain), and take a new full backup`
        : 'no intact restore point remains: take a new full backup now',
    );
  }
  return r.chain;
}

/** Re-hashes every artifact of a chain: a corrupt one is named before the target is touched. */
export async function verifyChain(env: Env, cloud: string, ids: string[]): Promise<{ bytes: number }> {
  const all = (await env.repository.scanManifests(cloud)).filter(isDatabaseManifest);
  let bytes = 0;
  const progress = checkpoint('verifying chain');
  for (const id of ids) {
    if (progress.finished.has(id)) continue;
    const m = all.find((x) => x.id === id);
    if (!m)
      throw fatal(
        FailureType.BackupNotFound,
        `backup ${id} vanished from the repository`,
        'list restore points with `osbackup catalog list`',
      );
    const rel = join(artifactDir(cloud, 'database', id), m.artifact.file);
    const got = await env.repository.hashArtifact(rel).catch((e: unknown) => {
      // a store that cannot be reached is not a corrupt artifact: that failure is retried
      if (e instanceof ApplicationFailure && e.type !== FailureType.ArtifactMissing) throw e;
      return { sha256: 'unreadable', bytes: -1 };
    });
    bytes += Math.max(got.bytes, 0);
    if (got.sha256 !== m.artifact.sha256 || got.bytes !== m.artifact.bytes) {
      const alt = newestIntactRestorePoint(all, new Set([id]));
      throw fatal(
        FailureType.ChecksumMismatch,
        `artifact ${rel} is corrupt: SHA-256 ${got.sha256} (${got.bytes} bytes) but the manifest recorded ${m.artifact.sha256} (${m.artifact.bytes} bytes); nothing on the target was touched`,
        alt
          ? `restore ${alt}, the newest restore point whose chain is intact; then find out what damaged the repository`
          : 'no intact restore point remains: take a new full backup now, then find out what damaged the repository',
      );
    }
    progress.done(id, { artifact: id, bytes });
  }
  return { bytes };
}

/** Scratch on the target: <restoreDir>/<restore point>/<chain member>/ */
function restoreDirFor(restoreDir: string, restorePoint: string, member?: string): string {
  return member ? `${restoreDir}/${restorePoint}/${member}` : `${restoreDir}/${restorePoint}`;
}

export async function streamToHost(
  env: Env,
  cloud: string,
  backupId: string,
  targetHost: string,
  restorePoint: string = backupId,
): Promise<{ bytes: number; seconds: number; restoreDir: string }> {
  const manifest = await findDatabaseBackup(env, cloud, backupId);
  const { host, target } = env.dbHost(cloud, targetHost);
  const keys = await env.gpgKeys();
  await ensureGpgHome(keys.homedir);
  const dir = restoreDirFor(host.mariadb.restoreDir, restorePoint, backupId);
  const rel = join(artifactDir(cloud, 'database', backupId), manifest.artifact.file);
  const guard = new PipelineGuard(cancellationSignal());
  const signal = guard.signal;
  const beat = heartbeater();
  const t0 = performance.now();
  const hash = createHash('sha256');
  let bytes = 0;

  // decompress where the data lands (as the backup compressed where it was read), unless the
  // config says the worker does it
  const onTarget = env.cloud(cloud).database.compressOn === 'source';
  const remote = await env.deps.ssh.exec(
    target,
    `rm -rf ${shQuote(dir)} && mkdir -p -m 700 ${shQuote(dir)} && ${onTarget ? 'zstd -dq | ' : ''}mbstream -x -C ${shQuote(dir)}`,
    signal,
  );
  const remoteErr = tailOf(remote.stderr);
  remote.stdout.resume();
  const gpg = gpgDecrypt(keys, signal);
  const zstd = onTarget ? undefined : zstdDecompress(signal);
  const source = await env.repository.openArtifact(rel, signal);
  guard.track(source, gpg.stdin, gpg.stdout, ...(zstd ? [zstd.stdin, zstd.stdout] : []), remote.stdin, remote.stdout);
  const progress = () => beat({ step: 'streaming to ' + targetHost, bytes, of: manifest.artifact.bytes });
  const stopBeats = beatEvery(progress);
  const [fromFile, toZstd, toRemote, remoteDone, gpgExit, zstdExit] = await Promise.allSettled([
    guard.watch(
      'file',
      pipeline(
        source,
        meter((n) => {
          bytes += n;
          progress();
        }, hash),
        gpg.stdin,
      ),
    ),
    guard.watch('gpg', pipeline(gpg.stdout, zstd ? zstd.stdin : remote.stdin)),
    zstd ? guard.watch('zstd', pipeline(zstd.stdout, remote.stdin)) : Promise.resolve(),
    guard.watchExit('remote', remote.done),
    guard.watchStage(gpg),
    guard.watchStage(zstd),
  ]).finally(stopBeats);
  function targetFailure() {
    const err = remoteErr().trim().split('\n').slice(-3).join(' | ');
    const code = remoteDone.status === 'fulfilled' ? remoteDone.value.code : null;
    if (/No space left/i.test(err))
      return fatal(
        FailureType.DiskFull,
        `${targetHost}: no space left under ${host.mariadb.restoreDir} while extracting (${err}); the server and its data were not touched`,
        `free space there or point hosts.${targetHost}.mariadb.restoreDir at a larger disk`,
      );
    return transient(
      FailureType.MariadbRestoreFailed,
      `${targetHost}: mbstream -x into ${dir} failed (exit ${code}): ${err}`,
      `check free space and permissions under ${host.mariadb.restoreDir} on ${targetHost}`,
    );
  }
  const remoteFailed = () =>
    remoteDone.status === 'fulfilled' && remoteDone.value.code !== 0 && remoteDone.value.signal !== 'ABORTED';
  if (fromFile.status === 'rejected') {
    const code = (fromFile.reason as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw fatal(
        FailureType.BackupNotFound,
        `artifact ${rel} is missing from the repository`,
        'restore another backup (`osbackup catalog list`)',
      );
  }
  // Integrity first: a corrupt or tampered file must be named as such, whatever broke after
  // it (gpg emits plaintext before its final integrity check, so mbstream may trip first).
  // When the stream stopped early, the file is hashed on its own to decide.
  let sha256 = hash.digest('hex');
  const failed =
    guard.first !== undefined || [fromFile, toZstd, toRemote, remoteDone].some((r) => r.status === 'rejected');
  if (failed) {
    const whole = await env.repository.hashArtifact(rel).catch(() => undefined);
    if (whole) ({ sha256, bytes } = whole);
  }
  if (sha256 !== manifest.artifact.sha256 || bytes !== manifest.artifact.bytes) {
    const all = (await env.repository.scanManifests(cloud)).filter(isDatabaseManifest);
    const alt = newestIntactRestorePoint(all, new Set([backupId]));
    throw fatal(
      FailureType.ChecksumMismatch,
      `artifact ${rel} is corrupt: SHA-256 ${sha256} (${bytes} bytes) but the manifest recorded ${manifest.artifact.sha256} (${manifest.artifact.bytes} bytes); the server on ${targetHost} was not touched`,
      alt
        ? `restore ${alt}, the newest restore point whose chain is intact; then find out what damaged the repository`
        : 'no intact restore point remains: take a new full backup now, then find out what damaged the repository',
    );
  }
  // the target failing (disk full, mbstream error) breaks gpg's pipe too: name the target then
  if (
    guard.first?.part === 'remote' ||
    guard.first?.part === 'zstd' ||
    (guard.first?.part === gpg.name &&
      remoteFailed() &&
      !/decrypt|session key|secret key|integrity|CRC|invalid packet/i.test(
        gpgExit.status === 'fulfilled' ? gpgExit.value.stderr : '',
      ))
  ) {
    if (remoteDone.status === 'rejected') throw remoteDone.reason;
    if (remoteFailed()) throw targetFailure();
  }
  if (gpgExit.status === 'fulfilled' && gpgExit.value.code !== 0) {
    // names the key or passphrase the artifact needs; nothing on the target has changed
    throw classifyDecryptError(gpgExit.value.stderr, manifest.artifact.encryption, {
      artifact: `${rel} (nothing on ${targetHost} was changed)`,
      gpgHome: keys.homedir,
    });
  }
  if (zstd && zstdExit.status === 'fulfilled' && zstdExit.value.code !== 0)
    throw stageFailure(zstd, zstdExit.value.code, zstdExit.value.stderr);
  if (remoteDone.status === 'rejected') throw remoteDone.reason;
  if (remoteDone.value.code !== 0) throw targetFailure();
  for (const r of [fromFile, toZstd, toRemote])
    if (r.status === 'rejected')
      throw transient(
        FailureType.MariadbRestoreFailed,
        `restore stream broke: ${(r.reason as Error).message}`,
        'retry; check the link to the host',
      );
  return { bytes, seconds: (performance.now() - t0) / 1000, restoreDir: dir };
}

export async function remote(env: Env, cloud: string, hostName: string, step: string, script: string): Promise<string> {
  const { target } = env.host(cloud, hostName);
  const r = await withHeartbeat(step, env.deps.ssh.run(target, script, { signal: cancellationSignal() }));
  if (r.code !== 0) throw classifyMariadbError(hostName, step, r.code, r.stderr);
  return r.stdout;
}

/**
 * Prepares the full backup, then applies each incremental in order. Idempotent: the base's
 * checkpoints say how far it has been brought, so a retry continues where it stopped.
 */
export async function prepareChainOnHost(
  env: Env,
  cloud: string,
  restorePoint: string,
  members: { id: string; kind: string; toLsn: string }[],
  targetHost: string,
): Promise<{ seconds: number; applied: string[] }> {
  const { host } = env.dbHost(cloud, targetHost);
  const t0 = performance.now();
  const full = members[0];
  if (!full || full.kind !== 'full')
    throw fatal(
      FailureType.ChainBroken,
      `restore plan for ${restorePoint} does not start with a full backup`,
      'restore another backup',
    );
  const baseDir = shQuote(restoreDirFor(host.mariadb.restoreDir, restorePoint, full.id));
  const readState = async () => {
    const text = await remote(
      env,
      cloud,
      targetHost,
      'reading the prepared checkpoints',
      `cat ${baseDir}/xtrabackup_checkpoints`,
    );
    return { type: /backup_type = (\S+)/.exec(text)?.[1] ?? '', toLsn: /to_lsn = (\d+)/.exec(text)?.[1] ?? '' };
  };
  // Progress is recorded in a marker beside the base: the checkpoints' LSNs cannot tell
  // whether an incremental was applied (to_lsn is the checkpoint at backup start).
  const marker = `${baseDir}/.osbackup-applied`;
  const done = (await remote(env, cloud, targetHost, 'reading restore progress', `cat ${marker} 2>/dev/null; true`))
    .split('\n')
    .filter(Boolean);
  const interrupted = done.find((l) => l.startsWith('applying '));
  if (interrupted)
    throw fatal(
      FailureType.MariadbRestoreFailed,
      `${targetHost}: an earlier attempt was interrupted while ${interrupted}; the prepared copy cannot be trusted`,
      'start the restore again: it unpacks the chain afresh',
    );
  const applied: string[] = [];
  if (!done.includes(`prepared ${full.id}`)) {
    await remote(
      env,
      cloud,
      targetHost,
      'mariabackup --prepare',
      `echo "applying ${full.id}" >> ${marker} && mariabackup --prepare --target-dir=${baseDir} && sed -i '$d' ${marker} && echo "prepared ${full.id}" >> ${marker}`,
    );
    const state = await readState();
    if (state.type !== 'log-applied')
      throw fatal(
        FailureType.MariadbRestoreFailed,
        `${targetHost}: mariabackup --prepare did not finish (backup_type ${state.type})`,
        'the backup may be corrupt or from another MariaDB version: use a matching mariabackup or an earlier backup',
      );
  }
  for (const inc of members.slice(1)) {
    if (done.includes(`prepared ${inc.id}`)) continue; // applied by an earlier attempt
    const incDir = shQuote(restoreDirFor(host.mariadb.restoreDir, restorePoint, inc.id));
    await remote(
      env,
      cloud,
      targetHost,
      `mariabackup --prepare --incremental-dir (${inc.id})`,
      `echo "applying ${inc.id}" >> ${marker} && mariabackup --prepare --target-dir=${baseDir} --incremental-dir=${incDir} && sed -i '$d' ${marker} && echo "prepared ${inc.id}" >> ${marker}`,
    );
    applied.push(inc.id);
  }
  return { seconds: (performance.now() - t0) / 1000, applied };
}

export async function serverCommand(
  env: Env,
  cloud: string,
  hostName: string,
  which: 'stop' | 'start' | 'bootstrap',
): Promise<void> {
  const { host } = env.dbHost(cloud, hostName);
  // bootstrap: the first node of a new Galera cluster (--wsrep-new-cluster), galeraClusterRestoreWorkflow
  const bootstrap = host.mariadb.bootstrapCommand;
  if (which === 'bootstrap' && !bootstrap)
    throw fatal(
      FailureType.ConfigInvalid,
      `${hostName} has no bootstrap command (clouds.${cloud}.hosts.${hostName}.mariadb.bootstrapCommand)`,
      'set it to the command that starts MariaDB there with --wsrep-new-cluster',
    );
  const argv =
    which === 'stop' ? host.mariadb.stopCommand : which === 'bootstrap' ? bootstrap! : host.mariadb.startCommand;
  await remote(env, cloud, hostName, `${which} MariaDB (${argv.join(' ')})`, shJoin(argv));
}

export async function waitForServer(env: Env, cloud: string, hostName: string, timeoutMs = 120_000): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    try {
      await runSql(env, cloud, hostName, 'SELECT 1');
      return;
    } catch (e) {
      if (performance.now() - t0 > timeoutMs) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Moves the current datadir aside (never deleted by osbackup), then copies the prepared backup in. */
export async function copyBackOnHost(
  env: Env,
  cloud: string,
  restorePoint: string,
  fullId: string,
  targetHost: string,
): Promise<{ asideDir: string | null; seconds: number }> {
  const { host } = env.dbHost(cloud, targetHost);
  const t0 = performance.now();
  const m = host.mariadb;
  const dd = shQuote(m.datadir);
  const src = shQuote(restoreDirFor(m.restoreDir, restorePoint, fullId));
  const defaults = m.defaultsFile ? `--defaults-file=${shQuote(m.defaultsFile)} ` : '';
  // The old datadir is moved aside whole, so the prepared files can be moved into place rather
  // than copied (a rename when the scratch folder is on the datadir's filesystem: seconds instead
  // of a second full write). A marker beside the scratch copy says this run began a move: a
  // retry after a lost worker finishes it (the files already moved are no longer in the scratch
  // copy) and names the same aside folder. Across filesystems the files are copied, as before.
  // The marker is this run's: one left by another restore of the same backup that never ended
  // must not make this one move files into a datadir it did not set aside.
  const run = workflowRunId();
  const marker = shQuote(`${restoreDirFor(m.restoreDir, restorePoint)}/.moving-back-${run}`);
  const mb = `mariabackup ${defaults}--target-dir=${src} --datadir=${dd}`;
  const script = [
    'set -e',
    `if [ -e ${marker} ]; then`,
    `  aside=$(cat ${marker}); [ -n "$aside" ] && echo "aside=$aside"`,
    `  ${mb} --move-back --force-non-empty-directories 2>&1 | tail -n 5`,
    'else',
    `  aside=${shQuote(`${m.datadir}.before-${restorePoint}`)}`,
    `  if [ -d ${dd} ] && [ -n "$(ls -A ${dd})" ]; then [ -e "$aside" ] && aside="$aside.$(date +%s)"; mv ${dd} "$aside"; echo "aside=$aside"; else aside=; fi`,
    `  mkdir -p ${dd}`,
    `  if [ "$(stat -c %d ${src})" = "$(stat -c %d ${dd})" ]; then`,
    `    printf '%s' "$aside" > ${marker}`,
    `    ${mb} --move-back 2>&1 | tail -n 5`,
    '  else',
    `    ${mb} --copy-back 2>&1 | tail -n 5`,
    '  fi',
    'fi',
    m.owner ? `chown -R ${shQuote(m.owner)} ${dd}` : 'true',
  ].join('\n');
  const out = await remote(
    env,
    cloud,
    targetHost,
    'mariabackup --copy-back',
    `bash -c ${shQuote('set -o pipefail; ' + script)}`,
  );
  const aside = /aside=(.*)/.exec(out)?.[1] ?? null;
  return { asideDir: aside, seconds: (performance.now() - t0) / 1000 };
}

export async function removeRestoreDir(env: Env, cloud: string, backupId: string, targetHost: string): Promise<void> {
  const { host } = env.dbHost(cloud, targetHost);
  await remote(
    env,
    cloud,
    targetHost,
    'removing the restore scratch folder',
    `rm -rf ${shQuote(restoreDirFor(host.mariadb.restoreDir, backupId))}`,
  );
}
