// Helpers for tests against the real lab that `./dev test` brings up. A missing lab is a
// failure, never a skip.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import type { LoadedDataConverter, ProtoFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';

export const ROOT = process.cwd();

export function labConfigPath(): string {
  const p = resolve(process.env.OSBACKUP_LAB_CONFIG ?? join(ROOT, '.dev/lab/osbackup.yml'));
  if (!existsSync(p)) throw new Error(`the lab is not up (no ${p}): run the suite with ./dev test, which brings it up`);
  return p;
}

/** The tables the lab seeds on every database host and verifies after a restore (lab.sh's `verifyTables`). */
export const LAB_TABLES = [
  'keystone.project',
  'keystone.user',
  'nova.instances',
  'cinder.volumes',
  'glance.images',
  'neutron.ports',
];

/** Leaves only the named clouds in a derived config (the lab's OpenStack and Kolla clouds are there when they are up). */
export function onlyClouds(c: Raw, ...names: string[]): void {
  for (const name of Object.keys(c.clouds)) if (!names.includes(name)) delete c.clouds[name];
}

export function labDir(): string {
  return dirname(labConfigPath());
}

/** The lab's config on the lab's Temporal cluster (test/lab/temporal-cluster.sh): PostgreSQL stores, mutual TLS. */
export function clusterConfigPath(): string {
  const p = process.env.OSBACKUP_CLUSTER_CONFIG;
  if (!p || !existsSync(p))
    throw new Error(
      `the lab's Temporal cluster is not up (${p ? `no ${p}` : 'OSBACKUP_CLUSTER_CONFIG not set'}): ./dev test brings it up; by hand test/lab/temporal-cluster.sh up, then OSBACKUP_CLUSTER_CONFIG=.dev/temporal-cluster/osbackup.yml`,
    );
  return resolve(p);
}

type Raw = Record<string, any>;

/**
 * A copy of the lab config (or of `from`, e.g. the cluster's), edited by `edit`, on its own task
 * queue so tests never share workers.
 */
export function deriveConfig(name: string, edit: (c: Raw) => void = () => undefined, from = labConfigPath()): string {
  const raw = parse(readFileSync(from, 'utf8')) as Raw;
  raw.temporal.taskQueue = `test-${name}-${process.pid}`;
  edit(raw);
  const file = join(mkdtempSync(join(tmpdir(), `osb-${name}-`)), 'osbackup.yml');
  writeFileSync(file, stringify(raw));
  return file;
}

export interface WorkerProcess {
  proc: ResultPromise;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | undefined>;
}

/**
 * `forceKillAfterMs`: SIGKILL this long after a stop signal (execa's default 5 s; false: never, for drain tests).
 * `args`: more worker arguments (`--cloud c`).
 */
