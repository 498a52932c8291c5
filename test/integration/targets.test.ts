// Targets, copies, tiers and retention on the real lab: the repository (local disk), an
// "NFS" target (a real mount point — a tmpfs, since this kernel has no NFS server — and one
// whose share is not mounted), and the lab's real OpenStack Swift through its S3 API.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  readdirSync,
  readFileSync,
  openSync,
  readSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import type { RetentionTargetResult } from '../../workflows/retention.js';
import type { TierResult } from '../../workflows/tiers.js';
import {
  cli,
  configWithOwnRepo,
  deriveConfig,
  labDir,
  startWorker,
  temporalClient,
  waitForPhase,
  type WorkerProcess,
} from '../helpers/lab.js';

const swiftDir = () => join(labDir(), 'ctl1/swift');
const prefix = `targets-${process.pid}-${Date.now()}/`;
const dir = mkdtempSync(join(tmpdir(), 'osb-targets-'));
const mounted = join(dir, 'nfs-mounted');
const unmounted = join(dir, 'nfs-unmounted');
const own = configWithOwnRepo('targets', (c) => {
  const d = swiftDir();
  c.targets = {
    nfs: { type: 'nfs', path: `${mounted}/osbackup`, mountPoint: mounted },
    nfsdown: { type: 'nfs', path: `${unmounted}/osbackup`, mountPoint: unmounted },
    swift: {
      type: 's3',
      endpoint: readFileSync(join(d, 's3-endpoint'), 'utf8').trim(),
      bucket: readFileSync(join(d, 's3-bucket'), 'utf8').trim(),
      prefix,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      deleteMode: 'batch-md5',
      accessKeyId: { file: join(d, 's3-access-key') },
      secretAccessKey: { file: join(d, 's3-secret-key') },
    },
    back: { type: 'local', path: `${mounted}/back` },
    scratch: { type: 'local', path: `${mounted}/scratch` },
  };
  c.clouds.lab.tiers = { daily: { targets: ['local', 'nfs'] }, monthly: { targets: ['swift'] } };
});
let worker: WorkerProcess;
const ids: string[] = [];

