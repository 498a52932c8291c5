// A single-service restore's scratch MariaDB and its files, on the scratch host under
// <restoreDir>/<folder>/:
//   <member>/ binlog/   the chain and binlogs (mariadb/restore.ts, pitr/replay.ts; restorePoint = folder)
//   instance/          the scratch server's socket, pid and error log
//   export/<svc>.sql   the restored schemas as mariadb-dump wrote them (what is imported)
//   safety/<svc>-before.sql  the live schemas just before the import (to go back)
// The scratch server runs on the prepared datadir itself, socket only (--skip-networking: no
// port to clash with the host's own server, unreachable from the network) and without grant
// checks (only root on the host reaches a socket in a 0700 folder); no binlog of its own.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Env } from '../deps.js';
import { fatal, transient, FailureType } from '../errors.js';
import { cancellationSignal, heartbeater, withHeartbeat } from '../heartbeat.js';
import { inServiceContext, shQuote } from '../ssh/quote.js';
import { meter, tailOf } from '../mariadb/backup.js';
import { classifyMariadbError } from '../mariadb/classify.js';
import { redact } from '../redact.js';
import { runOn } from '../ssh/run-on.js';

export interface ScratchPaths {
  root: string;
  socket: string;
  exportFile: string;
  safetyFile: string;
}

export function scratchPaths(restoreDir: string, folder: string, service: string): ScratchPaths {
  const root = `${restoreDir}/${folder}`;
  return {
    root,
    socket: `${root}/instance/s.sock`,
    exportFile: `${root}/export/${service}.sql`,
    safetyFile: `${root}/safety/${service}-before.sql`,
  };
}

const schemaList = (schemas: string[]) => schemas.map((s) => `'${s.replace(/[^A-Za-z0-9_$]/g, '')}'`).join(',');

async function onHost(env: Env, cloud: string, hostName: string, step: string, script: string): Promise<string> {
  const { target } = env.host(cloud, hostName);
  const r = await withHeartbeat(
    step,
    env.deps.ssh.run(target, `bash -c ${shQuote('set -e -o pipefail\n' + script)}`, { signal: cancellationSignal() }),
  );
  if (r.code !== 0) {
    if (/No space left/i.test(r.stderr))
      throw fatal(
        FailureType.DiskFull,
        `${hostName}: no space left while ${step}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`,
        `free space there or point hosts.${hostName}.mariadb.restoreDir at a larger disk`,
      );
    throw classifyMariadbError(hostName, step, r.code, r.stderr);
  }
  return r.stdout;
}

/** Starts a scratch mariadbd on the prepared chain member `member` under the folder (null: a fresh datadir, for a dump) and waits until it answers. */
export async function startScratch(
  env: Env,
  cloud: string,
  hostName: string,
  folder: string,
  service: string,
  member: string | null,
): Promise<{ socket: string; seconds: number }> {
  const { host } = env.dbHost(cloud, hostName);
  const p = scratchPaths(host.mariadb.restoreDir, folder, service);
  const t0 = performance.now();
  const inst = `${p.root}/instance`;
  const datadir = member ? `${p.root}/${member}` : null;
  const dd = datadir ?? `${p.root}/empty-datadir`;
  const q = shQuote;
  const script = [
    `mkdir -p -m 700 ${q(inst)}`,
    `if mariadb-admin --no-defaults --socket=${q(p.socket)} -uroot ping >/dev/null 2>&1; then echo running; exit 0; fi`, // a retry after the start
    datadir
      ? 'true'
      : `[ -d ${q(dd)}/mysql ] || mariadb-install-db --no-defaults --datadir=${q(dd)} --user="$(id -un)" --skip-test-db --auth-root-authentication-method=normal >${q(inst)}/install.log 2>&1`,
    `setsid mariadbd --no-defaults --datadir=${q(dd)} --socket=${q(p.socket)} --pid-file=${q(inst)}/pid --log-error=${q(inst)}/err --tmpdir=${q(inst)} --user="$(id -un)" --skip-networking --skip-grant-tables --skip-log-bin --skip-slave-start --innodb-buffer-pool-size=128M </dev/null >/dev/null 2>&1 &`,
    'bg=$!',
    'for _ in $(seq 1 600); do',
    `  mariadb-admin --no-defaults --socket=${q(p.socket)} -uroot ping >/dev/null 2>&1 && exit 0`,
    `  kill -0 "$bg" 2>/dev/null || { echo "the scratch mariadbd exited:" >&2; tail -n 8 ${q(inst)}/err >&2; exit 1; }`,
    '  sleep 0.2',
    'done',
    `echo "the scratch mariadbd did not answer within 120 s" >&2; tail -n 8 ${q(inst)}/err >&2; exit 1`,
  ].join('\n');
  await onHost(env, cloud, hostName, 'starting the scratch MariaDB', script);
  return { socket: p.socket, seconds: (performance.now() - t0) / 1000 };
}

