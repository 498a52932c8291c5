// The binlog half of a point-in-time restore: plan (which backup, which segments), check every
// segment's hash before the target is touched, reassemble the binlog files on the target
// host, and replay them onto the restored server up to the target second with the stock
// mariadb-binlog | mariadb pipe.
import { join } from 'node:path';
import { artifactDir, type ArtifactManifest } from '../../core/manifest/manifest.js';
import { isBinlogManifest, isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import {
  gtidPosSeq,
  parseBinlogPosition,
  parseGtid,
  planPointInTime,
  segmentLink,
  type BinlogManifest,
  type PitrTarget,
  type ReplayPlan,
} from '../../core/pitr/segments.js';
import { readArchiveProgress } from './progress.js';
import type { Env } from '../deps.js';
import { fatal, transient, FailureType } from '../errors.js';
import { cancellationSignal, heartbeater, workflowRunId } from '../heartbeat.js';
import { runJob } from '../ssh/jobs.js';
import { forwardInto, unsealFile, unsealTo } from '../control-plane/sealed.js';
import { inServiceContext, shQuote } from '../ssh/quote.js';
import { classifyMariadbError } from '../mariadb/classify.js';
import { transactionBoundary } from './events.js';

/** The chain and the segments that reach `at`, or a non-retryable refusal naming the recoverable ranges. */
export async function planPointInTimeRestore(
  env: Env,
  cloud: string,
  want: { at?: string; gtid?: string; position?: string },
): Promise<{ chain: ArtifactManifest[]; replay: ReplayPlan }> {
  let target: PitrTarget;
  if (want.gtid !== undefined) target = { gtid: want.gtid };
  else if (want.position !== undefined) {
    const p = parseBinlogPosition(want.position);
    if (!p)
      throw fatal(
        FailureType.ConfigInvalid,
        `"${want.position}" is not a binlog position`,
        "write it as file:byte offset, e.g. mysql-bin.000042:1234 (SHOW MASTER STATUS, or mariadb-binlog's end_log_pos)",
      );
    target = { position: p };
  } else if (want.at !== undefined) target = { at: want.at };
  else
    throw fatal(FailureType.ConfigInvalid, 'a point-in-time restore needs a target', 'give --at, --gtid or --position');
  const all = await env.repo.scanManifests(cloud);
  const points = all.filter(isDatabaseManifest);
  const segs = all.filter(isBinlogManifest);
  const r = planPointInTime(points, segs.map(segmentLink), target, await readArchiveProgress(env, cloud));
  if ('problem' in r) {
    throw fatal(
      FailureType.PitrOutOfRange,
      `point-in-time restore of cloud ${cloud}: ${r.problem}; nothing was touched`,
      r.ranges.length
        ? 'choose a time inside a recoverable range (`osbackup pitr status` shows how far the archive has reached)'
        : 'take a full backup and keep pitrArchiveWorkflow running (`osbackup pitr archive`)',
    );
  }
  if ('position' in target)
    await refuseInsideTransaction(env, cloud, segs, r.plan.files.at(-1)!.segments.at(-1)!, target.position.position);
  const byId = new Map(points.map((m) => [m.id, m]));
  return { chain: r.plan.chain.map((id) => byId.get(id)!), replay: r.plan };
}

/**
 * A position inside a transaction would replay part of it (mariadb-binlog then closes it with a
 * ROLLBACK, and the last GTID printed would name a transaction that was not applied): refused
 * before anything is touched, naming the boundaries around it. Read from the one segment
 * holding the position (whole events; a segment cut by size may end inside a transaction, so
 * its end is a boundary only when the next segment starts with one, or nothing follows it yet).
 */
async function refuseInsideTransaction(
  env: Env,
  cloud: string,
  segs: BinlogManifest[],
  lastId: string,
  position: number,
): Promise<void> {
  const s = segs.find((m) => m.id === lastId)!;
  const next = segs.find(
    (m) =>
      m.source.host === s.source.host &&
      m.binlog.file === s.binlog.file &&
      m.binlog.startPosition === s.binlog.endPosition,
  );
  const keys = await env.gpgKeys();
  const open = async (m: BinlogManifest) =>
    unsealFile(
      keys,
      env.repo.path(join(artifactDir(cloud, 'binlog', m.id), m.artifact.file)),
      m.artifact,
      `binlog segment ${m.id}`,
      cancellationSignal(),
    );
  let endIsBoundary = !next;
  if (next && position === s.binlog.endPosition)
    endIsBoundary = transactionBoundary(await open(next), next.binlog.startPosition, position, false).ok;
  const r = transactionBoundary(await open(s), s.binlog.startPosition, position, endIsBoundary);
  if (!r.ok) {
    const near = [r.before, r.after].filter((x) => x !== null).map((x) => `${s.binlog.file}:${x}`);
    throw fatal(
      FailureType.PitrOutOfRange,
      `point-in-time restore of cloud ${cloud}: binlog position ${s.binlog.file}:${position} is inside a transaction, which would be replayed in part; nothing was touched`,
      `give a transaction boundary${near.length ? ` (the nearest: ${near.join(', ')})` : ''}: the position SHOW MASTER STATUS showed after a commit, or a COMMIT/Xid event's end_log_pos`,
    );
  }
}

async function segmentManifests(env: Env, cloud: string, ids: string[]): Promise<BinlogManifest[]> {
  const out: BinlogManifest[] = [];
  for (const id of ids) {
    const m = await env.repo.readManifest(artifactDir(cloud, 'binlog', id));
    if (!m || !isBinlogManifest(m))
      throw fatal(
        FailureType.BackupNotFound,
        `binlog segment ${id} vanished from the repository`,
        'plan the restore again (`osbackup restore db --at …`): the recoverable range has changed',
      );
    out.push(m);
  }
  return out;
}

/** Re-hashes every segment a replay needs: a corrupt one is named before the target is touched. */
export async function verifySegments(env: Env, cloud: string, ids: string[]): Promise<{ bytes: number }> {
  const beat = heartbeater();
  let bytes = 0;
  for (const m of await segmentManifests(env, cloud, ids)) {
    const rel = join(artifactDir(cloud, 'binlog', m.id), m.artifact.file);
    const got = await env.repo.sha256File(env.repo.path(rel)).catch(() => ({ sha256: 'unreadable', bytes: -1 }));
    bytes += Math.max(0, got.bytes);
    beat({ step: 'verifying binlog segments', segment: m.id, bytes });
    if (got.sha256 !== m.artifact.sha256 || got.bytes !== m.artifact.bytes) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `binlog segment ${rel} is corrupt: SHA-256 ${got.sha256} (${got.bytes} bytes) but the manifest recorded ${m.artifact.sha256} (${m.artifact.bytes} bytes); nothing on the target was touched`,
        `restore to a time before ${m.binlog.firstEventAt ?? m.startedAt} (the segments before it are intact), then find out what damaged the repository`,
      );
    }
  }
  return { bytes };
}

