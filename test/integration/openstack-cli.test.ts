// The CLI over the lab's real Cinder, Glance and Nova: `backup volumes|images|instances
// --dry-run` lists the selection with reasons and creates nothing; `backup volumes` with
// cinderBackup snapshots each volume and backs each snapshot up (from the snapshot, marked);
// a backup stuck in `creating` and one that ends in `error` are reported with the
// cinder-backup services' state while the others complete; `backup images` exports, the
// export shows in `catalog list`, and the next dry run says it would be skipped and why.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { cinder, glance } from '../../activities/openstack/api.js';
import type { DryRunResult } from '../../activities/openstack/dry-run.js';
import type { BackupVolumesResult, ExportImagesResult } from '../../workflows/cloud-resources.js';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { cli, configWithOwnRepo, startWorker, type WorkerProcess } from '../helpers/lab.js';
import {
  addOpenstackCloud,
  adminSession,
  cleanupVolumes,
  createServer,
  createVolume,
  deleteServer,
  osLabDir,
  until,
  uploadImage,
  waitVolumes,
} from '../helpers/openstack.js';

/** Long enough for a real backup of a 1 GiB volume on the lab's 2 shared cores; the stuck one is reported after it. */
const STUCK = 150;
const tag = `cli-${process.pid}-${Date.now()}`;
const s = adminSession();
let worker: WorkerProcess;
let own: ReturnType<typeof configWithOwnRepo>;
let volumes: string[] = [];
let imageId = '';
let serverId = '';

const json = async <T>(args: string[]): Promise<{ r: T; exitCode: number; stderr: string }> => {
  const p = await cli(own.configFile, ['--json', ...args, '--cloud', 'openstack']);
  if (!p.stdout.trim()) throw new Error(`osbackup ${args.join(' ')} printed nothing (exit ${p.exitCode}): ${p.stderr}`);
  return { r: JSON.parse(p.stdout) as T, exitCode: p.exitCode ?? -1, stderr: p.stderr };
};

beforeAll(async () => {
  own = configWithOwnRepo('os-cli', (c) =>
    addOpenstackCloud(c, {
      volumes: {
        concurrency: 3,
        statuses: ['available'],
        metadata: { osb_test: tag },
        cinderBackup: true,
        stuckAfterMinutes: 3,
      },
      images: { tag },
      instances: { name: `^srv-${tag}$` },
    }),
  );
  worker = await startWorker(own.configFile);
  imageId = await uploadImage(s, `cli-${tag}`, randomBytes(2 << 20), { tags: [tag] });
  serverId = await createServer(s, `srv-${tag}`, imageId);
  volumes = await Promise.all(Array.from({ length: 5 }, (_, i) => createVolume(s, `c${i}-${tag}`, { osb_test: tag })));
  await waitVolumes(s, volumes, 'available');
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  const backups = (
    await Promise.all(volumes.map((v) => cinder.listBackups(s, { volumeId: v, allProjects: true }).catch(() => [])))
  ).flat();
  for (const b of backups) await cinder.resetBackupStatus(s, b.id, 'available').catch(() => undefined);
  await Promise.all(backups.map((b) => cinder.deleteBackup(s, b.id).catch(() => undefined)));
  await until(
    'backups deleted',
    async () => (await Promise.all(backups.map((b) => cinder.getBackup(s, b.id)))).every((x) => x === null),
    180_000,
  ).catch(() => undefined);
  if (serverId) await deleteServer(s, serverId).catch(() => undefined);
  await cleanupVolumes(s, volumes);
  if (imageId) await glance.deleteImage(s, imageId).catch(() => undefined);
}, 400_000);

test('dry runs list the selection with reasons and create nothing', async () => {
  const v = await json<DryRunResult>(['backup', 'volumes', '--dry-run']);
  expect(v.exitCode).toBe(0);
  expect(v.r.items.map((i) => i.id).sort()).toEqual([...volumes].sort());
  for (const i of v.r.items) {
    expect(i.action).toBe('snapshot + cinder backup');
    expect(i.reason).toBe(`available, 1 GiB, has osb_test=${tag}`);
  }
  expect(v.r.selection).toBe(`status in [available], every project, metadata osb_test=${tag}`);
  const text = await cli(own.configFile, ['backup', 'volumes', '--dry-run', '--cloud', 'openstack']);
  expect(text.stdout).toContain('dry run, nothing created — volume snapshots of cloud openstack: 5 selected');
  for (const id of volumes)
    expect(text.stdout).toMatch(new RegExp(`snapshot \\+ cinder backup\\s+${id} \\(c\\d-${tag}\\): available, 1 GiB`));

  const i = await json<DryRunResult>(['backup', 'instances', '--dry-run']);
  expect(i.r.items).toEqual([
    { id: serverId, name: `srv-${tag}`, action: 'snapshot', reason: `ACTIVE, name matches ^srv-${tag}$` },
  ]);
  const g = await json<DryRunResult>(['backup', 'images', '--dry-run']);
  expect(g.r.items).toEqual([
    { id: imageId, name: `cli-${tag}`, action: 'export', reason: `not in the repository (${2 << 20} bytes)` },
  ]);

  // nothing was created by any of them
  for (const id of volumes) expect(await cinder.listSnapshots(s, { allProjects: true, volumeId: id })).toEqual([]);
  expect(
    (
      await glance.listImages(s, {
        name: `backup_srv-${tag}_${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`,
      })
    ).length,
  ).toBe(0);
}, 120_000);