async function run(args: string[], configFile = own.configFile) {
  const r = await cli(configFile, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const catalog = async (target: string): Promise<CatalogEntry[]> => run(['catalog', 'list', '--target', target]);
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      e.isDirectory() ? walk(join(d, e.name)) : out.push(relative(dir, join(d, e.name)));
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

beforeAll(async () => {
  mkdirSync(mounted, { recursive: true });
  mkdirSync(unmounted, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1g', 'osb-targets-test', mounted]);
  worker = await startWorker(own.configFile);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await execa('umount', [mounted], { reject: false });
  rmSync(dir, { recursive: true, force: true });
});

test('four backups (full, incremental, full, incremental) land on the repository', async () => {
  for (const kind of ['full', 'incremental', 'full', 'incremental'] as const)
    ids.push((await run(['backup', 'db', `--${kind}`, '--wait'])).backupId);
  const rows = await catalog('local');
  expect(rows.map((r) => r.id)).toEqual(ids);
  expect(rows.every((r) => r.target === 'local' && r.check === 'UNCHECKED')).toBe(true);
}, 180_000);

test('copy to Swift (S3 API) and to the mounted NFS target: catalogued there, byte-equal', async () => {
  const r = await run(['copy', '--to', 'swift', 'nfs', '--id', ids[3]!, ids[1]!]);
  // whole chains, parents first: full 2 → incremental 2, then full 1 → incremental 1
  expect(r.targets.map((t: { target: string; copied: string[] }) => [t.target, t.copied])).toEqual([
    ['swift', [ids[2], ids[3], ids[0], ids[1]]],
    ['nfs', [ids[2], ids[3], ids[0], ids[1]]],
  ]);
  const local = await catalog('local');
  for (const target of ['swift', 'nfs']) {
    const rows = await catalog(target);
    expect(rows.map((x) => [x.id, x.sha256, x.bytes])).toEqual(local.map((x) => [x.id, x.sha256, x.bytes]));
  }
  const nfsFiles = filesUnder(join(mounted, 'osbackup/clouds'));
  for (const f of nfsFiles.filter((f) => f.endsWith('.xb.zst.gpg')))
    expect(sha(join(mounted, 'osbackup/clouds', f))).toBe(sha(join(own.repo, 'clouds', f)));
  // a second copy finds everything there
  const again = await run(['copy', '--to', 'swift', '--all']);
  expect(again.targets[0].copied).toEqual([]);
  expect(again.targets[0].present.sort()).toEqual([...ids].sort());
}, 180_000);

test('download from Swift into an empty target: byte-equal; `restore db --from swift` restores into an empty repository', async () => {
  await run(['copy', '--from', 'swift', '--to', 'back', '--id', ids[3]!]);
  const backRoot = join(mounted, 'back');
  // the chain of incremental 2 and nothing else
  const expected = filesUnder(join(own.repo, 'clouds')).filter((f) => f.includes(ids[2]!) || f.includes(ids[3]!));
  expect(expected.length).toBeGreaterThanOrEqual(8);
  expect(filesUnder(join(backRoot, 'clouds'))).toEqual(expected);
  for (const f of expected) expect(sha(join(backRoot, 'clouds', f))).toBe(sha(join(own.repo, 'clouds', f)));
  // the off-site copy is self-sufficient: an empty repository restores from Swift alone, VERIFIED
  const fresh = deriveConfig('targets-fresh', (c) => {
    c.repository.path = join(mounted, 'fresh');
    c.targets = {
      swift: (parse(readFileSync(own.configFile, 'utf8')) as { targets: Record<string, unknown> }).targets.swift,
    };
  });
  const w = await startWorker(fresh);
  try {
    const r = await run(['restore', 'db', '--to', 'ctl2', '--from', 'swift'], fresh);
    expect(r.chain).toEqual([ids[2], ids[3]]);
    expect(r.verification).toBe('VERIFIED');
    for (const id of [ids[2], ids[3]])
      expect(sha(join(mounted, 'fresh/clouds/lab/database', id!, 'data.xb.zst.gpg'))).toBe(
        sha(join(own.repo, 'clouds/lab/database', id!, 'data.xb.zst.gpg')),
      );
  } finally {
    await w.stop();
  }
}, 240_000);

test('a damaged source is never spread: the copy fails by name and the destination shows nothing', async () => {
  const file = join(own.repo, 'clouds/lab/database', ids[0]!, 'data.xb.zst.gpg');
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 4096);
  writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, 4096);
  try {
    const r = await cli(own.configFile, ['copy', '--to', 'scratch', '--id', ids[0]!]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/the source copy is damaged/);
    expect(r.stderr).toContain(ids[0]!);
    expect(filesUnder(join(mounted, 'scratch/clouds'))).toEqual([]);
  } finally {
    writeSync(fd, b, 0, 1, 4096);
    closeSync(fd);
  }
}, 120_000);

test('an NFS target whose share is not mounted is refused, saying so; so is a repository on one', async () => {
  const r = await cli(own.configFile, ['copy', '--to', 'nfsdown', '--id', ids[0]!]);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toContain(`${unmounted} is not a mount point`);
  expect(r.stderr).toMatch(/mount the share/);
  expect(filesUnder(unmounted)).toEqual([]);
  // the catalog names the unreadable target instead of listing it as empty, and still lists the rest
  const listing = await cli(own.configFile, ['--json', 'catalog', 'list']);
  expect(listing.exitCode).toBe(1);
  expect(listing.stderr).toContain('target "nfsdown" could not be read');
  expect(listing.stderr).toContain(`${unmounted} is not a mount point`);
  expect((JSON.parse(listing.stdout) as CatalogEntry[]).filter((r) => r.target === 'local').map((r) => r.id)).toEqual(
    ids,
  );
  const onShare = deriveConfig('targets-share', (c) => {
    c.repository.path = `${unmounted}/repo`;
    c.repository.mountPoint = unmounted;
  });
  const w = await startWorker(onShare);
  try {
    const b = await cli(onShare, ['backup', 'db', '--full', '--wait']);
    expect(b.exitCode).not.toBe(0);
    expect(b.stderr).toContain(`${unmounted} is not a mount point`);
    expect(filesUnder(unmounted)).toEqual([]);
  } finally {
    await w.stop();
  }
}, 120_000);

test('the daily tier takes an incremental and lands it on every daily target; monthly promotes the newest full to Swift', async () => {
  const { client, close } = await temporalClient(own.configFile);
  try {
    const queue = (await import('yaml')).parse(readFileSync(own.configFile, 'utf8')).temporal.taskQueue as string;
    const daily = (await client.workflow.execute('tierWorkflow', {
      taskQueue: queue,
      workflowId: `lab-daily-test-${Date.now()}`,
      args: [{ cloud: 'lab', tier: 'daily' }],
    })) as TierResult;
    expect(daily.database).toMatchObject({ kind: 'incremental', parentId: ids[3] });
    expect(daily.copies.map((c) => [c.target, c.copied])).toEqual([['nfs', [daily.backupId]]]);
    ids.push(daily.backupId!);
    expect((await catalog('nfs')).map((r) => r.id)).toContain(daily.backupId);
    const monthly = (await client.workflow.execute('tierWorkflow', {
      taskQueue: queue,
      workflowId: `lab-monthly-test-${Date.now()}`,
      args: [{ cloud: 'lab', tier: 'monthly' }],
    })) as TierResult;
    expect(monthly.database).toBeNull();
    // the newest full is already on Swift (copied above): promotion finds it, copies nothing new
    expect(monthly.copies[0]).toMatchObject({ target: 'swift', copied: [], present: [ids[2]] });
  } finally {
    await close();
  }
}, 180_000);

test('retention: a worker killed between mark and purge loses nothing; the next run finishes the purge', async () => {
  const plan = await run(['retention', 'plan', '--target', 'local']);
  expect(plan[0].plan.remove.map((r: { id: string }) => r.id).sort()).toEqual([ids[0], ids[1]].sort());
  const { client, close } = await temporalClient(own.configFile);
  const queue = (await import('yaml')).parse(readFileSync(own.configFile, 'utf8')).temporal.taskQueue as string;
  try {
    const held = await client.workflow.start('retentionWorkflow', {
      taskQueue: queue,
      workflowId: `lab-rotate-held-${Date.now()}`,
      args: [{ cloud: 'lab', target: 'local', review: true }],
    });
    await waitForPhase(held, ['marked: waiting for approval'], 60_000);
    await worker.stop('SIGKILL');
    const journals = filesUnder(join(own.repo, 'clouds/lab/.retention'));
    expect(journals).toHaveLength(1);
    // marked, not deleted: every manifest is still there
    for (const id of ids) expect(existsSync(join(own.repo, 'clouds/lab/database', id, 'manifest.json'))).toBe(true);
    worker = await startWorker(own.configFile);
    const r = (await run(['retention', 'apply', '--target', 'local'])).targets as RetentionTargetResult[];
    expect(r[0]!.finishedEarlierRuns).toEqual([held.workflowId]);
    expect(r[0]!.purged.sort()).toEqual([ids[0], ids[1]].sort());
    expect(filesUnder(join(own.repo, 'clouds/lab/.retention'))).toEqual([]);
    for (const id of [ids[0], ids[1]]) expect(existsSync(join(own.repo, 'clouds/lab/database', id!))).toBe(false);
    expect((await catalog('local')).map((x) => x.id)).toEqual([ids[2], ids[3], ids[4]]);
    // the held run, approved now, finds its journal finished and completes
    await held.signal('approvePurge');
    const heldResult = (await held.result()) as RetentionTargetResult[];
    expect(heldResult[0]!.purged).toEqual([]);
  } finally {
    await close();
  }
  // what stayed still restores, whole chain
  const restored = await run(['restore', 'db', '--to', 'ctl2']);
  expect(restored.chain).toEqual([ids[2], ids[3], ids[4]]);
  expect(restored.verification).toBe('VERIFIED');
}, 300_000);

test('retention on Swift uses its own policy and keeps its catalog in step', async () => {
  const r = (await run(['retention', 'apply', '--target', 'swift'])).targets as RetentionTargetResult[];
  expect(r[0]!.purged.sort()).toEqual([ids[0], ids[1]].sort());
  expect((await catalog('swift')).map((x) => x.id)).toEqual([ids[2], ids[3]]);
  // nothing of the removed folders is left in the bucket
  const { loadConfig } = await import('../../config/load.js');
  const { openTarget } = await import('../../activities/storage/target.js');
  const swift = await openTarget(loadConfig(own.configFile), 'swift', process.env);
  try {
    for (const id of [ids[0], ids[1]]) expect(await swift.list(`clouds/lab/database/${id}/`)).toEqual([]);
    expect(await swift.list('clouds/lab/.retention/')).toEqual([]);
  } finally {
    swift.close();
  }
}, 120_000);
