// Scrub on the real lab: real backups (two chains) on the repository and on the lab's real
// OpenStack Swift (S3 API), then a flipped byte, a truncated object and a deleted artifact on
// both; `osbackup verify` must name each with its outcome and the restore points it breaks,
// mark the intact ones CHECKED with a date (a CheckRecord beside the manifest), and exit 4.
// `osbackup capacity` must report what each target holds.
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  openSync,
  readSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../config/load.js';
import { openTarget, type TargetStore } from '../../activities/storage/target.js';
import { checkRecordKey, type CheckRecord } from '../../core/manifest/manifest.js';
import type { VerifyResult } from '../../workflows/verify.js';
import type { TargetCapacity } from '../../core/capacity/capacity.js';
import { cli, configWithOwnRepo, deriveConfig, labDir, startWorker, type WorkerProcess } from '../helpers/lab.js';

const swiftDir = join(labDir(), 'ctl1', 'swift');
const prefix = `test-verify-${process.pid}-${Date.now()}/`;
let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
let swift: TargetStore;
// chain A: fullA ← incA1; chain B: fullB ← incB1 ← incB2
const ids: Record<'fullA' | 'incA1' | 'fullB' | 'incB1' | 'incB2', string> = {} as never;
const DATA = 'data.xb.zst.gpg';
const dbDir = (id: string) => `clouds/lab/database/${id}`;

