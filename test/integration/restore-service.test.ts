// Single-service restore on the real lab: two test schemas on ctl1 written at known UTC
// seconds while the binlog archiver runs; one of them restored to a moment between two writes
// through a scratch MariaDB on ctl2 — exactly the rows up to that moment — while every other
// schema on ctl1 keeps its checksums (including rows written to the other test schema after
// the target). A rejected restore leaves ctl1 untouched; a failing check names its exit code,
// its stderr and the safety dump, which brings the schema back with the stock client.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import type { RestoreServiceResult, ServiceRestoreSummary } from '../../workflows/restore-service.js';
import { archivedPast as waitArchived, writeAlone, type TimedWrite } from '../helpers/timed-writes.js';
import {
  cli,
  configWithOwnRepo,
  labDir,
  sql,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const run = `${process.pid}${Date.now() % 100000}`;
const svcA = `svc_a_${run}`;
const svcB = `svc_b_${run}`;
const ctl1Cnf = join(labDir(), 'ctl1/my.cnf');
const scratchRoot = join(labDir(), 'ctl2/restore');
const { dir, configFile } = configWithOwnRepo('svc', (c) => {
  c.clouds.lab.database.binlog = { segmentSeconds: 1, rpoTargetSeconds: 10 };
  c.clouds.lab.serviceRestore = { scratchHost: 'ctl2' };
  c.clouds.lab.services = {
    // harmless real commands: the "redeploy" leaves a mark on the worker, the check reads the restored schema on ctl1 over SSH
    svca: {
      schemas: [svcA],
      redeploy: ['sh', '-c', `date -u +%FT%TZ > ${dirname(c.repository.path as string)}/redeployed`],
      check: ['mariadb', `--defaults-file=${ctl1Cnf}`, '-N', '-B', '-e', `SELECT COUNT(*) FROM ${svcA}.t`],
      runOn: 'ctl1',
    },
    svcfail: { schemas: [svcA], check: ['sh', '-c', 'echo "nova-api does not answer on :8774" >&2; exit 3'] },
  };
});
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
const archiver = `archive-binlogs:lab:svc-${run}`;
const writes: TimedWrite[] = [];
const folders: string[] = [];

const status = () => temporal.client.workflow.getHandle(archiver).query<PitrArchiveStatus>('status');
const archivedPast = (at: number) => waitArchived(status, at, 60_000, () => worker.output().slice(-3000));
const rowsOf = async (table: string) =>
  (await sql('ctl1', `SELECT id FROM ${table} ORDER BY id`)).split('\n').filter(Boolean).map(Number);
const iso = (sec: number) => new Date(sec * 1000).toISOString();

/** CHECKSUM TABLE of every base table on ctl1 outside the system schemas and `except`. */
async function checksums(except: string): Promise<Record<string, string>> {
  const tables = (
    await sql(
      'ctl1',
      `SELECT CONCAT('\`', table_schema, '\`.\`', table_name, '\`') FROM information_schema.tables WHERE table_type='BASE TABLE' AND table_schema NOT IN ('mysql','information_schema','performance_schema','sys','${except}') ORDER BY 1`,
    )
  )
    .split('\n')
    .filter(Boolean);
  const out = await sql('ctl1', tables.map((t) => `CHECKSUM TABLE ${t}`).join(';'));
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as [string, string]),
  );
}

