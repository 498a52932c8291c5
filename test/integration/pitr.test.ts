// Point-in-time recovery on the real lab: ctl1's binary logs archived continuously (the worker
// SIGKILLed and restarted on the way), then restores into ctl2 to moments between writes made
// at known UTC times — exactly the rows up to that moment — and targets out of range refused.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { BinlogManifest } from '../../core/pitr/segments.js';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import { archivedPast as waitArchived, writeAlone, type TimedWrite } from '../helpers/timed-writes.js';
import {
  cli,
  configWithOwnRepo,
  deriveConfig,
  labDir,
  openWithStockTools,
  sql,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const run = `${process.pid}${Date.now() % 100000}`;
const schema = `pitr_${run}`;
const { dir, repo, configFile } = configWithOwnRepo('pitr', (c) => {
  c.clouds.lab.database.binlog = { segmentSeconds: 1, rpoTargetSeconds: 10 };
});
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
const workflowId = `archive-binlogs:lab:test-${run}`;
const passphraseFile = join(labDir(), 'secrets/backup-passphrase');
/** Rows written, with the UTC second each was committed in. */
const writes: TimedWrite[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const handle = () => temporal.client.workflow.getHandle(workflowId);
const status = () => handle().query<PitrArchiveStatus>('status');

function segments(): BinlogManifest[] {
  const base = join(repo, 'clouds/lab/binlog');
  return readdirSync(base)
    .map((d) => JSON.parse(readFileSync(join(base, d, 'manifest.json'), 'utf8')) as BinlogManifest)
    .sort((a, b) => a.binlog.sequence - b.binlog.sequence || a.binlog.startPosition - b.binlog.startPosition);
}

/** One row, written alone in its own second, at least 2 s after the previous one. */
const write = async (id: number) =>
  void (await writeAlone(writes, 'ctl1', id, `INSERT INTO ${schema}.t VALUES (${id}, 'row ${id}')`));
const archivedPast = (at: number, timeoutMs?: number) =>
  waitArchived(status, at, timeoutMs, () => worker.output().slice(-3000));

async function backup(kind: 'full' | 'incremental') {
  const r = await cli(configFile, ['--json', 'backup', 'db', `--${kind}`, '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { backupId: string };
}

beforeAll(async () => {
  await sql('ctl1', `CREATE DATABASE ${schema}; CREATE TABLE ${schema}.t (id INT PRIMARY KEY, v VARCHAR(40))`);
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
});
afterAll(async () => {
  await handle()
    .terminate('test over')
    .catch(() => undefined);
  await worker?.stop();
  await temporal?.close();
  await sql('ctl1', `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

let fullAt = 0;
let incAt = 0;

test('the archiver streams ctl1’s binlog into sealed segments that reassemble to the server’s bytes, across a worker SIGKILL and continue-as-new', async () => {
  await backup('full');
  fullAt = Date.now();
  const { loadConfig } = await import('../../config/load.js');
  const config = loadConfig(configFile);
  await temporal.client.workflow.start('pitrArchiveWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    // a new run every 2 steps: the archive must carry on across runs without a gap
    args: [{ cloud: 'lab', stepsPerRun: 2 }],
  });
  await write(1);
  await backup('incremental');
  incAt = Date.now();
  await archivedPast(writes.at(-1)!.at);
  await write(2);
  // kill the worker while an archive step is running (it has write 2 to cut), keep writing
  // while it is gone, then bring a new one up
  let killedMidStep = false;
  for (const t0 = Date.now(); !killedMidStep && Date.now() - t0 < 15_000; ) {
    const d = await handle().describe();
    killedMidStep = (d.raw.pendingActivities ?? []).some((a) => Number(a.state) === 2); // PENDING_ACTIVITY_STATE_STARTED
    if (!killedMidStep) await sleep(10);
  }
  worker.proc.kill('SIGKILL');
  expect(killedMidStep).toBe(true);
  await worker.stop();
  await write(3);
  worker = await startWorker(configFile);
  await write(4);
  const s = await archivedPast(writes.at(-1)!.at, 60_000);
  expect(s.rpo.achievedRpoSeconds).not.toBeNull();
  expect(s.segments).toBeGreaterThan(0);
  const runs: string[] = [];
  for await (const e of temporal.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push(e.status.name);
  expect(runs.filter((r) => r === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);

  // no gap, no overlap: each file's segments start where the previous one ended, from 0
  const segs = segments();
  const byFile = new Map<string, BinlogManifest[]>();
  for (const m of segs) (byFile.get(m.binlog.file) ?? byFile.set(m.binlog.file, []).get(m.binlog.file)!).push(m);
  for (const [, list] of byFile) {
    expect(list[0]!.binlog.startPosition).toBe(0);
    for (let i = 1; i < list.length; i++) expect(list[i]!.binlog.startPosition).toBe(list[i - 1]!.binlog.endPosition);
  }
  // reassembled with stock gpg + zstd, the archived range is byte for byte the server's file
  const [file, list] = [...byFile].at(-1)!;
  const parts = await Promise.all(
    list.map((m) => openWithStockTools(join(repo, 'clouds/lab/binlog', m.id, m.artifact.file), { passphraseFile })),
  );
  const archived = Buffer.concat(parts);
  const live = readFileSync(join(labDir(), 'ctl1/binlog', file)).subarray(0, archived.length);
  expect(archived.length).toBe(list.at(-1)!.binlog.endPosition);
  expect(archived.equals(live)).toBe(true);
  // every write's GTID falls inside exactly one segment's GTID range
  const seqOf = (g: string | null) => Number((g ?? '').split('-')[2]);
  for (const w of writes) {
    const holding = segs.filter(
      (m) =>
        m.binlog.firstGtid && seqOf(m.binlog.firstGtid) <= seqOf(w.gtid) && seqOf(w.gtid) <= seqOf(m.binlog.lastGtid),
    );
    expect(holding).toHaveLength(1);
  }
}, 150_000);

/** `osbackup restore db` to ctl2 as of second `at`. */
const restoreAtArgs = (at: number) => [
  '--json',
  'restore',
  'db',
  '--to',
  'ctl2',
  '--at',
  new Date(at * 1000).toISOString(),
];

async function restoreAt(at: number) {
  const r = await cli(configFile, restoreAtArgs(at));
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as {
    chain: string[];
    verification: string;
    pointInTime: { base: string; transactions: number; lastGtid: string | null; target: string };
  };
}

const rowsOn = async (host: string) =>
  (await sql(host, `SELECT id FROM ${schema}.t ORDER BY id`)).split('\n').filter(Boolean).map(Number);

test('PITR to a moment inside the incremental’s span: the full backup plus binlogs, exactly the rows up to that second', async () => {
  const w1 = writes[0]!;
  expect(w1.at * 1000 + 1000).toBeLessThan(incAt);
  const r = await restoreAt(w1.at + 1);
  expect(r.verification).toBe('VERIFIED');
  expect(r.chain).toHaveLength(1); // the full backup alone: the incremental was taken after the target
  expect(r.pointInTime.transactions).toBeGreaterThanOrEqual(1);
  expect(await rowsOn('ctl2')).toEqual([1]);
}, 120_000);

test('PITR to a moment after the newest incremental and across the worker kill: exactly the rows up to that second', async () => {
  const w3 = writes[2]!;
  const r = await restoreAt(w3.at + 1);
  expect(r.verification).toBe('VERIFIED');
  expect(r.chain).toHaveLength(2); // full → incremental, then the binlogs
  expect(await rowsOn('ctl2')).toEqual([1, 2, 3]);
  // the replay ended at write 3's transaction at the latest; gtid_slave_pos says where the data stands
  const seq = (g: string | null) => Number((g ?? '').split('-')[2]);
  expect(seq(r.pointInTime.lastGtid)).toBeGreaterThanOrEqual(seq(w3.gtid));
  expect(seq(r.pointInTime.lastGtid)).toBeLessThan(seq(writes[3]!.gtid));
  expect((await sql('ctl2', 'SELECT @@gtid_slave_pos')).trim()).toBe(r.pointInTime.lastGtid);
  // and to the second of the last write: all four
  const r4 = await restoreAt(writes[3]!.at);
  expect(r4.chain).toHaveLength(2);
  expect(await rowsOn('ctl2')).toEqual([1, 2, 3, 4]);
}, 180_000);

test('a worker killed while the binlogs replay: the retry waits for the replay the host still runs and applies no transaction twice', async () => {
  // thousands of one-row transactions into a table without a primary key: a second replay of any
  // of them would double its row, and nothing in the server would refuse it
  const n = 40_000;
  await sql('ctl1', `CREATE TABLE ${schema}.nopk (v INT)`);
  const inserts = Array.from({ length: n }, (_, i) => `INSERT INTO ${schema}.nopk VALUES (${i});`).join('\n');
  await execa('mariadb', [`--defaults-file=${join(labDir(), 'ctl1', 'my.cnf')}`], { input: inserts });
  await sleep(1100);
  const at = Math.floor(Date.now() / 1000);
  await archivedPast(at, 60_000);
  const started = await cli(configFile, [...restoreAtArgs(at), '--no-wait']);
  if (started.exitCode !== 0) throw new Error(started.stderr);
  const h = temporal.client.workflow.getHandle((JSON.parse(started.stdout) as { workflowId: string }).workflowId);
  // kill the worker once the replay runs on the host
  let replaying = false;
  for (const t0 = Date.now(); !replaying && Date.now() - t0 < 120_000; ) {
    const d = await h.describe();
    replaying = (d.raw.pendingActivities ?? []).some(
      (a) => a.activityType?.name === 'mariadbReplayBinlogs' && Number(a.state) === 2, // STARTED
    );
    if (!replaying) await sleep(20);
  }
  expect(replaying).toBe(true);
  // …and has applied part of the transactions: the kill lands in the middle of the replay
  const appliedOnCtl2 = () => sql('ctl2', `SELECT COUNT(*) FROM ${schema}.nopk`).then(Number, () => 0);
  let applied = 0;
  for (const t0 = Date.now(); applied === 0 && Date.now() - t0 < 60_000; ) {
    applied = await appliedOnCtl2();
    if (applied === 0) await sleep(20);
  }
  worker.proc.kill('SIGKILL');
  expect(applied).toBeGreaterThan(0);
  expect(applied).toBeLessThan(n);
  await worker.stop();
  worker = await startWorker(configFile);
  const r = (await h.result()) as { verification: string; pointInTime: { transactions: number } };
  expect(r.verification).toBe('VERIFIED');
  const [count, distinct] = (await sql('ctl2', `SELECT COUNT(*), COUNT(DISTINCT v) FROM ${schema}.nopk`))
    .split('\t')
    .map(Number);
  expect({ count, distinct }).toEqual({ count: n, distinct: n });
}, 300_000);

test('a transaction larger than the server’s packet limit replays: its rows are all there', async () => {
  // one statement that writes 80 rows of 1 MiB: mariadb-binlog prints its row events as one
  // BINLOG statement of ~107 MB, above the lab servers' max_allowed_packet (64 MiB)
  await sql(
    'ctl1',
    `USE ${schema}; CREATE TABLE wide (id INT PRIMARY KEY, b MEDIUMBLOB); INSERT INTO wide SELECT seq, REPEAT(MD5(seq), 32768) FROM seq_1_to_80`,
  );
  const packet = Number(await sql('ctl2', 'SELECT @@global.max_allowed_packet'));
  expect(packet).toBeLessThan(80 * 2 ** 20);
  await sleep(1100);
  const at = Math.floor(Date.now() / 1000);
  await archivedPast(at, 60_000);
  const r = await restoreAt(at);
  expect(r.verification).toBe('VERIFIED');
  const sum = `CHECKSUM TABLE ${schema}.wide`;
  expect(await sql('ctl2', `SELECT COUNT(*) FROM ${schema}.wide`)).toBe('80');
  expect(await sql('ctl2', sum)).toBe(await sql('ctl1', sum));
  // the limit is the server's own again once the replay is over
  expect(Number(await sql('ctl2', 'SELECT @@global.max_allowed_packet'))).toBe(packet);
}, 180_000);

test('a target before the oldest backup or after the newest archived event fails at once, naming the recoverable range', async () => {
  for (const at of [Math.floor(fullAt / 1000) - 3600, Math.floor(Date.now() / 1000) + 3600]) {
    const t0 = Date.now();
    const r = await cli(configFile, ['restore', 'db', '--to', 'ctl2', '--at', new Date(at * 1000).toISOString()]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/cannot be recovered: the recoverable range is \S+ – \S+/);
    expect(r.stderr).toMatch(/PitrOutOfRange|nothing was touched/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  }
});

test('a backup user without BINLOG MONITOR is refused at once, with the GRANT that fixes it', async () => {
  const user = `osb_nobinlog_${run}`;
  const pwFile = join(dir, 'nobinlog-password');
  writeFileSync(pwFile, 'nobinlog-pw\n', { mode: 0o600 });
  await sql(
    'ctl1',
    `SET SESSION sql_log_bin=0; CREATE USER '${user}'@'localhost' IDENTIFIED BY 'nobinlog-pw'; GRANT SELECT, RELOAD ON *.* TO '${user}'@'localhost'`,
  );
  const own = deriveConfig('pitr-grants', (c) => {
    c.repository.path = join(dir, 'repo-grants');
    c.clouds.lab.database.user = user;
    c.clouds.lab.database.password = { file: pwFile };
  });
  const w = await startWorker(own);
  const { client, close } = await temporalClient(own);
  try {
    const { loadConfig } = await import('../../config/load.js');
    const t0 = Date.now();
    const outcome = await client.workflow
      .execute('pitrArchiveWorkflow', {
        taskQueue: loadConfig(own).temporal.taskQueue,
        workflowId: `${workflowId}-grants`,
        args: [{ cloud: 'lab' }],
      })
      .then(
        () => 'completed',
        (e: Error & { cause?: Error & { cause?: Error & { type?: string } } }) =>
          `${e.cause?.cause?.type}: ${e.cause?.cause?.message}`,
      );
    expect(outcome).toMatch(
      /^MariadbPrivileges: .*may not read the binary log positions.*BINLOG MONITOR.*Fix: GRANT BINLOG MONITOR ON \*\.\* TO 'osb_nobinlog_/,
    );
    expect(Date.now() - t0).toBeLessThan(20_000); // not retried: nothing a retry could fix
  } finally {
    await close();
    await w.stop();
    await sql('ctl1', `SET SESSION sql_log_bin=0; DROP USER IF EXISTS '${user}'@'localhost'`);
  }
}, 60_000);
