// Binlog segment compaction on the real lab: ctl1's binary log archived in 1 s segments with
// compactAfterMinutes at 6 s, so the archiver's compaction passes merge them while rows are
// written. Then: fewer segment folders and catalog rows than segments archived, nothing MISSING;
// a point-in-time restore to a second inside a merged segment gives exactly the rows up to it;
// the merged segment's hand-restore recipe, run as written with stock tools, gives back the
// server's file byte for byte, and mariadb-binlog reads every event of it.
import { execa } from 'execa';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BinlogManifest } from '../../core/pitr/segments.js';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
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
const schema = `pitrc_${run}`;
const { dir, repo, configFile } = configWithOwnRepo('pitr-compaction', (c) => {
  c.clouds.lab.database.binlog = { segmentSeconds: 1, rpoTargetSeconds: 10, compactAfterMinutes: 0.1 };
});
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
const workflowId = `archive-binlogs:lab:compaction-${run}`;
const passphraseFile = join(labDir(), 'secrets/backup-passphrase');
const writes: TimedWrite[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const handle = () => temporal.client.workflow.getHandle(workflowId);
const status = () => handle().query<PitrArchiveStatus>('status');
const isMerged = (m: BinlogManifest) => /-\d{12}-\d{12}$/.test(m.id);
const seq = (g: string | null) => Number((g ?? '').split('-')[2]);
/** Is `s` a piece inside the longer segment `m`? */
const inside = (s: BinlogManifest, m: BinlogManifest) =>
  s.id !== m.id &&
  s.binlog.file === m.binlog.file &&
  m.binlog.startPosition <= s.binlog.startPosition &&
  s.binlog.endPosition <= m.binlog.endPosition;

function segments(): BinlogManifest[] {
  const base = join(repo, 'clouds/lab/binlog');
  return readdirSync(base)
    .flatMap((d) => {
      try {
        return [JSON.parse(readFileSync(join(base, d, 'manifest.json'), 'utf8')) as BinlogManifest];
      } catch {
        return []; // a folder being removed
      }
    })
    .sort((a, b) => a.binlog.sequence - b.binlog.sequence || a.binlog.startPosition - b.binlog.startPosition);
}

const write = async (id: number) =>
  void (await writeAlone(writes, 'ctl1', id, `INSERT INTO ${schema}.t VALUES (${id}, 'row ${id}')`));
const rowsOn = async (host: string) =>
  (await sql(host, `SELECT id FROM ${schema}.t ORDER BY id`)).split('\n').filter(Boolean).map(Number);

beforeAll(async () => {
  await sql('ctl1', `CREATE DATABASE ${schema}; CREATE TABLE ${schema}.t (id INT PRIMARY KEY, v VARCHAR(40))`);
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
});
afterAll(async () => {
  await handle()
    .terminate('test over')
    .catch(() => undefined);
  await temporal?.client.workflow
    .getHandle('compact-binlogs:lab')
    .terminate('test over')
    .catch(() => undefined);
  await worker?.stop();
  await temporal?.close();
  await sql('ctl1', `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

let merged: BinlogManifest;

test('the archiver’s compaction passes merge old segments: fewer folders and catalog rows, nothing missing, pieces gone', async () => {
  const full = await cli(configFile, ['--json', 'backup', 'db', '--full', '--wait']);
  if (full.exitCode !== 0) throw new Error(full.stderr);
  const { loadConfig } = await import('../../config/load.js');
  await temporal.client.workflow.start('pitrArchiveWorkflow', {
    taskQueue: loadConfig(configFile).temporal.taskQueue,
    workflowId,
    args: [{ cloud: 'lab' }],
  });
  for (const id of [1, 2, 3, 4, 5]) await write(id);
  await waitArchived(status, writes.at(-1)!.at, 30_000, () => worker.output().slice(-3000));

  // wait for a merged segment holding writes 1-3 with no piece left inside it
  let segs: BinlogManifest[] = [];
  const find = () => {
    segs = segments();
    const m = segs.find(
      (s) =>
        isMerged(s) &&
        s.binlog.firstGtid &&
        seq(s.binlog.firstGtid) <= seq(writes[0]!.gtid) &&
        seq(writes[2]!.gtid) <= seq(s.binlog.lastGtid),
    );
    return m && !segs.some((s) => s !== m && inside(s, m)) ? m : undefined;
  };
  for (const t0 = Date.now(); !find() && Date.now() - t0 < 60_000; ) await sleep(1000);
  const s = await status();
  // then hold still: no more cuts or passes while the rest is checked
  await handle().terminate('compaction seen');
  await temporal.client.workflow
    .getHandle('compact-binlogs:lab')
    .result()
    .catch(() => undefined);
  await sleep(2000);
  merged = find()!;
  if (!merged)
    throw new Error(
      `no merged segment holds writes 1-3 after 60 s: ${segs.map((x) => x.id).join(', ')}\n${worker.output().slice(-3000)}`,
    );
  expect(s.compactionsStarted).toBeGreaterThan(0);
  expect(merged.binlog.compacted!.pieces).toBeGreaterThanOrEqual(3);
  expect(segs.length).toBeLessThan(s.segments);
  // still no gap, no overlap: each file's segments start where the previous one ended, from 0
  const byFile = new Map<string, BinlogManifest[]>();
  for (const m of segs) (byFile.get(m.binlog.file) ?? byFile.set(m.binlog.file, []).get(m.binlog.file)!).push(m);
  for (const [, list] of byFile) {
    expect(list[0]!.binlog.startPosition).toBe(0);
    for (let i = 1; i < list.length; i++) expect(list[i]!.binlog.startPosition).toBe(list[i - 1]!.binlog.endPosition);
  }

  // a pass on demand (the CLI) finds the archive compacted: nothing damaged, nothing left over
  const pass = await cli(configFile, ['--json', 'binlog', 'compact', '--cloud', 'lab']);
  expect(pass.exitCode).toBe(0);
  expect(JSON.parse(pass.stdout)).toMatchObject({ skipped: null, failed: [], kept: [] });
  merged = find() ?? merged;

  // the catalog lists the merged segment like any other and has forgotten the removed pieces
  // (the repository only: the lab's other targets are shared with other tests)
  const c = await cli(configFile, [
    '--json',
    'catalog',
    'list',
    '--cloud',
    'lab',
    '--target',
    loadConfig(configFile).repository.name,
  ]);
  expect(c.exitCode).toBe(0);
  const rows = (JSON.parse(c.stdout) as CatalogEntry[]).filter((r) => r.component === 'binlog');
  expect(rows.filter((r) => r.check === 'MISSING')).toEqual([]);
  expect(rows.map((r) => r.id)).toContain(merged.id);
  expect(rows.length).toBeLessThan(s.segments);
  expect(rows.find((r) => r.id === merged.id)!.binlog).toBe(
    `${merged.binlog.file}:${merged.binlog.startPosition}-${merged.binlog.endPosition}`,
  );
}, 150_000);

test('PITR to a second inside the merged segment: exactly the rows up to it', async () => {
  const w2 = writes[1]!;
  expect(Date.parse(merged.binlog.firstEventAt!)).toBeLessThanOrEqual(w2.at * 1000);
  const r = await cli(configFile, [
    '--json',
    'restore',
    'db',
    '--to',
    'ctl2',
    '--at',
    new Date((w2.at + 1) * 1000).toISOString(),
  ]);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  const out = JSON.parse(r.stdout) as {
    verification: string;
    pointInTime: { segments: number; lastGtid: string | null };
  };
  expect(out.verification).toBe('VERIFIED');
  expect(await rowsOn('ctl2')).toEqual([1, 2]);
  expect(seq(out.pointInTime.lastGtid)).toBeGreaterThanOrEqual(seq(w2.gtid));
  expect(seq(out.pointInTime.lastGtid)).toBeLessThan(seq(writes[2]!.gtid));
}, 120_000);

test('the merged segment’s hand-restore recipe, run as written, rebuilds the server’s file; mariadb-binlog reads every event', async () => {
  const recipe = readFileSync(join(repo, 'clouds/lab/binlog', merged.id, 'RESTORE.md'), 'utf8');
  const script = /\n {4}(cd <repository>[\s\S]*?\n {4}\})\n/.exec(recipe)![1]!.replace(/^ {4}/gm, '');
  const r = await execa(
    'bash',
    ['-c', script.replace('<repository>', repo).replace('/path/to/backup-passphrase', passphraseFile)],
    { reject: false, env: { GNUPGHOME: join(dir, 'gnupg-hand') }, extendEnv: true },
  );
  expect(r.stderr).not.toMatch(/missing|FAILED|rror/);
  expect(r.exitCode).toBe(0);
  const file = join(repo, 'clouds/lab/binlog', merged.binlog.file);
  const rebuilt = readFileSync(file);
  const all = segments();
  const used = all.filter((s) => s.binlog.file === merged.binlog.file && !all.some((m) => inside(s, m)));
  expect(rebuilt.length).toBe(used.at(-1)!.binlog.endPosition);
  expect(
    rebuilt.equals(readFileSync(join(labDir(), 'ctl1/binlog', merged.binlog.file)).subarray(0, rebuilt.length)),
  ).toBe(true);
  // every event: one header line per event, the last ending at the file's end, the writes' GTIDs among them.
  // Row images are left out (decode-rows without -v): earlier suites may have written gigabytes of rows to
  // the same binlog file, and the headers are what this counts.
  const text = (await execa('mariadb-binlog', ['--base64-output=decode-rows', file], { maxBuffer: 512 * 1024 * 1024 }))
    .stdout;
  const ends = [...text.matchAll(/^#\d{6} +\d+:\d\d:\d\d server id \d+ +end_log_pos (\d+)/gm)].map((m) => Number(m[1]));
  expect(ends.length).toBe(used.reduce((n, s) => n + s.binlog.events, 0));
  expect(ends.at(-1)).toBe(rebuilt.length);
  for (const w of writes) expect(text).toContain(`GTID ${w.gtid}`);
}, 60_000);