async function backup(kind: 'full' | 'incremental') {
  const r = await cli(configFile, ['--json', 'backup', 'db', `--${kind}`, '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
}

beforeAll(async () => {
  await sql(
    'ctl1',
    `CREATE DATABASE ${svcA}; CREATE TABLE ${svcA}.t (id INT PRIMARY KEY, v VARCHAR(40)); CREATE TABLE ${svcA}.t2 (id INT PRIMARY KEY, n INT); CREATE DATABASE ${svcB}; CREATE TABLE ${svcB}.t (id INT PRIMARY KEY, v VARCHAR(40))`,
  );
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
});
afterAll(async () => {
  await temporal?.client.workflow
    .getHandle(archiver)
    .terminate('test over')
    .catch(() => undefined);
  await worker?.stop();
  await temporal?.close();
  await sql('ctl1', `DROP DATABASE IF EXISTS ${svcA}; DROP DATABASE IF EXISTS ${svcB}`).catch(() => undefined);
  for (const f of folders) if (f.startsWith(`${scratchRoot}/service-`)) rmSync(f, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

/** svc_a row n (and a t2 row), or svc_b row n, each alone in its second. */
const writeA = (n: number) =>
  writeAlone(
    writes,
    'ctl1',
    n,
    `INSERT INTO ${svcA}.t VALUES (${n}, 'a ${n}'); INSERT INTO ${svcA}.t2 VALUES (${n}, ${n * 10})`,
  );
const writeB = (n: number) => writeAlone(writes, 'ctl1', 100 + n, `INSERT INTO ${svcB}.t VALUES (${n}, 'b ${n}')`);
const at = { a2: 0, a3: 0, a4: 0, b1: 0, b2: 0, b3: 0 };
let dumpId = '';

test('setup: a full backup, the archiver, then writes to both schemas at known seconds (a logical dump and an incremental between them)', async () => {
  await writeA(1);
  await backup('full');
  const { loadConfig } = await import('../../config/load.js');
  await temporal.client.workflow.start('pitrArchiveWorkflow', {
    taskQueue: loadConfig(configFile).temporal.taskQueue,
    workflowId: archiver,
    args: [{ cloud: 'lab' }],
  });
  at.a2 = (await writeA(2)).at;
  // a logical dump of both test schemas between a2 and b1
  const d = await cli(configFile, ['--json', 'backup', 'dump', '--schemas', `${svcA},${svcB}`]);
  if (d.exitCode !== 0) throw new Error(d.stderr);
  dumpId = (JSON.parse(d.stdout) as { dumpId: string }).dumpId;
  at.b1 = (await writeB(1)).at;
  await backup('incremental');
  at.a3 = (await writeA(3)).at;
  at.b2 = (await writeB(2)).at;
  at.a4 = (await writeA(4)).at;
  at.b3 = (await writeB(3)).at;
  await archivedPast(at.b3);
}, 120_000);

test('default: the logical dump fits (taken before the target, binlogs archived from its position): the dump in a fresh scratch server plus only the schema’s row events — exactly the rows up to the target; other schemas untouched', async () => {
  const before = await checksums(svcA);
  const target = at.a3 + 1; // the dump holds rows 1–2; row 3 comes from the binlog; b1/b2 (svc_b) are filtered out
  expect(target).toBeLessThan(at.b2);
  const r = await cli(configFile, ['--json', 'restore', 'service', 'svca', '--at', iso(target), '--yes']);
  if (r.exitCode !== 0) throw new Error(r.stderr + worker.output().slice(-3000));
  const res = JSON.parse(r.stdout) as RestoreServiceResult;
  folders.push(res.summary.export.file.replace(/\/export\/.*$/, ''));
  expect(res.summary.via).toBe('dump');
  expect(res.summary.from.artifacts).toEqual([dumpId]);
  expect(res.summary.from.replayedTransactions).toBeGreaterThanOrEqual(1);
  expect(await rowsOf(`${svcA}.t`)).toEqual([1, 2, 3]);
  expect(await rowsOf(`${svcA}.t2`)).toEqual([1, 2, 3]);
  expect(res.liveTables).toEqual([
    { table: `${svcA}.t`, rows: 3 },
    { table: `${svcA}.t2`, rows: 3 },
  ]);
  expect(await checksums(svcA)).toEqual(before);
  expect(await rowsOf(`${svcB}.t`)).toEqual([1, 2, 3]);
  expect(res.check).toMatchObject({ exitCode: 0, stdoutTail: '3' });
  expect(readFileSync(res.safetyDump!.file, 'utf8')).toMatch(new RegExp(`INSERT INTO \`t\` VALUES[^;]*\\(4,'a 4'\\)`));
  console.log(`restore service svca via dump to ${iso(target)}: ${res.totalSeconds.toFixed(1)} s in the workflow`);
}, 240_000);

test('--via scratch: the physical backup in a scratch server on ctl2 plus every binlog event, to a moment between two writes: exactly the rows up to it; every other schema on ctl1 keeps its checksums; redeploy and check run', async () => {
  const before = await checksums(svcA);
  expect(Object.keys(before)).toContain(`${svcB}.t`);
  const target = at.a2 + 1; // after a2's second, before b1's (≥ 2 s later)
  expect(target).toBeLessThan(at.b1);
  const t0 = Date.now();
  const r = await cli(configFile, [
    '--json',
    'restore',
    'service',
    'svca',
    '--at',
    iso(target),
    '--via',
    'scratch',
    '--yes',
  ]);
  if (r.exitCode !== 0) throw new Error(r.stderr + worker.output().slice(-3000));
  const res = JSON.parse(r.stdout) as RestoreServiceResult & { workflowId: string };
  const took = (Date.now() - t0) / 1000;
  folders.push(res.summary.export.file.replace(/\/export\/.*$/, ''));
  expect(res.outcome).toBe('restored');
  expect(res.summary.via).toBe('scratch');
  expect(res.summary.from.artifacts).toHaveLength(1); // the full backup (the incremental came later), then binlogs
  // exactly the rows written up to the target; rows of svc_a written later are gone
  expect(await rowsOf(`${svcA}.t`)).toEqual([1, 2]);
  expect(await rowsOf(`${svcA}.t2`)).toEqual([1, 2]);
  expect(res.summary.tables).toEqual([
    { table: `${svcA}.t`, rows: 2 },
    { table: `${svcA}.t2`, rows: 2 },
  ]);
  expect(res.liveTables).toEqual(res.summary.tables);
  // the other schemas untouched — svc_b keeps rows written after the target
  expect(await checksums(svcA)).toEqual(before);
  expect(await rowsOf(`${svcB}.t`)).toEqual([1, 2, 3]);
  // redeploy and check ran on ctl1 over SSH (runOn): the mark is on the shared lab disk, the check read the restored schema
  expect(existsSync(join(dir, 'redeployed'))).toBe(true);
  expect(res.redeploy).toMatchObject({ where: 'ctl1', exitCode: 0 });
  expect(res.check).toMatchObject({ where: 'ctl1', exitCode: 0, stdoutTail: '2' });
  // the scratch server is gone, only the export and the safety dump stay; the safety dump holds the pre-import rows
  const folder = folders.at(-1)!;
  expect(readdirSync(folder).sort()).toEqual(['export', 'safety']);
  expect(res.safetyDump!.file.startsWith(folder)).toBe(true);
  const safety = readFileSync(res.safetyDump!.file, 'utf8');
  expect(safety).toMatch(new RegExp(`INSERT INTO \`t\` VALUES[^;]*\\(3,'a 3'\\)`)); // the state before: rows 1–3 (the dump test ran first)
  expect((await execa('pgrep', ['-f', `${folder}/instance`], { reject: false })).stdout).toBe('');
  // no secret of the config in the result
  expect(r.stdout).not.toMatch(new RegExp(readFileSync(join(labDir(), 'secrets/db-password'), 'utf8').trim()));
  console.log(
    `restore service svca to ${iso(target)}: ${took.toFixed(1)} s (${res.totalSeconds.toFixed(1)} s in the workflow)`,
  );
}, 240_000);

test('a rejected restore ends cleanly: the summary showed the prepared rows, ctl1 is untouched, the scratch folder is removed', async () => {
  const before = { ...(await checksums('none')) };
  // stdin is not a TTY: the CLI prints the summary and waits for `restore approve|reject`
  const cliRun = execa(
    'node',
    ['dist/client/cli.js', '--config', configFile, 'restore', 'service', 'svca', '--at', iso(at.a4)],
    { reject: false, stdin: 'ignore' },
  );
  let err = '';
  cliRun.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  for (const t0 = Date.now(); !/started (\S+)/.test(err) && Date.now() - t0 < 20_000; )
    await new Promise((r) => setTimeout(r, 200));
  const workflowId = /started (\S+)/.exec(err)?.[1] ?? '';
  const { client } = temporal;
  expect(workflowId).toMatch(/^restore-service:lab:svca:/);
  const handle = client.workflow.getHandle(workflowId);
  let summary: ServiceRestoreSummary | null = null;
  for (const t0 = Date.now(); !summary && Date.now() - t0 < 180_000; ) {
    summary = await handle.query<ServiceRestoreSummary | null>('summary').catch(() => null);
    if (!summary) await new Promise((r) => setTimeout(r, 500));
  }
  expect(summary!.tables).toEqual([
    { table: `${svcA}.t`, rows: 4 },
    { table: `${svcA}.t2`, rows: 4 },
  ]);
  folders.push(summary!.export.file.replace(/\/export\/.*$/, ''));
  const rej = await cli(configFile, ['restore', 'reject', workflowId, '--reason', 'test declines']);
  expect(rej.exitCode).toBe(0);
  const r = await cliRun;
  expect(r.exitCode).toBe(0);
  expect(r.stderr).toContain(`waiting for a decision: osbackup restore approve ${workflowId}`);
  expect(r.stderr).toContain(`${svcA}.t: 4 rows`);
  expect(r.stdout).toContain('rejected (test declines): the live database was not touched');
  expect(await checksums('none')).toEqual(before);
  expect(existsSync(folders.at(-1)!)).toBe(false);
}, 240_000);

test('a failing check fails the workflow at once naming the command, its exit code and stderr, and the safety dump that goes back', async () => {
  const t0 = Date.now();
  const r = await cli(configFile, ['restore', 'service', 'svcfail', '--at', iso(at.b3), '--yes']);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(
    /\[ServiceCheckFailed\] the check command of service svcfail \(sh on worker\) exited 3: nova-api does not answer on :8774/,
  );
  const m = /mariadb < ctl2:(\S+)/.exec(r.stderr);
  expect(m).not.toBeNull();
  folders.push(m![1]!.replace(/\/safety\/.*$/, ''));
  expect(await rowsOf(`${svcA}.t`)).toEqual([1, 2, 3, 4]); // the import happened (target after write 4)
  // going back by hand with the stock client: the state before this restore (rows 1–2, from the scratch test)
  await execa('bash', ['-c', `mariadb --defaults-file=${ctl1Cnf} < ${m![1]}`]);
  expect(await rowsOf(`${svcA}.t`)).toEqual([1, 2]);
  expect(Date.now() - t0).toBeLessThan(200_000);
}, 240_000);