export async function startWorker(
  configFile: string,
  opts: { forceKillAfterMs?: number | false; args?: string[] } = {},
): Promise<WorkerProcess> {
  const proc = execa('node', ['dist/worker/main.js', '--config', configFile, ...(opts.args ?? [])], {
    reject: false,
    all: true,
    buffer: false,
    forceKillAfterDelay: opts.forceKillAfterMs ?? 5000,
    // as deploy/osbackup-worker.service runs it: two malloc arenas (see there)
    env: { MALLOC_ARENA_MAX: '2' },
  });
  let out = '';
  proc.all!.on('data', (b: Buffer) => (out += b.toString()));
  const t0 = Date.now();
  while (!out.includes('osbackup worker ready')) {
    if (proc.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`worker did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    proc,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      const r = await proc;
      return r.exitCode;
    },
  };
}

/** A stopwatch for a test's steps: `timed(name, f)` runs f and keeps its seconds in `timings` (printed at the end). */
export function stepTimer(): {
  timings: Record<string, number>;
  timed: <T>(name: string, f: () => Promise<T>) => Promise<T>;
} {
  const timings: Record<string, number> = {};
  return {
    timings,
    timed: async (name, f) => {
      const t0 = Date.now();
      try {
        return await f();
      } finally {
        timings[name] = (Date.now() - t0) / 1000;
      }
    },
  };
}

export async function cli(configFile: string, args: string[]) {
  return execa('node', ['dist/client/cli.js', '--config', configFile, ...args], { reject: false });
}

/** Row count and CHECKSUM TABLE read directly (root over the host's socket), not through osbackup. */
export async function liveFacts(
  host: string,
  tables: string[],
): Promise<Record<string, { rows: number; checksum: string }>> {
  const sql = tables.map((t) => `SELECT '${t}', (SELECT COUNT(*) FROM ${t}); CHECKSUM TABLE ${t};`).join('\n');
  const r = await execa('mariadb', [`--defaults-file=${join(labDir(), host, 'my.cnf')}`, '-N', '-B', '-e', sql]);
  const out: Record<string, { rows: number; checksum: string }> = {};
  const lines = r.stdout.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [t, n] = lines[i]!.split('\t');
    const [, sum] = lines[i + 1]!.split('\t');
    out[t!] = { rows: Number(n), checksum: sum! };
  }
  return out;
}

export async function sql(host: string, statement: string): Promise<string> {
  const r = await execa('mariadb', [`--defaults-file=${join(labDir(), host, 'my.cnf')}`, '-N', '-B', '-e', statement]);
  return r.stdout;
}

/** Gives `host` the backup user the lab's config names, with this lab's password and grants. */
export async function grantBackupUser(host: string): Promise<void> {
  const pw = readFileSync(join(labDir(), 'secrets/db-password'), 'utf8').trim();
  await sql(
    host,
    `SET SESSION sql_log_bin=0; CREATE OR REPLACE USER 'osbackup'@'localhost' IDENTIFIED BY '${pw}'; CREATE OR REPLACE USER 'osbackup'@'%' IDENTIFIED BY '${pw}'; GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT, SHOW VIEW, TRIGGER, EVENT ON *.* TO 'osbackup'@'localhost', 'osbackup'@'%'`,
  );
}

/**
 * Rows of user tables (outside the system schemas) the server on `host` reads while `work` runs,
 * from its per-table counters (userstat): what osbackup reads beyond mariabackup's page copy,
 * which reads files, not rows.
 */
export async function userRowsRead<T>(host: string, work: () => Promise<T>): Promise<{ result: T; rowsRead: number }> {
  await sql(host, 'SET GLOBAL userstat=1; FLUSH TABLE_STATISTICS');
  try {
    const result = await work();
    const n = await sql(
      host,
      "SELECT IFNULL(SUM(ROWS_READ),0) FROM information_schema.TABLE_STATISTICS WHERE TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys')",
    );
    return { result, rowsRead: Number(n) };
  } finally {
    await sql(host, 'SET GLOBAL userstat=0');
  }
}

/**
 * Every activity a workflow run started, with its attempt, from the run's history (a retry shows
 * as an attempt above 1 on the start event the history keeps).
 */
export async function activityAttempts(
  client: Client,
  workflowId: string,
): Promise<{ activity: string; attempt: number }[]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Map<string, string>();
  const out: { activity: string; attempt: number }[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
    const st = e.activityTaskStartedEventAttributes;
    if (st) out.push({ activity: scheduled.get(String(st.scheduledEventId)) ?? '?', attempt: st.attempt ?? 0 });
  }
  return out;
}

/** A derived config whose repository is a fresh folder of its own. */
export function configWithOwnRepo(
  name: string,
  edit: (c: Raw) => void = () => undefined,
  from = labConfigPath(),
): { dir: string; repo: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), `osb-${name}-repo-`));
  const repo = join(dir, 'repo');
  const configFile = deriveConfig(
    name,
    (c) => {
      c.repository.path = repo;
      edit(c);
    },
    from,
  );
  return { dir, repo, configFile };
}

/** A Temporal client on the config's server (with its payload codec and failure converter), for queries and describe. */
export async function temporalClient(configFile: string) {
  const { Client, Connection } = await import('@temporalio/client');
  const { loadConfig } = await import('../../config/load.js');
  const { connectionOptions, dataConverter } = await import('../../config/temporal.js');
  const config = loadConfig(configFile);
  const connection = await Connection.connect(connectionOptions(config));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
  return { client, close: () => connection.close() };
}

type Handle = {
  query<T>(name: string): Promise<T>;
  describe(): Promise<{ raw: { pendingActivities?: { lastFailure?: ProtoFailure | null }[] | null } }>;
  client: { options: { loadedDataConverter: LoadedDataConverter } };
};

/** Polls the workflow's `progress` query until its phase is one of `phases`. */
export async function waitForPhase(handle: Handle, phases: string[], timeoutMs = 60_000): Promise<string> {
  const t0 = Date.now();
  let phase = '';
  while (!phases.includes(phase)) {
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`workflow never reached ${phases.join(' / ')} (phase ${phase || 'none'})`);
    phase = await handle.query<{ phase: string }>('progress').then(
      (p) => p.phase,
      () => '',
    );
    if (!phases.includes(phase)) await new Promise((r) => setTimeout(r, 50));
  }
  return phase;
}

/** Waits until the pending activity has failed at least once, and returns why (decoded: failures are encrypted). */
export async function firstActivityFailure(handle: Handle, timeoutMs = 30_000): Promise<string> {
  const { failureMessage } = await import('../../config/temporal.js');
  const t0 = Date.now();
  for (;;) {
    const message = await failureMessage(
      handle.client.options.loadedDataConverter,
      (await handle.describe()).raw.pendingActivities?.[0]?.lastFailure,
    );
    if (message || Date.now() - t0 > timeoutMs) return message;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A command on a lab host over SSH (the lab's worker key), e.g. `docker exec …` on ctl3. */
export async function onLabHost(host: string, command: string, input?: string | Buffer) {
  const raw = parse(readFileSync(labConfigPath(), 'utf8')) as Raw;
  const h = Object.values(raw.clouds as Record<string, Raw>)
    .map((c) => c.hosts?.[host])
    .find(Boolean) as Raw | undefined;
  if (!h) throw new Error(`no host ${host} in the lab config`);
  return execa(
    'ssh',
    [
      '-q',
      '-i',
      h.keyFile,
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      `root@${h.address}`,
      command,
    ],
    { input, reject: false, encoding: 'buffer' },
  );
}

/** Decrypts a sealed file with stock gpg (passphrase file, or a GNUPGHOME holding a secret key) and zstd. */
export async function openWithStockTools(
  file: string,
  how: { passphraseFile: string } | { gnupgHome: string },
): Promise<Buffer> {
  const gpg =
    'passphraseFile' in how
      ? `gpg --batch --quiet --pinentry-mode loopback --passphrase-file ${how.passphraseFile} --decrypt`
      : `GNUPGHOME=${how.gnupgHome} gpg --batch --quiet --decrypt`;
  const r = await execa('bash', ['-c', `set -o pipefail; ${gpg} ${file} | zstd -dq`], {
    encoding: 'buffer',
    reject: false,
    env: 'passphraseFile' in how ? { GNUPGHOME: mkdtempSync(join(tmpdir(), 'osb-gpg-')) } : {},
  });
  if (r.exitCode !== 0) throw new Error(`stock gpg/zstd could not open ${file}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout);
}

/** Deletes the schedules and terminates the runs a test made; any of them may be gone already. */
export async function cleanUpTemporal(
  client:
    | {
        schedule: { getHandle(id: string): { delete(): Promise<void> } };
        workflow: { getHandle(id: string): { terminate(reason?: string): Promise<unknown> } };
      }
    | undefined,
  scheduleIds: string[],
  workflowIds: string[],
  reason: string,
): Promise<void> {
  for (const id of scheduleIds)
    await client?.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  for (const id of workflowIds)
    await client?.workflow
      .getHandle(id)
      .terminate(reason)
      .catch(() => undefined);
}