test('backup volumes with cinderBackup: each snapshot backed up from the snapshot, marked; a stuck and an error backup reported, the rest complete', async () => {
  // this run's own backups of two volumes, already there (as a retried attempt would find them): one left in creating, one in error
  const workflowId = `backup-volumes:openstack:stuck-${tag}`;
  const [stuckVol, errVol] = [volumes[1]!, volumes[2]!];
  const pre: Record<string, string> = {};
  for (const v of [stuckVol, errVol]) {
    const marks = {
      osbackup: 'true',
      osbackup_cloud: 'openstack',
      osbackup_run: workflowId,
      osbackup_taken_at: new Date().toISOString(),
    };
    const snap = await cinder.createSnapshot(s, {
      volumeId: v,
      name: 'pre',
      description: 'pre',
      force: false,
      metadata: marks,
    });
    await until('pre snapshot available', async () => (await cinder.getSnapshot(s, snap.id))?.status === 'available');
    const b = await cinder.createBackup(s, {
      volumeId: v,
      snapshotId: snap.id,
      name: 'pre',
      description: 'pre',
      incremental: false,
      force: false,
      metadata: marks,
    });
    await until('pre backup available', async () => (await cinder.getBackup(s, b))?.status === 'available', 180_000);
    pre[v] = b;
  }
  // Cinder's os-reset_status allows only available/error for backups: put it back in creating in its database, as a crashed cinder-backup leaves it
  await execa('mariadb', [
    `--defaults-file=${join(osLabDir(), 'my.cnf')}`,
    '-e',
    `UPDATE cinder.backups SET status='creating' WHERE id='${pre[stuckVol]}'`,
  ]);
  await cinder.resetBackupStatus(s, pre[errVol]!, 'error');
  // the CLI names its own workflow ids: run this one through the workflow with the same input the CLI gives
  const { temporalClient } = await import('../helpers/lab.js');
  const { client, close } = await temporalClient(own.configFile);
  let r: BackupVolumesResult;
  try {
    r = await client.workflow.execute('backupVolumesWorkflow', {
      taskQueue: (await import('../../config/load.js')).loadConfig(own.configFile).temporal.taskQueue,
      workflowId,
      args: [{ cloud: 'openstack', stuckAfterSeconds: STUCK }],
    });
  } finally {
    await cinder.resetBackupStatus(s, pre[stuckVol]!, 'available').catch(() => undefined);
    await close();
  }
  console.log(
    `backup volumes with cinderBackup: ${r.snapshots.filter((x) => x.backup).length} backups; failed ${JSON.stringify(r.failed.map((f) => [f.id, f.type, f.error.slice(0, 160)]))}`,
  );
  expect(r.cinderBackup).toBe(true);
  expect(r.snapshots.map((x) => x.volumeId).sort()).toEqual([...volumes].sort());
  const failed = Object.fromEntries(r.failed.map((f) => [f.id, f]));
  expect(Object.keys(failed).sort()).toEqual([stuckVol, errVol].sort());
  expect(failed[stuckVol]).toMatchObject({ stage: 'backup', type: 'OpenstackResourceStuck' });
  expect(failed[stuckVol]!.error).toMatch(
    new RegExp(
      `backup ${pre[stuckVol]} of snapshot \\S+ \\(volume ${stuckVol}\\) is still creating after \\d+ s \\(limit ${STUCK} s\\); every cinder-backup service is up and enabled \\(os1\\)`,
    ),
  );
  expect(failed[errVol]).toMatchObject({ stage: 'backup', type: 'OpenstackResourceError' });
  expect(failed[errVol]!.error).toMatch(
    new RegExp(
      `backup ${pre[errVol]} of snapshot \\S+ \\(volume ${errVol}.*went to error: .*it was deleted \\(the snapshot is kept\\)`,
    ),
  );
  expect(await cinder.getBackup(s, pre[errVol]!)).toBeNull();
  // the three others: a real backup of this run's snapshot, available, marked
  const ok = r.snapshots.filter((x) => x.backup);
  expect(ok.map((x) => x.volumeId).sort()).toEqual(volumes.filter((v) => v !== stuckVol && v !== errVol).sort());
  for (const x of ok) {
    const b = (await cinder.getBackup(s, x.backup!.backupId))!;
    expect(b).toMatchObject({ status: 'available', volume_id: x.volumeId, snapshot_id: x.snapshotId, name: x.name });
    expect(b.metadata).toMatchObject({
      osbackup: 'true',
      osbackup_cloud: 'openstack',
      osbackup_run: workflowId,
      osbackup_taken_at: r.takenAt,
    });
  }
}, 600_000);

test('backup images through the CLI: exported, listed by catalog list; the next dry run would skip it', async () => {
  const e = await json<ExportImagesResult & { workflowId: string }>(['backup', 'images']);
  expect(e.exitCode).toBe(0);
  expect(e.r.exported.map((x) => x.imageId)).toEqual([imageId]);
  const cat = await json<CatalogEntry[]>(['catalog', 'list']);
  const row = cat.r.find((x) => x.id === imageId)!;
  expect(row).toMatchObject({
    cloud: 'openstack',
    component: 'image',
    kind: 'image',
    sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    bytes: e.r.exported[0]!.bytes,
    path: `clouds/openstack/image/${imageId}/image.raw.zst.gpg`,
  });
  const table = await cli(own.configFile, ['catalog', 'list', '--cloud', 'openstack']);
  expect(table.stdout).toMatch(new RegExp(`${imageId}\\s+openstack\\s+image\\s+`));
  const d = await json<DryRunResult>(['backup', 'images', '--dry-run']);
  expect(d.r.items).toEqual([
    {
      id: imageId,
      name: `cli-${tag}`,
      action: 'skip',
      reason: expect.stringMatching(/^already exported \S+ with the same os_hash_value$/),
    },
  ]);
}, 300_000);