/** Stops the scratch server (if it runs) and removes the folder, keeping export/ and safety/ when asked. */
export async function removeScratch(
  env: Env,
  cloud: string,
  hostName: string,
  folder: string,
  keepFiles: boolean,
): Promise<{ kept: string | null }> {
  const { host } = env.dbHost(cloud, hostName);
  const root = `${host.mariadb.restoreDir}/${folder}`;
  const q = shQuote;
  const script = [
    `pid=$(cat ${q(root)}/instance/pid 2>/dev/null || true)`,
    'if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$pid" 2>/dev/null || true; fi',
    `[ -d ${q(root)} ] || exit 0`,
    keepFiles
      ? `find ${q(root)} -mindepth 1 -maxdepth 1 ! -name export ! -name safety -exec rm -rf {} +`
      : `rm -rf ${q(root)}`,
  ].join('\n');
  await onHost(env, cloud, hostName, 'removing the scratch instance', script);
  return { kept: keepFiles ? root : null };
}

export interface ScratchExport {
  file: string;
  bytes: number;
  sha256: string;
  tables: { table: string; rows: number }[];
}

/** mariadb-dump of the schemas from the scratch server (DROP/CREATE DATABASE included), and their row counts. */
export async function exportFromScratch(
  env: Env,
  cloud: string,
  hostName: string,
  folder: string,
  service: string,
  schemas: string[],
): Promise<ScratchExport> {
  const { host } = env.dbHost(cloud, hostName);
  const p = scratchPaths(host.mariadb.restoreDir, folder, service);
  const q = shQuote;
  const client = `mariadb --no-defaults --socket=${q(p.socket)} -uroot`;
  const missing = await onHost(
    env,
    cloud,
    hostName,
    'listing the restored schemas',
    `${client} -N -B -e ${q(`SELECT s FROM (${schemas.map((s) => `SELECT '${s}' s`).join(' UNION ')}) x WHERE s NOT IN (SELECT schema_name FROM information_schema.schemata)`)}`,
  );
  if (missing.trim())
    throw fatal(
      FailureType.VerificationFailed,
      `the restored server holds no schema ${missing.trim().split('\n').join(', ')} at the chosen time`,
      `check clouds.${cloud}.services.${service}.schemas, or choose a time after the schema was created`,
    );
  const script = [
    `mkdir -p -m 700 ${q(`${p.root}/export`)}`,
    `mariadb-dump --no-defaults --socket=${q(p.socket)} -uroot --single-transaction --routines --triggers --events --hex-blob --add-drop-database --databases ${schemas.map(q).join(' ')} > ${q(p.exportFile)}`,
    `echo "bytes=$(wc -c < ${q(p.exportFile)})"`,
    `echo "sha256=$(sha256sum ${q(p.exportFile)} | cut -d' ' -f1)"`,
    // exact counts, one query per table, generated from the catalog
    `${client} -N -B -e ${q(`SELECT CONCAT('SELECT ''', table_schema, '.', table_name, ''', COUNT(*) FROM \`', table_schema, '\`.\`', table_name, '\`;') FROM information_schema.tables WHERE table_type='BASE TABLE' AND table_schema IN (${schemaList(schemas)}) ORDER BY table_schema, table_name`)} | ${client} -N -B | sed 's/^/rows=/'`,
  ].join('\n');
  const out = await onHost(env, cloud, hostName, 'mariadb-dump of the restored schemas', script);
  const tables = [...out.matchAll(/^rows=(\S+)\t(\d+)$/gm)].map((m) => ({ table: m[1]!, rows: Number(m[2]) }));
  return {
    file: p.exportFile,
    bytes: Number(/bytes=(\d+)/.exec(out)?.[1] ?? 0),
    sha256: /sha256=([0-9a-f]{64})/.exec(out)?.[1] ?? '',
    tables,
  };
}

/** The account that may drop, create and write the live schemas: the one a PITR replay uses (root over the socket on a stock install). */
function liveClient(env: Env, cloud: string, tool: 'mariadb' | 'mariadb-dump') {
  const dbHost = env.cloud(cloud).database.host;
  const { host, target } = env.dbHost(cloud, dbHost);
  const defaults = host.mariadb.replayDefaultsFile ?? host.mariadb.defaultsFile;
  return {
    dbHost,
    host,
    target,
    command: (args: string) =>
      inServiceContext(
        host,
        host.containers.mariadb,
        `${tool}${defaults ? ` --defaults-file=${shQuote(defaults)}` : ''} ${args}`,
      ),
  };
}

/** Runs `fromCmd` on one host and feeds its stdout to `toCmd` on another, through the worker; hashes what passed. */
async function hostToHost(
  env: Env,
  from: { name: string; target: ReturnType<Env['host']>['target']; cmd: string },
  to: { name: string; target: ReturnType<Env['host']>['target']; cmd: string },
  step: string,
): Promise<{ bytes: number; sha256: string }> {
  const signal = cancellationSignal();
  const src = await env.deps.ssh.exec(from.target, from.cmd, signal);
  const dst = await env.deps.ssh.exec(to.target, to.cmd, signal);
  const srcErr = tailOf(src.stderr);
  const dstErr = tailOf(dst.stderr);
  dst.stdout.resume();
  const hash = createHash('sha256');
  let bytes = 0;
  const beat = heartbeater();
  const [piped, srcDone, dstDone] = await Promise.allSettled([
    pipeline(
      src.stdout,
      meter((n) => {
        bytes += n;
        beat({ step, bytes });
      }, hash),
      dst.stdin,
    ),
    src.done,
    dst.done,
  ]);
  const tail = (t: () => string) => redact(t().trim().split('\n').slice(-3).join(' | '));
  if (srcDone.status === 'rejected') throw srcDone.reason;
  if (dstDone.status === 'rejected') throw dstDone.reason;
  if (dstDone.value.code !== 0) {
    if (/No space left/i.test(dstErr()))
      throw fatal(FailureType.DiskFull, `${to.name}: no space left while ${step}`, `free space on ${to.name}`);
    throw classifyMariadbError(to.name, step, dstDone.value.code, dstErr());
  }
  if (srcDone.value.code !== 0) throw classifyMariadbError(from.name, step, srcDone.value.code, srcErr());
  if (piped.status === 'rejected')
    throw transient(
      FailureType.RemoteCommandFailed,
      `${step}: the stream from ${from.name} to ${to.name} broke: ${(piped.reason as Error).message} (${tail(srcErr)} ${tail(dstErr)})`,
      'retry; check the links to both hosts',
    );
  return { bytes, sha256: hash.digest('hex') };
}

/** mariadb-dump of the live schemas into safety/ on the scratch host, before anything live changes. */
export async function safetyDumpLive(
  env: Env,
  cloud: string,
  scratchHost: string,
  folder: string,
  service: string,
  schemas: string[],
): Promise<{ file: string; host: string; bytes: number; sha256: string; schemas: string[] }> {
  const live = liveClient(env, cloud, 'mariadb-dump');
  const { host, target } = env.dbHost(cloud, scratchHost);
  const p = scratchPaths(host.mariadb.restoreDir, folder, service);
  // only the schemas that exist now (a dropped schema is what a restore may be for)
  const present = await withHeartbeat(
    'listing the live schemas',
    env.deps.ssh.run(
      live.target,
      liveClient(env, cloud, 'mariadb').command(
        `-N -B -e ${shQuote(`SELECT schema_name FROM information_schema.schemata WHERE schema_name IN (${schemaList(schemas)})`)}`,
      ),
      { signal: cancellationSignal() },
    ),
  );
  if (present.code !== 0)
    throw classifyMariadbError(live.dbHost, 'listing the live schemas', present.code, present.stderr);
  const have = present.stdout.split('\n').filter(Boolean);
  const dir = `${p.root}/safety`;
  const to = {
    name: scratchHost,
    target,
    cmd: `mkdir -p -m 700 ${shQuote(dir)} && cat > ${shQuote(p.safetyFile)}.part && mv ${shQuote(p.safetyFile)}.part ${shQuote(p.safetyFile)}`,
  };
  const dump = `--single-transaction --routines --triggers --events --hex-blob --add-drop-database --databases ${have.map(shQuote).join(' ')}`;
  const r = await hostToHost(
    env,
    {
      name: live.dbHost,
      target: live.target,
      cmd: have.length ? live.command(dump) : `echo '-- none of ${schemas.join(', ')} existed before the import'`,
    },
    to,
    `safety dump of ${have.join(', ') || 'nothing'} on ${live.dbHost}`,
  );
  return { file: p.safetyFile, host: scratchHost, bytes: r.bytes, sha256: r.sha256, schemas: have };
}

/** Feeds the export to the live server in one client session: each schema is dropped, recreated and loaded. */
export async function importIntoLive(
  env: Env,
  cloud: string,
  scratchHost: string,
  file: string,
  sha256: string,
): Promise<{ bytes: number; seconds: number; dbHost: string }> {
  const live = liveClient(env, cloud, 'mariadb');
  const { target } = env.host(cloud, scratchHost);
  const t0 = performance.now();
  // the export is checked before it is sent: a file changed since the summary is not imported
  const sum = await env.deps.ssh.run(target, `sha256sum ${shQuote(file)}`, { signal: cancellationSignal() });
  const got = sum.stdout.split(' ')[0];
  if (sum.code !== 0 || got !== sha256)
    throw fatal(
      FailureType.ChecksumMismatch,
      `${scratchHost}:${file} is ${sum.code !== 0 ? 'unreadable' : `not the export that was approved (SHA-256 ${got}, approved ${sha256})`}; the live database was not touched`,
      'run the service restore again',
    );
  const r = await hostToHost(
    env,
    { name: scratchHost, target, cmd: `cat ${shQuote(file)}` },
    { name: live.dbHost, target: live.target, cmd: live.command('--binary-mode') },
    `importing into ${live.dbHost}`,
  );
  return { bytes: r.bytes, seconds: (performance.now() - t0) / 1000, dbHost: live.dbHost };
}

export interface CommandOutcome {
  argv0: string;
  where: string;
  exitCode: number | null;
  stdoutTail: string;
  stderrTail: string;
  seconds: number;
}

/** A service's redeploy or check command, on the configured host over SSH or on the worker. */
export async function runServiceCommand(
  env: Env,
  cloud: string,
  service: string,
  which: 'redeploy' | 'check',
): Promise<CommandOutcome | null> {
  const svc = env.cloud(cloud).services[service];
  if (!svc)
    throw fatal(
      FailureType.ConfigInvalid,
      `service "${service}" is not under clouds.${cloud}.services`,
      `add it, or use one of: ${Object.keys(env.cloud(cloud).services).join(', ') || 'none configured'}`,
    );
  const argv = svc[which];
  if (!argv) return null;
  const t0 = performance.now();
  const tail = (s: string) => redact(s.trim().split('\n').slice(-10).join('\n').slice(-2000));
  const r = await withHeartbeat(`${which}: ${argv[0]}`, runOn(env, cloud, svc.runOn, argv));
  return {
    argv0: argv[0]!,
    where: svc.runOn,
    exitCode: r.code,
    stdoutTail: tail(r.stdout),
    stderrTail: tail(r.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** What the workflow needs of a service's config (workflows read no config). */
export function serviceSettings(
  env: Env,
  cloud: string,
  service: string,
): {
  schemas: string[];
  scratchHost: string;
  dbHost: string;
  redeploy: string | null;
  check: string | null;
  runOn: string;
} {
  const c = env.cloud(cloud);
  const svc = c.services[service];
  if (!svc)
    throw fatal(
      FailureType.ConfigInvalid,
      `service "${service}" is not under clouds.${cloud}.services`,
      `add it (schemas, redeploy, check), or use one of: ${Object.keys(c.services).join(', ') || 'none configured'}`,
    );
  if (!c.serviceRestore)
    throw fatal(
      FailureType.ConfigInvalid,
      `clouds.${cloud}.serviceRestore.scratchHost is not set: a single-service restore needs a host for its scratch instance`,
      'set it to a host with a mariadb section and mariadbd installed (the restore target, not the live database host)',
    );
  return {
    schemas: svc.schemas,
    scratchHost: c.serviceRestore.scratchHost,
    dbHost: c.database.host,
    redeploy: svc.redeploy?.[0] ?? null,
    check: svc.check?.[0] ?? null,
    runOn: svc.runOn,
  };
}