async function backup(kind: 'full' | 'incremental'): Promise<string> {
  const r = await cli(own.configFile, ['--json', 'backup', 'db', `--${kind}`, '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { backupId: string }).backupId;
}

/** What a copy does, by hand: every file of each folder, the manifest last; then the catalog (snapshot and records). */
async function copyToSwift(): Promise<void> {
  for (const id of Object.values(ids)) {
    const names = readdirSync(join(own.repo, dbDir(id)), { recursive: true, withFileTypes: true }).filter((d) =>
      d.isFile(),
    );
    const rels = names
      .map((d) => join(d.parentPath, d.name).slice(join(own.repo, dbDir(id)).length + 1))
      .sort((a, b) => Number(a === 'manifest.json') - Number(b === 'manifest.json'));
    for (const rel of rels)
      await swift.putStream(`${dbDir(id)}/${rel}`, createReadStream(join(own.repo, dbDir(id), rel)));
  }
  for (const rel of readdirSync(join(own.repo, 'catalog'), { recursive: true, encoding: 'utf8' }))
    if (statSync(join(own.repo, 'catalog', rel)).isFile())
      await swift.putText(`catalog/${rel}`, readFileSync(join(own.repo, 'catalog', rel), 'utf8'));
}

async function swiftBytes(key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of await swift.openRead(key)) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

async function verify(args: string[] = []): Promise<{ exitCode: number; result: VerifyResult; stderr: string }> {
  const r = await cli(own.configFile, ['--json', 'verify', ...args]);
  if (!r.stdout) throw new Error(`verify printed nothing (exit ${r.exitCode}): ${r.stderr}`);
  return { exitCode: r.exitCode ?? -1, result: JSON.parse(r.stdout) as VerifyResult, stderr: r.stderr };
}

beforeAll(async () => {
  if (!existsSync(join(swiftDir, 's3-endpoint')))
    throw new Error(`the lab's Swift is not up (no ${swiftDir}/s3-endpoint): test/lab/swift.sh starts it`);
  const read = (f: string) => readFileSync(join(swiftDir, f), 'utf8').trim();
  own = configWithOwnRepo('verify', (c) => {
    // Swift's S3 layer, as documented at the top of config/s3-target-schema.ts
    c.targets = {
      swift: {
        type: 's3',
        endpoint: read('s3-endpoint'),
        bucket: read('s3-bucket'),
        prefix,
        forcePathStyle: true,
        checksumMode: 'WHEN_REQUIRED',
        deleteMode: 'batch-md5',
        maxParts: 1000,
        accessKeyId: { file: join(swiftDir, 's3-access-key') },
        secretAccessKey: { file: join(swiftDir, 's3-secret-key') },
        capacityGiB: 2,
      },
    };
  });
  swift = await openTarget(loadConfig(own.configFile), 'swift', process.env);
  worker = await startWorker(own.configFile);
});

afterAll(async () => {
  await worker?.stop();
  if (swift) {
    await swift.deleteKeys((await swift.list('')).map((o) => o.key));
    swift.close();
  }
  if (own) rmSync(own.dir, { recursive: true, force: true });
});

test('two real chains on the repository and on Swift: verify finds them all CHECKED, with a record and a date', async () => {
  ids.fullA = await backup('full');
  ids.incA1 = await backup('incremental');
  ids.fullB = await backup('full');
  ids.incB1 = await backup('incremental');
  ids.incB2 = await backup('incremental');
  await copyToSwift();

  const t0 = new Date().toISOString();
  const { exitCode, result } = await verify();
  expect(exitCode).toBe(0);
  expect(result.ok).toBe(true);
  expect(result.targets.map((t) => t.target)).toEqual(['local', 'swift']);
  for (const t of result.targets) {
    expect(t.counts).toEqual({ checked: 5, corrupt: 0, missing: 0, notChecked: 0 });
    expect(t.catalogIndex).toBe(true);
    expect(t.newestIntact).toEqual({ database: ids.incB2 });
    for (const a of t.artifacts) {
      expect(a.result).toBe('CHECKED');
      expect(a.checkedAt! >= t0).toBe(true);
    }
  }
  // the record sits beside the manifest on each target, naming this run
  const local = await openTarget(loadConfig(own.configFile), 'local', process.env);
  for (const [store, rep] of [
    [local, result.targets[0]!],
    [swift, result.targets[1]!],
  ] as const) {
    const a = rep.artifacts.find((x) => x.id === ids.fullB)!;
    const rec = JSON.parse(
      (await store.readText(checkRecordKey('lab', 'database', ids.fullB, a.checkedAt!)))!,
    ) as CheckRecord;
    expect(rec).toMatchObject({
      backupId: ids.fullB,
      target: rep.target,
      result: 'CHECKED',
      checkedAt: a.checkedAt,
      workflowId: (result as unknown as { workflowId: string }).workflowId,
    });
    expect(rec.files).toEqual([expect.objectContaining({ rel: `${dbDir(ids.fullB)}/${DATA}`, outcome: 'ok' })]);
  }
});

test('a flipped byte, a truncated object and a deleted artifact on both targets: each named, with the restore points it breaks; exit 4', async () => {
  // local: flip one byte of incB2, cut incB1 in half, delete fullA's whole folder
  const flip = join(own.repo, dbDir(ids.incB2), DATA);
  const fd = openSync(flip, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 200);
  b[0] = b[0]! ^ 0x01;
  writeSync(fd, b, 0, 1, 200);
  closeSync(fd);
  const cut = join(own.repo, dbDir(ids.incB1), DATA);
  truncateSync(cut, Math.floor(statSync(cut).size / 2));
  rmSync(join(own.repo, dbDir(ids.fullA)), { recursive: true });
  // Swift: the same damage, through the S3 API; fullA loses its data object (the manifest stays)
  const b2 = await swiftBytes(`${dbDir(ids.incB2)}/${DATA}`);
  b2[200] = b2[200]! ^ 0x01;
  await swift.putStream(`${dbDir(ids.incB2)}/${DATA}`, Readable.from([b2]));
  const b1 = await swiftBytes(`${dbDir(ids.incB1)}/${DATA}`);
  await swift.putStream(`${dbDir(ids.incB1)}/${DATA}`, Readable.from([b1.subarray(0, Math.floor(b1.length / 2))]));
  await swift.deleteKeys([`${dbDir(ids.fullA)}/${DATA}`]);

  const { exitCode, result } = await verify();
  expect(exitCode).toBe(4);
  expect(result.ok).toBe(false);
  for (const t of result.targets) {
    const bad = Object.fromEntries(t.bad.map((x) => [x.id, x]));
    expect(t.bad.map((x) => x.id)).toEqual([ids.fullA, ids.incB1, ids.incB2]);
    expect(bad[ids.fullA]).toMatchObject({ result: 'MISSING', breaks: [ids.fullA, ids.incA1] });
    expect(bad[ids.incB1]).toMatchObject({
      result: 'CORRUPT',
      breaks: [ids.incB1, ids.incB2],
      files: [expect.objectContaining({ outcome: 'truncated' })],
    });
    expect(bad[ids.incB2]).toMatchObject({
      result: 'CORRUPT',
      breaks: [ids.incB2],
      files: [expect.objectContaining({ outcome: 'corrupt' })],
    });
    expect(bad[ids.incB2]!.files[0]!.actualBytes).toBe(bad[ids.incB2]!.files[0]!.expectedBytes);
    expect(bad[ids.incB1]!.files[0]!.actualBytes).toBe(Math.floor(bad[ids.incB1]!.files[0]!.expectedBytes / 2));
    // incA1's own bytes are fine (CHECKED) but its restore point is broken; fullB is the newest intact
    expect(t.artifacts.find((a) => a.id === ids.incA1)).toMatchObject({
      result: 'CHECKED',
      checkedAt: expect.any(String),
    });
    expect(t.restorePoints.find((p) => p.id === ids.incA1)).toMatchObject({
      state: 'broken',
      because: [`${ids.fullA} MISSING`],
    });
    expect(t.newestIntact).toEqual({ database: ids.fullB });
    expect(t.counts).toMatchObject({ corrupt: 2, missing: 1 });
  }
  const [local, sw] = result.targets;
  // on the repository the whole folder is gone (named by the catalog); on Swift only its data object
  expect(local!.bad[0]!.reason).toContain('folder is gone');
  expect(sw!.bad[0]!.files).toEqual([
    expect.objectContaining({ rel: `${dbDir(ids.fullA)}/${DATA}`, outcome: 'missing' }),
  ]);
  // the damage is on record beside the manifest too
  const rec = JSON.parse(
    (await swift.readText(
      checkRecordKey('lab', 'database', ids.incB1, sw!.artifacts.find((a) => a.id === ids.incB1)!.checkedAt!),
    ))!,
  ) as CheckRecord;
  expect(rec.result).toBe('CORRUPT');
});

test('the readable report: workflow id and link, each bad artifact and what it breaks', async () => {
  const r = await cli(own.configFile, ['verify', '--target', 'swift']);
  expect(r.exitCode).toBe(4);
  expect(r.stderr).toMatch(
    /started verify:lab:swift:\d{8}-\d{6}\n {2}http:\/\/127\.0\.0\.1:8233\/namespaces\/osbackup\/workflows\/verify/,
  );
  expect(r.stdout).toContain(`MISSING ${ids.fullA} (database full`);
  expect(r.stdout).toContain(`breaks restore points: ${ids.fullA}, ${ids.incA1}`);
  expect(r.stdout).toMatch(
    new RegExp(
      `CORRUPT ${ids.incB1} .*: ${DATA.replace(/\./g, '\\.')} has \\d+ bytes, the manifest says \\d+ \\(truncated\\)`,
    ),
  );
  expect(r.stdout).toMatch(new RegExp(`CORRUPT ${ids.incB2} .*: ${DATA.replace(/\./g, '\\.')} has the right size`));
  expect(r.stdout).toContain(`breaks restore point: ${ids.incB2}\n`);
  expect(r.stdout).toContain(`newest intact restore point: database ${ids.fullB}`);
  expect(r.stdout).toContain('DAMAGE FOUND');
});

test('--since re-reads only newer artifacts; older ones are NOT CHECKED, never intact', async () => {
  const manifest = JSON.parse(readFileSync(join(own.repo, dbDir(ids.fullB), 'manifest.json'), 'utf8')) as {
    completedAt: string;
  };
  const { exitCode, result } = await verify(['--target', 'local', '--since', manifest.completedAt]);
  expect(exitCode).toBe(4);
  const [t] = result.targets;
  expect(t!.since).toBe(manifest.completedAt);
  expect(t!.artifacts.filter((a) => a.result !== 'NOT CHECKED').map((a) => a.id)).toEqual([
    ids.fullB,
    ids.incB1,
    ids.incB2,
  ]);
  expect(t!.artifacts.find((a) => a.id === ids.incA1)!.result).toBe('NOT CHECKED');
  expect(t!.newestIntact).toEqual({ database: ids.fullB });
  expect((await cli(own.configFile, ['verify', '--since', 'yesterday'])).exitCode).toBe(64);
});

test('capacity: what each target holds, its size and free space', async () => {
  const r = await cli(own.configFile, ['--json', 'capacity']);
  expect(r.exitCode).toBe(0);
  const { targets, failed } = JSON.parse(r.stdout) as { targets: TargetCapacity[]; failed: unknown[] };
  expect(failed).toEqual([]);
  const byName = Object.fromEntries(targets.map((t) => [t.target, t]));
  // stored bytes = every file in the published artifact folders, counted here without osbackup
  const local = await openTarget(loadConfig(own.configFile), 'local', process.env);
  for (const [name, store] of [
    ['local', local],
    ['swift', swift],
  ] as const) {
    const objects = await store.list('clouds/');
    const published = new Set(
      objects.filter((o) => o.key.endsWith('/manifest.json')).map((o) => o.key.split('/').slice(0, 4).join('/')),
    );
    const expected = objects
      .filter((o) => published.has(o.key.split('/').slice(0, 4).join('/')))
      .reduce((n, o) => n + o.bytes, 0);
    const t = byName[name]!;
    expect(t.storedBytes).toBe(expected);
    expect(t.components).toEqual([
      expect.objectContaining({ cloud: 'lab', component: 'database', storedBytes: expected }),
    ]);
    expect(t.growthBytesPerDay).toBeGreaterThan(0);
    expect(t.forecast30dBytes).toBe(Math.round(expected + 30 * t.growthBytesPerDay!));
    expect(t.daysUntilFull).toBeCloseTo(t.freeBytes! / t.growthBytesPerDay!, 6);
  }
  expect(byName.local!.artifacts).toBe(4); // fullA's folder is gone
  expect(byName.swift!.artifacts).toBe(5);
  expect(byName.swift!.totalBytes).toBe(2 * 1024 ** 3);
  const used = (await swift.list('')).reduce((n, o) => n + o.bytes, 0);
  expect(byName.swift!.freeBytes).toBe(2 * 1024 ** 3 - used);
  const text = await cli(own.configFile, ['capacity']);
  expect(text.stdout).toMatch(
    /^TARGET\s+CLOUD\s+COMPONENT\s+ARTIFACTS\s+STORED\s+GROWTH\/DAY\s+IN 30 DAYS\s+FREE\s+FULL IN/,
  );
  expect(text.stdout).toMatch(/swift\s+lab\s+database\s+5\s/);
});

test('a share that is not mounted: verify and capacity name it and its cause, never "everything missing"', async () => {
  const share = mkdtempSync(join(tmpdir(), 'osb-verify-share-'));
  mkdirSync(join(share, 'osbackup'));
  const cfg = deriveConfig('verify-nfs', (c) => {
    c.repository.path = own.repo;
    c.targets = { nfs: { type: 'nfs', path: join(share, 'osbackup'), mountPoint: share } };
  });
  const w = await startWorker(cfg);
  try {
    const r = await cli(cfg, ['verify', '--target', 'nfs']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`target nfs: NOT CHECKED — target "nfs": ${share} is not a mount point`);
    expect(r.stdout).not.toContain('MISSING');
    const c = await cli(cfg, ['--json', 'capacity']);
    expect(c.exitCode).toBe(1);
    const res = JSON.parse(c.stdout) as { targets: TargetCapacity[]; failed: { target: string; error: string }[] };
    expect(res.targets.map((t) => t.target)).toEqual(['local']);
    expect(res.failed).toEqual([{ target: 'nfs', error: expect.stringContaining(`${share} is not a mount point`) }]);
  } finally {
    await w.stop();
    rmSync(share, { recursive: true, force: true });
  }
});
