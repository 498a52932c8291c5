// Point-in-time targets other than a second, on the real lab: ctl1's binary logs archived
// continuously, rows written with their GTIDs and the binlog position after each commit, then
// restores into ctl2 to a write's GTID and to a position — exactly the rows up to and including
// that write — and, after an idle period, to a second in it (recoverable although no segment
// was cut after the last write). Targets outside the archive are refused at once, naming the
// GTID and position ranges.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BinlogManifest } from '../../core/pitr/segments.js';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import { cli, configWithOwnRepo, sql, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';

const run = `${process.pid}${Date.now() % 100000}`;
const schema = `pitrt_${run}`;
const { dir, repo, configFile } = configWithOwnRepo('pitr-targets', (c) => {
  c.clouds.lab.database.binlog = { segmentSeconds: 1, rpoTargetSeconds: 10 };
});
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
const workflowId = `archive-binlogs:lab:targets-${run}`;
/** Rows written: the GTID of each and the binlog position right after its commit. */
const writes: { id: number; at: number; gtid: string; file: string; position: number }[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = () => temporal.client.workflow.getHandle(workflowId).query<PitrArchiveStatus>('status');

async function write(id: number): Promise<void> {
  const out = await sql(
    'ctl1',
    `INSERT INTO ${schema}.t VALUES (${id}, 'row ${id}'); SELECT @@last_gtid; SHOW MASTER STATUS`,
  );
  const [gtid, master] = out.split('\n');
  const [file, position] = master!.split('\t');
  writes.push({ id, at: Math.floor(Date.now() / 1000), gtid: gtid!.trim(), file: file!, position: Number(position) });
}

async function archivedPast(atMs: number, timeoutMs = 30_000): Promise<PitrArchiveStatus> {
  const t0 = Date.now();
  for (;;) {
    const s = await status().catch(() => undefined);
    if (s?.caughtUpAt && Date.parse(s.caughtUpAt) >= atMs) return s;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `the archive did not reach ${new Date(atMs).toISOString()}: ${JSON.stringify(s)}\n${worker.output().slice(-3000)}`,
      );
    await sleep(300);
  }
}

function segments(): BinlogManifest[] {
  const base = join(repo, 'clouds/lab/binlog');
  return readdirSync(base).map(
    (d) => JSON.parse(readFileSync(join(base, d, 'manifest.json'), 'utf8')) as BinlogManifest,
  );
}

async function restore(args: string[]) {
  const r = await cli(configFile, ['--json', 'restore', 'db', '--to', 'ctl2', ...args]);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as {
    chain: string[];
    verification: string;
    pointInTime: { target: string; transactions: number; lastGtid: string | null; gtidSlavePos: string | null };
  };
}

const rowsOn = async (host: string) =>
  (await sql(host, `SELECT id FROM ${schema}.t ORDER BY id`)).split('\n').filter(Boolean).map(Number);