const binlogDir = (restoreDir: string, restorePoint: string) => `${restoreDir}/${restorePoint}/binlog`;

/** Reassembles each binlog file on the target host from its segments (decrypted on the worker, hash-checked). */
export async function streamBinlogsToHost(
  env: Env,
  cloud: string,
  targetHost: string,
  restorePoint: string,
  files: { file: string; segments: string[] }[],
): Promise<{ bytes: number; seconds: number }> {
  const { host, target } = env.dbHost(cloud, targetHost);
  const keys = await env.gpgKeys();
  const signal = cancellationSignal();
  const dir = binlogDir(host.mariadb.restoreDir, restorePoint);
  const beat = heartbeater();
  const t0 = performance.now();
  let bytes = 0;
  for (const f of files) {
    const segs = await segmentManifests(env, cloud, f.segments);
    const path = `${dir}/${f.file}`;
    const remote = await env.deps.ssh.exec(target, `mkdir -p -m 700 ${shQuote(dir)} && cat > ${shQuote(path)}`, signal);
    let err = '';
    remote.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    remote.stdout.resume();
    let expected = 0;
    for (const m of segs) {
      if (m.binlog.startPosition !== expected)
        throw fatal(
          FailureType.BinlogGap,
          `${f.file}: segment ${m.id} starts at ${m.binlog.startPosition}, not at ${expected}`,
          'plan the restore again; run `osbackup verify` on the repository',
        );
      // decrypted straight into the remote file: one segment is never held whole on the worker
      let sent = 0;
      const { plainBytes } = await unsealTo(
        keys,
        env.repo.path(join(artifactDir(cloud, 'binlog', m.id), m.artifact.file)),
        m.artifact,
        `binlog segment ${m.id}`,
        forwardInto(remote.stdin, (n) =>
          beat({ step: `reassembling ${f.file} on ${targetHost}`, bytes: bytes + (sent += n) }),
        ),
        signal,
      );
      if (plainBytes !== m.binlog.endPosition - m.binlog.startPosition)
        throw fatal(
          FailureType.ChecksumMismatch,
          `binlog segment ${m.id} decrypts to ${plainBytes} bytes, not the ${m.binlog.endPosition - m.binlog.startPosition} its manifest records`,
          'restore to a time before it',
        );
      expected = m.binlog.endPosition;
      bytes += plainBytes;
      beat({ step: `reassembling ${f.file} on ${targetHost}`, bytes });
    }
    remote.stdin.end();
    const rc = await remote.done;
    if (rc.code !== 0) {
      if (/No space left/i.test(err))
        throw fatal(
          FailureType.DiskFull,
          `${targetHost}: no space left under ${dir} for the binary logs; the server was not touched`,
          `free space there or point hosts.${targetHost}.mariadb.restoreDir at a larger disk`,
        );
      throw transient(
        FailureType.MariadbRestoreFailed,
        `${targetHost}: writing ${path} failed (exit ${rc.code}): ${err.trim()}`,
        `check ${host.mariadb.restoreDir} on ${targetHost}`,
      );
    }
    const size = await env.deps.ssh.run(target, `wc -c < ${shQuote(path)}`, { signal });
    if (Number(size.stdout.trim()) !== expected)
      throw transient(
        FailureType.MariadbRestoreFailed,
        `${targetHost}: ${path} holds ${size.stdout.trim()} bytes, ${expected} were sent`,
        'the copy was cut short: it is retried',
      );
  }
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

/** What the replay reads of a plan (older plans carry only stopDatetime). */
export type ReplayStop = Pick<ReplayPlan, 'files' | 'startFile' | 'startPosition' | 'stopDatetime'> &
  Partial<Pick<ReplayPlan, 'stopGtid' | 'stopPosition'>>;

/**
 * mariadb-binlog's stop option for a plan. --stop-position takes a GTID (inclusive: that
 * transaction is the last one printed) or a byte offset into the last file (every event that
 * starts before it is printed; a transaction cut by it gets mariadb-binlog's closing ROLLBACK).
 */
export function stopOption(r: ReplayStop): string {
  if (r.stopGtid) return `--stop-position=${shQuote(r.stopGtid)}`;
  if (r.stopPosition !== undefined && r.stopPosition !== null) return `--stop-position=${Math.floor(r.stopPosition)}`;
  if (r.stopDatetime) return `--stop-datetime=${shQuote(r.stopDatetime.replace('T', ' ').replace(/(\.\d+)?Z$/, ''))}`;
  throw fatal(
    FailureType.ConfigInvalid,
    'the replay plan names no stop (time, GTID or position)',
    'plan the restore again',
  );
}

export interface ReplayResult {
  /** The last GTID replayed (none: no transaction between the backup and the target). */
  lastGtid: string | null;
  /** Timestamp (UTC) of the last event replayed. */
  lastEventAt: string | null;
  transactions: number;
  gtidSlavePos: string | null;
  seconds: number;
}

/**
 * Where a replay goes: the host's own server (a point-in-time restore), or a scratch instance on
 * that host reached by its socket, outside any container (a single-service restore), whose
 * replay may be narrowed to some schemas' row events (`--database`, exact with ROW format).
 */
export interface ReplayInto {
  socket: string;
  databases?: string[];
}

/** The largest statement the replay can send: MariaDB's ceiling for max_allowed_packet (1 GiB). */
const REPLAY_PACKET = 1024 * 1024 * 1024;

/** `mariadb-binlog … | mariadb` on the target; afterwards gtid_slave_pos names where the data stands, as a replica would need. */
export async function replayBinlogsOnHost(
  env: Env,
  cloud: string,
  targetHost: string,
  restorePoint: string,
  replay: ReplayStop,
  baseGtid: string,
  into?: ReplayInto,
): Promise<ReplayResult> {
  const { host, target } = env.dbHost(cloud, targetHost);
  const m = host.mariadb;
  const t0 = performance.now();
  const dir = binlogDir(m.restoreDir, restorePoint);
  if (replay.files[0]?.file !== replay.startFile)
    throw fatal(
      FailureType.BinlogGap,
      `the replay plan does not start with ${replay.startFile}`,
      'plan the restore again',
    );
  const defaults = into ? undefined : (m.replayDefaultsFile ?? m.defaultsFile);
  const client = into
    ? `mariadb --no-defaults --socket=${shQuote(into.socket)} -uroot --binary-mode`
    : `mariadb${defaults ? ` --defaults-file=${shQuote(defaults)}` : ''} --binary-mode`;
  const filter = (into?.databases ?? []).map((d) => ` --database=${shQuote(d)}`).join('');
  const inCtx = (c: string) => (into ? c : inServiceContext(host, host.containers.mariadb, c));
  // the server's packet limit, put back after the replay (a scratch server is thrown away anyway)
  const packet = into
    ? ''
    : (
        await env.deps.ssh.run(target, inCtx(`${client} -N -e ${shQuote('SELECT @@global.max_allowed_packet')}`), {
          signal: cancellationSignal(),
        })
      ).stdout
        .trim()
        .replace(/\D/g, '');
  const sqlFile = `${dir}/replay.sql`;
  // a GTID target must be the last transaction of the SQL (unless the backup already stands at it):
  // checked before anything is replayed, so a GTID the segments only seemed to hold changes nothing
  const want = parseGtid(replay.stopGtid);
  const mustEndAt = want && gtidPosSeq(baseGtid, want.domain) < want.seq ? replay.stopGtid! : '';
  const lastGtidLine = `grep -o '^#[0-9]\\{6\\} [ 0-9][0-9]:[0-9][0-9]:[0-9][0-9] server id .*[[:space:]]GTID [0-9]*-[0-9]*-[0-9]*' ${shQuote(sqlFile)} | tail -n 1`;
  // the SQL is kept beside the files: what was replayed can be read afterwards, and parsed here
  const script = [
    'set -e -o pipefail',
    `cd ${shQuote(dir)}`,
    `TZ=UTC mariadb-binlog${filter} --start-position=${replay.startPosition} ${stopOption(replay)} ${replay.files.map((f) => shQuote(f.file)).join(' ')} > ${shQuote(sqlFile)}`,
    ...(mustEndAt
      ? [
          `got=$(${lastGtidLine} | grep -o 'GTID [0-9-]*$' | cut -c6- || true)`,
          `if [ "$got" != ${shQuote(mustEndAt)} ]; then echo "gtid-missing=$got" >&2; exit 3; fi`,
        ]
      : []),
    // a transaction that changed many rows is one BINLOG statement as large as its row images:
    // the server takes it only with a packet limit that large, raised for the replay alone
    `${inCtx(`${client} -e ${shQuote(`SET GLOBAL max_allowed_packet=${REPLAY_PACKET}`)}`)} || true`,
    `rc=0; ${inCtx(`${client} --max-allowed-packet=${REPLAY_PACKET}`)} < ${shQuote(sqlFile)} || rc=$?`,
    ...(packet ? [`${inCtx(`${client} -e ${shQuote(`SET GLOBAL max_allowed_packet=${packet}`)}`)} || true`] : []),
    '[ "$rc" = 0 ] || exit "$rc"',
    `echo "transactions=$(grep -c '^#.*[[:space:]]GTID [0-9]' ${shQuote(sqlFile)} || true)"`,
    `echo "last=$(${lastGtidLine})"`,
  ].join('\n');
  // A detached job on the host, one per restore run: a worker lost mid-replay leaves it running,
  // and the retry waits for it instead of replaying the same transactions a second time.
  const job = await runJob(env, cloud, targetHost, '', ['bash', '-c', script], 30 * 24 * 3600, {
    dir: `${dir}/replay-job-${workflowRunId()}`,
    what: 'the binary-log replay',
    interrupted: `the target holds part of the replay: restore again (the restore starts over from the backup, then replays once); the replayed SQL is in ${sqlFile}`,
  });
  const r = { code: job.exitCode, stdout: job.stdoutTail, stderr: job.stderrTail };
  if (r.code === 3 && /gtid-missing=/.test(r.stderr)) {
    const got = /gtid-missing=(\S*)/.exec(r.stderr)?.[1] || 'none';
    throw fatal(
      FailureType.PitrOutOfRange,
      `${targetHost}: the archived binary logs do not hold transaction ${replay.stopGtid} (the replay would end at ${got}); nothing was replayed, the restored backup ${restorePoint} is in place`,
      "choose a GTID the archive holds (`osbackup catalog list` shows each segment's GTID range) and restore again",
    );
  }
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-4).join(' | ');
    if (/mariadb-binlog: (command )?not found/.test(r.stderr))
      throw fatal(
        FailureType.RemoteCommandFailed,
        `${targetHost}: mariadb-binlog is not installed on the host`,
        'install the mariadb client tools on the restore target',
      );
    if (/ERROR \d+/.test(r.stderr))
      throw fatal(
        FailureType.MariadbRestoreFailed,
        `${targetHost}: replaying the binary logs failed: ${tail}; the restored backup is in place, the replay stopped at the failing statement`,
        `read ${sqlFile} on ${targetHost} around the failing statement; the account in ${defaults ?? 'the default option file'} must be able to write every schema (hosts.${targetHost}.mariadb.replayDefaultsFile)`,
      );
    throw classifyMariadbError(targetHost, 'replaying the binary logs', r.code, r.stderr);
  }
  const transactions = Number(/transactions=(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const last = /last=#(\d{2})(\d{2})(\d{2}) +(\d+):(\d\d):(\d\d) server id .*\sGTID (\d+-\d+-\d+)/.exec(r.stdout);
  const lastGtid = last ? last[7]! : null;
  const lastEventAt = last
    ? `20${last[1]}-${last[2]}-${last[3]}T${last[4]!.padStart(2, '0')}:${last[5]}:${last[6]}Z`
    : null;
  const pos = lastGtid ?? (baseGtid || null);
  if (pos && !into) {
    const set = `${inServiceContext(host, host.containers.mariadb, `${client} -e ${shQuote(`SET GLOBAL gtid_slave_pos = '${pos.replace(/[^0-9,-]/g, '')}'`)}`)}`;
    const s = await env.deps.ssh.run(target, set, { signal: cancellationSignal() });
    if (s.code !== 0) throw classifyMariadbError(targetHost, 'setting gtid_slave_pos', s.code, s.stderr);
  }
  return { lastGtid, lastEventAt, transactions, gtidSlavePos: pos, seconds: (performance.now() - t0) / 1000 };
}
