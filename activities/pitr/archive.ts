// Continuous binary-log archiving, one step at a time: read where the server's logs stand,
// copy the new bytes of each file (closed ones to their end, the active one to the position
// SHOW MASTER STATUS reports — a transaction boundary), cut them into segments at event
// boundaries, seal each (zstd → gpg, hashed) and publish it as an artifact folder, manifest last.
//
// Exactly once without a log of our own: a segment's id is its (host, file, start position),
// so an attempt that died after publishing is found again by the next one, which continues
// from that segment's end instead of archiving the range twice; one that died before
// publishing left only a staging folder, and the range is archived afresh.
import { join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { artifactDir, MANIFEST_FORMAT, RECIPE_FILE } from '../../core/manifest/manifest.js';
import { isBinlogManifest } from '../../core/manifest/any-manifest.js';
import {
  binlogSegmentId,
  binlogSequence,
  segmentArtifact,
  SEGMENT_FILE,
  type BinlogManifest,
} from '../../core/pitr/segments.js';
import { binlogSegmentRecipe } from '../../core/pitr/recipe.js';
import type { Env } from '../deps.js';
import { fatal, fsFailure, FailureType, transient } from '../errors.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { sealStream, type Sealed } from '../control-plane/sealed.js';
import { gpgVersion, keyFingerprints } from '../crypto/gpg.js';
import { zstdVersion } from '../crypto/zstd.js';
import { inServiceContext, shQuote } from '../ssh/quote.js';
import { classifyMariadbError } from '../mariadb/classify.js';
import { runSql } from '../mariadb/facts.js';
import { EventScanner } from './events.js';
import { writeArchiveProgress } from './progress.js';

export interface BinlogPos {
  file: string;
  position: number;
}

export interface BinlogServerState {
  logBin: boolean;
  basename: string;
  serverId: number;
  gtidBinlogPos: string;
  /** Server time (UTC) read before the position: every event written earlier is at or before it. */
  at: string;
  logSlaveUpdates: boolean;
  wsrepOn: boolean;
  wsrepGtidMode: boolean;
  files: { file: string; size: number }[];
  master: BinlogPos | null;
}

/** The status batch: time first, then the positions (so the time is a safe lower bound). */
export const BINLOG_STATUS_SQL =
  [
    "SELECT '#vars', @@global.log_bin, @@global.log_bin_basename, @@global.server_id, @@global.gtid_binlog_pos, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), @@global.log_slave_updates, IFNULL((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME='WSREP_ON'), 'OFF'), IFNULL((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME='WSREP_GTID_MODE'), 'OFF')",
    "SELECT '#logs'",
    'SHOW BINARY LOGS',
    "SELECT '#master'",
    'SHOW MASTER STATUS',
  ].join(';\n') + ';';

export function parseBinlogStatus(out: string): BinlogServerState {
  let section = '';
  const s: BinlogServerState = {
    logBin: false,
    basename: '',
    serverId: 0,
    gtidBinlogPos: '',
    at: '',
    logSlaveUpdates: false,
    wsrepOn: false,
    wsrepGtidMode: false,
    files: [],
    master: null,
  };
  for (const line of out.split('\n')) {
    if (!line) continue;
    const c = line.split('\t');
    if (c[0] === '#vars') {
      s.logBin = c[1] === '1';
      s.basename = c[2] === 'NULL' ? '' : (c[2] ?? '');
      s.serverId = Number(c[3]);
      s.gtidBinlogPos = c[4] ?? '';
      // milliseconds are plenty, and every Date parser reads them
      s.at = (c[5] ?? '').replace(/(\.\d{3})\d*Z$/, '$1Z');
      s.logSlaveUpdates = c[6] === '1';
      s.wsrepOn = /^(ON|1)$/i.test(c[7] ?? '');
      s.wsrepGtidMode = /^(ON|1)$/i.test(c[8] ?? '');
      continue;
    }
    if (c.length === 1 && c[0]!.startsWith('#')) {
      section = c[0]!;
      continue;
    }
    if (section === '#logs' && c.length >= 2) s.files.push({ file: c[0]!, size: Number(c[1]) });
    else if (section === '#master' && c.length >= 2) s.master = { file: c[0]!, position: Number(c[1]) };
  }
  return s;
}

export async function readBinlogStatus(env: Env, cloud: string, hostName: string): Promise<BinlogServerState> {
  let out: string;
  try {
    out = await runSql(env, cloud, hostName, BINLOG_STATUS_SQL);
  } catch (e) {
    if ((e as { type?: string }).type === FailureType.MariadbPrivileges) {
      const user = env.cloud(cloud).database.user;
      throw fatal(
        FailureType.MariadbPrivileges,
        `${hostName}: the backup user ${user} may not read the binary log positions (SHOW BINARY LOGS / SHOW MASTER STATUS need BINLOG MONITOR): ${(e as Error).message.split('. Fix:')[0]}`,
        `GRANT BINLOG MONITOR ON *.* TO '${user}'@'localhost' (MariaDB < 10.5: REPLICATION CLIENT)`,
      );
    }
    throw e;
  }
  const s = parseBinlogStatus(out);
  if (!s.logBin || !s.master || !s.basename) {
    throw fatal(
      FailureType.ConfigInvalid,
      `${hostName}: binary logging is off, so there is nothing to archive and no point-in-time recovery`,
      'set log_bin (and binlog_format=ROW; on Galera also log_slave_updates=ON) in the server config and restart MariaDB',
    );
  }
  if (s.wsrepOn && !s.logSlaveUpdates) {
    throw fatal(
      FailureType.ConfigInvalid,
      `${hostName}: a Galera node with log_slave_updates=OFF logs only the writes made on this node, so its binary log misses the rest of the cluster's changes`,
      'set log_slave_updates=ON (and wsrep_gtid_mode=ON, the same gtid_domain_id on every node) on the Galera nodes, then restart them one at a time',
    );
  }
  return s;
}

export interface ArchiveStepInput {
  cloud: string;
  /** Where the archive stands; null: find out from the repository (first run, or after a reset). */
  from: BinlogPos | null;
  workflowId: string;
  toolVersion?: string;
  /** At most this many segments per call (the workflow calls again at once when more is pending). */
  maxSegments?: number;
}

export interface ArchivedSegment {
  id: string;
  file: string;
  startPosition: number;
  endPosition: number;
  events: number;
  firstEventAt: string | null;
  lastEventAt: string | null;
  lastGtid: string | null;
  bytes: number;
  adopted: boolean;
}

export interface ArchiveStepResult {
  from: BinlogPos;
  segments: ArchivedSegment[];
  server: {
    host: string;
    file: string;
    position: number;
    at: string;
    gtidBinlogPos: string;
    galera: boolean;
    logSlaveUpdates: boolean;
  };
  /** The archive held every event the server had written as of server.at. */
  caughtUp: boolean;
  /** Set when the start position had to be chosen (from a published segment or a backup). */
  startedFrom: string | null;
}

/** Where a fresh archiver starts: after the newest published segment, else at the start of the newest backup's binlog file. */
async function startPosition(
  env: Env,
  cloud: string,
  host: string,
  state: BinlogServerState,
): Promise<{ from: BinlogPos; why: string }> {
  const all = await env.repo.scanManifests(cloud);
  const segs = all.filter(isBinlogManifest).filter((m) => m.source.host === host);
  let newest: BinlogManifest | undefined;
  for (const m of segs)
    if (
      !newest ||
      m.binlog.sequence > newest.binlog.sequence ||
      (m.binlog.sequence === newest.binlog.sequence && m.binlog.endPosition > newest.binlog.endPosition)
    )
      newest = m;
  if (newest)
    return {
      from: { file: newest.binlog.file, position: newest.binlog.endPosition },
      why: `after the newest archived segment ${newest.id}`,
    };
  const backups = all
    .filter((m) => m.component === 'database' && m.source.host === host && m.mariadb.binlog)
    .sort((a, b) => a.completedAt.localeCompare(b.completedAt));
  const b = backups.at(-1);
  if (
    b &&
    b.component === 'database' &&
    b.mariadb.binlog &&
    state.files.some((f) => f.file === b.mariadb.binlog!.file)
  ) {
    return {
      from: { file: b.mariadb.binlog.file, position: 0 },
      why: `the start of ${b.mariadb.binlog.file}, the binary log of the newest backup ${b.id}`,
    };
  }
  // no backup to replay onto yet: archive from the active log on, the next full backup builds on it
  return {
    from: { file: state.master!.file, position: 0 },
    why: `the start of the active binary log ${state.master!.file} (no backup with a binlog position in the repository yet)`,
  };
}

export async function archiveBinlogStep(
  env: Env,
  input: ArchiveStepInput,
  onPublished: (id: string) => Promise<void>,
): Promise<ArchiveStepResult> {
  const { cloud } = input;
  const db = env.cloud(cloud).database;
  const hostName = db.host;
  const { host, target } = env.host(cloud, hostName);
  const signal = cancellationSignal();
  const beat = heartbeater(1000);
  const state = await readBinlogStatus(env, cloud, hostName);
  let startedFrom: string | null = null;
  let from = input.from;
  if (!from) {
    const s = await startPosition(env, cloud, hostName, state);
    from = s.from;
    startedFrom = s.why;
  }
  const keys = await env.gpgKeys();
  const maxBytes = db.binlog.maxSegmentMiB * 1024 * 1024;
  const dir = posix.dirname(state.basename);
  const segments: ArchivedSegment[] = [];
  let tools: { zstd: string; gpg: string } | undefined;
  let fingerprints: string[] | undefined;
  const maxSegments = input.maxSegments ?? 32;

  for (;;) {
    if (signal?.aborted) break;
    const id = binlogSegmentId(hostName, from.file, from.position);
    const rel = artifactDir(cloud, 'binlog', id);
    const existing = await env.repo.readManifest(rel);
    if (existing && isBinlogManifest(existing)) {
      // published by an attempt that died before reporting it: continue after it, never twice
      segments.push({
        id,
        file: existing.binlog.file,
        startPosition: existing.binlog.startPosition,
        endPosition: existing.binlog.endPosition,
        events: existing.binlog.events,
        firstEventAt: existing.binlog.firstEventAt,
        lastEventAt: existing.binlog.lastEventAt,
        lastGtid: existing.binlog.lastGtid,
        bytes: existing.artifact.bytes,
        adopted: true,
      });
      from = { file: from.file, position: existing.binlog.endPosition };
      continue;
    }
    const idx = state.files.findIndex((f) => f.file === from!.file);
    if (idx < 0) {
      const oldest = state.files[0]?.file ?? '(none)';
      throw fatal(
        FailureType.BinlogGap,
        `${hostName}: binary log ${from.file} is no longer on the server (oldest there: ${oldest}); the events from ${from.file} position ${from.position} on were purged before they were archived`,
        `take a full backup now (osbackup backup db --full) and restart the archiver with --reset: point-in-time recovery resumes from that backup; raise expire_logs_days / binlog_expire_logs_seconds so the server keeps its logs until they are archived`,
      );
    }
    const active = from.file === state.master!.file;
    const end = active ? state.master!.position : state.files[idx]!.size;
    if (end < from.position) {
      throw fatal(
        FailureType.BinlogGap,
        `${hostName}: ${from.file} ends at ${end}, before the archived position ${from.position} (RESET MASTER, or a different server at this address?)`,
        'take a full backup now and restart the archiver with --reset',
      );
    }
    if (end === from.position) {
      if (active) break; // caught up
      const next = state.files[idx + 1];
      if (!next) break;
      from = { file: next.file, position: 0 };
      continue;
    }
    if (segments.length >= maxSegments) break;
    // the new bytes, read where the server keeps them (inside the container on Kolla hosts)
    const len = Math.min(end - from.position, maxBytes);
    const path = `${dir}/${from.file}`;
    const script = inServiceContext(
      host,
      host.containers.mariadb,
      `tail -c +${from.position + 1} ${shQuote(path)} | head -c ${len}`,
    );
    const startedAt = new Date().toISOString();
    let stagingDir: string;
    try {
      stagingDir = await env.repo.createStaging(id);
    } catch (e) {
      throw fsFailure(e, `creating a staging folder in ${env.repo.root}`);
    }
    try {
      // streamed: read → cut at the last whole event → zstd → gpg → staged file, one event held at most
      const { sealed, scan } = await sealRange(env, target, keys, {
        script,
        len,
        startPosition: from.position,
        level: db.binlog.compressionLevel,
        file: join(stagingDir, SEGMENT_FILE),
        signal,
        where: { cloud, host: hostName, path, dir, container: host.containers.mariadb },
        maxSegmentMiB: db.binlog.maxSegmentMiB,
        onBytes: (received) => beat({ step: 'archiving', segment: id, received, segments: segments.length }),
      });
      tools ??= { zstd: await zstdVersion(), gpg: await gpgVersion() };
      fingerprints ??= await keyFingerprints(keys.recipientKeyFiles, keys.homedir);
      const prev =
        from.position === 0 && idx > 0
          ? { file: state.files[idx - 1]!.file, endPosition: state.files[idx - 1]!.size }
          : null;
      const m: BinlogManifest = {
        formatVersion: MANIFEST_FORMAT,
        id,
        cloud,
        component: 'binlog',
        kind: 'binlog',
        parentId: null,
        startedAt,
        completedAt: new Date().toISOString(),
        workflowId: input.workflowId,
        source: {
          host: hostName,
          address: host.address,
          containerRuntime: host.containerRuntime,
          serverId: state.serverId,
        },
        binlog: {
          file: from.file,
          sequence: binlogSequence(from.file) ?? 0,
          startPosition: from.position,
          endPosition: from.position + scan.wholeBytes,
          events: scan.events,
          firstEventAt: scan.firstEventAt,
          lastEventAt: scan.lastEventAt,
          firstGtid: scan.firstGtid,
          lastGtid: scan.lastGtid,
          serverIds: scan.serverIds,
          // a cut short of the server's position archives only part of what existed at `at`
          archivedThrough: from.position + scan.wholeBytes === end ? state.at : (scan.lastEventAt ?? state.at),
          previous: prev,
        },
        artifact: segmentArtifact(
          sealed,
          scan.wholeBytes,
          db.binlog.compressionLevel,
          keys.passphrase !== undefined,
          fingerprints,
        ),
        tools: { ...tools, osbackup: input.toolVersion ?? 'unknown' },
        restoreRecipe: RECIPE_FILE,
      };
      await env.repo.publish(stagingDir, rel, m, { [RECIPE_FILE]: binlogSegmentRecipe(m) });
      await onPublished(id);
      segments.push({
        id,
        file: from.file,
        startPosition: m.binlog.startPosition,
        endPosition: m.binlog.endPosition,
        events: scan.events,
        firstEventAt: scan.firstEventAt,
        lastEventAt: scan.lastEventAt,
        lastGtid: scan.lastGtid,
        bytes: sealed.bytes,
        adopted: false,
      });
      from = { file: from.file, position: m.binlog.endPosition };
      beat({ step: 'archiving', segment: id, segments: segments.length });
    } catch (e) {
      await env.repo.discardStaging(stagingDir);
      if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
      throw fsFailure(e, `publishing binlog segment ${id}`);
    }
  }
  const caughtUp = from.file === state.master!.file && from.position === state.master!.position;
  // nothing new: no segment records that the archive reached state.at, so the progress object
  // does (an idle period after the last event stays recoverable, across worker crashes too)
  if (caughtUp && !segments.some((s) => !s.adopted)) {
    try {
      await writeArchiveProgress(env, cloud, {
        host: hostName,
        file: from.file,
        position: from.position,
        archivedThrough: state.at,
      });
    } catch (e) {
      throw fsFailure(e, `recording the archive's progress in ${env.repo.root}`);
    }
  }
  return {
    from,
    segments,
    server: {
      host: hostName,
      file: state.master!.file,
      position: state.master!.position,
      at: state.at,
      gtidBinlogPos: state.gtidBinlogPos,
      galera: state.wsrepOn,
      logSlaveUpdates: state.logSlaveUpdates,
    },
    caughtUp,
    startedFrom,
  };
}

interface RangeRead {
  /** Prints the range's bytes on the host. */
  script: string;
  len: number;
  startPosition: number;
  level: number;
  /** The staged segment file. */
  file: string;
  signal: AbortSignal | undefined;
  where: { cloud: string; host: string; path: string; dir: string; container: string };
  maxSegmentMiB: number;
  onBytes: (received: number) => void;
}

/**
 * One range of a binary log, from the host to a sealed staged file as it arrives: cut after the
 * last whole event (the partial one is read again by the next segment), compressed, encrypted.
 * Memory holds at most one event, whatever maxSegmentMiB is.
 */
async function sealRange(
  env: Env,
  target: Parameters<Env['deps']['ssh']['exec']>[0],
  keys: Awaited<ReturnType<Env['gpgKeys']>>,
  r: RangeRead,
): Promise<{ sealed: Sealed; scan: ReturnType<EventScanner['summary']> }> {
  const { cloud, host, path, dir, container } = r.where;
  const remote = await env.deps.ssh.exec(target, r.script, r.signal);
  remote.stdin.end();
  let stderr = '';
  remote.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const scanner = new EventScanner(r.startPosition);
  let received = 0;
  let scanError: Error | undefined;
  const cutter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      received += chunk.length;
      r.onBytes(received);
      // after a bad boundary the rest is only drained, so the remote command ends on its own
      if (!scanError)
        try {
          for (const b of scanner.push(chunk)) this.push(b);
        } catch (e) {
          scanError = e as Error;
        }
      cb();
    },
  });
  const [fed, sealed, done] = await Promise.allSettled([
    pipeline(remote.stdout, cutter),
    sealStream(keys, r.level, cutter, r.file, r.signal),
    remote.done,
  ]);
  if (done.status === 'rejected') throw done.reason;
  const code = done.value.code;
  if (code !== 0 || received !== r.len) {
    if (code === 0 || /No such file|Permission denied/.test(stderr))
      throw fatal(
        FailureType.RemoteCommandFailed,
        `${host}: reading ${path} from position ${r.startPosition} gave ${received} of ${r.len} bytes (${stderr.trim().split('\n').slice(-2).join(' | ') || 'no error output'})`,
        `the SSH user must be able to read the binary logs (${dir}); on Kolla hosts they are read inside the ${container} container`,
      );
    throw classifyMariadbError(host, `reading ${path}`, code, stderr);
  }
  if (scanError)
    throw fatal(
      FailureType.MariadbBackupFailed,
      `${host}: ${path} at position ${r.startPosition} does not read as binary log events (${scanError.message})`,
      'binlog encryption (encrypt_binlog) is not supported by the archiver; otherwise inspect the file with mariadb-binlog',
    );
  const scan = scanner.summary();
  if (scan.wholeBytes === 0)
    throw fatal(
      FailureType.ConfigInvalid,
      `${host}: one event in ${path} at ${r.startPosition} is larger than maxSegmentMiB (${r.maxSegmentMiB})`,
      `raise clouds.${cloud}.database.binlog.maxSegmentMiB above max_allowed_packet`,
    );
  if (fed.status === 'rejected') throw fed.reason;
  if (sealed.status === 'rejected') throw sealed.reason;
  if (sealed.value.plainBytes !== scan.wholeBytes)
    throw transient(
      FailureType.EncryptionFailed,
      `${host}: ${scan.wholeBytes} bytes of whole events were read from ${path} but ${sealed.value.plainBytes} were sealed`,
      'nothing was published; the archiver reads the range again on its next pass',
    );
  return { sealed: sealed.value, scan };
}