beforeAll(async () => {
  await sql('ctl1', `CREATE DATABASE ${schema}; CREATE TABLE ${schema}.t (id INT PRIMARY KEY, v VARCHAR(40))`);
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
  const full = await cli(configFile, ['--json', 'backup', 'db', '--full', '--wait']);
  if (full.exitCode !== 0) throw new Error(full.stderr);
  const { loadConfig } = await import('../../config/load.js');
  await temporal.client.workflow.start('pitrArchiveWorkflow', {
    taskQueue: loadConfig(configFile).temporal.taskQueue,
    workflowId,
    args: [{ cloud: 'lab' }],
  });
  for (const id of [1, 2, 3]) {
    await write(id);
    await sleep(300);
  }
  await archivedPast(Date.now());
}, 120_000);
afterAll(async () => {
  await temporal?.client.workflow
    .getHandle(workflowId)
    .terminate('test over')
    .catch(() => undefined);
  await worker?.stop();
  await temporal?.close();
  await sql('ctl1', `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('a second in an idle period after the last write is recoverable: the archiver records its progress without a segment', async () => {
  // the archive's newest segment ends where the server's log ended at its cut; the idle steps
  // after it publish nothing but move the progress object on
  const progressFile = join(repo, 'clouds/lab/.binlog-progress/ctl1.json');
  let target = 0;
  let newest = 0;
  for (const t0 = Date.now(); Date.now() - t0 < 30_000; await sleep(500)) {
    newest = Math.max(...segments().map((m) => Date.parse(m.binlog.archivedThrough)));
    target = Math.floor(newest / 1000) + 2;
    const p = (() => {
      try {
        return JSON.parse(readFileSync(progressFile, 'utf8')) as { archivedThrough: string };
      } catch {
        return undefined;
      }
    })();
    if (
      p &&
      Date.parse(p.archivedThrough) >= (target + 1) * 1000 &&
      Math.max(...segments().map((m) => Date.parse(m.binlog.archivedThrough))) === newest
    )
      break;
  }
  // no segment reaches the target: without the progress object it would be refused
  expect(newest).toBeLessThan(target * 1000);
  expect(
    Date.parse((JSON.parse(readFileSync(progressFile, 'utf8')) as { archivedThrough: string }).archivedThrough),
  ).toBeGreaterThanOrEqual((target + 1) * 1000);
  const r = await restore(['--at', new Date(target * 1000).toISOString()]);
  expect(r.verification).toBe('VERIFIED');
  expect(await rowsOn('ctl2')).toEqual([1, 2, 3]);
}, 180_000);

test('--gtid of a write restores exactly the rows up to and including that write', async () => {
  const w2 = writes[1]!;
  const r = await restore(['--gtid', w2.gtid]);
  expect(r.verification).toBe('VERIFIED');
  expect(r.pointInTime.target).toBe(w2.gtid);
  expect(r.pointInTime.lastGtid).toBe(w2.gtid);
  expect(await rowsOn('ctl2')).toEqual([1, 2]);
  expect((await sql('ctl2', 'SELECT @@gtid_slave_pos')).trim()).toBe(w2.gtid);
}, 180_000);

test('--position after a write’s commit restores exactly the rows up to and including it', async () => {
  const w1 = writes[0]!;
  const r = await restore(['--position', `${w1.file}:${w1.position}`]);
  expect(r.pointInTime.target).toBe(`${w1.file}:${w1.position}`);
  expect(r.pointInTime.lastGtid).toBe(w1.gtid);
  expect(await rowsOn('ctl2')).toEqual([1]);
  // a position inside write 2's transaction would replay part of it: refused before anything is touched
  const inside = await cli(configFile, [
    'restore',
    'db',
    '--to',
    'ctl2',
    '--position',
    `${w1.file}:${w1.position + 1}`,
  ]);
  expect(inside.exitCode).not.toBe(0);
  expect(inside.stderr).toContain(`binlog position ${w1.file}:${w1.position + 1} is inside a transaction`);
  expect(inside.stderr).toContain(`${w1.file}:${w1.position}`); // the boundary before it is named
  expect(await rowsOn('ctl2')).toEqual([1]);
}, 180_000);

test('GTIDs and positions outside the archive are refused at once with the GTID and position ranges', async () => {
  const last = writes.at(-1)!;
  const [d, s, n] = last.gtid.split('-').map(Number);
  for (const args of [
    ['--gtid', `${d}-${s}-${n! + 1000}`],
    ['--gtid', `${d}-${s}-1`],
    ['--position', `${last.file}:${last.position + 100_000}`],
  ]) {
    const t0 = Date.now();
    const r = await cli(configFile, ['restore', 'db', '--to', 'ctl2', ...args]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(
      /cannot be recovered .*: the recoverable range is \S+ – \S+ \(GTIDs \S+ – \S+, positions \S+:\d+ – \S+:\d+\)/,
    );
    expect(r.stderr).toMatch(/PitrOutOfRange|nothing was touched/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  }
});
