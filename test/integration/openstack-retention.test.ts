// Cloud-side retention through rotate on the lab's real Cinder and Glance: of osbackup's own
// snapshots, Cinder backups and instance images of this cloud, the plan keeps the newest per
// volume/server (each volume's one backup is its newest: kept) and `rotate --review` deletes the rest only after approval; a snapshot that lost
// its mark between plan and purge, an operator's snapshot and another cloud's are left alone.
// An image export outlives its Glance image by the configured days (here 0: kept at the first
// rotate after the image is gone, removed at the next), and leaves the catalog with it.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cinder, glance, VOLUME_MICROVERSION } from '../../activities/openstack/api.js';
import type { BackupVolumesResult, ExportImagesResult } from '../../workflows/cloud-resources.js';
import type { RetentionTargetResult } from '../../workflows/retention.js';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { cli, configWithOwnRepo, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
import {
  addOpenstackCloud,
  adminSession,
  cleanupVolumes,
  createVolume,
  until,
  uploadImage,
  waitVolumes,
} from '../helpers/openstack.js';

const tag = `ret-${process.pid}-${Date.now()}`;
// a cloud name of its own: the marks (osbackup_cloud) then make only this test's copies
// candidates, not what other tests left of cloud "openstack" in the shared lab cloud
const CLOUD = 'osret';
const s = adminSession();
let worker: WorkerProcess;
let own: ReturnType<typeof configWithOwnRepo>;
let volumes: string[] = [];
const images: string[] = [];
let taskQueue = '';

async function execute<R>(type: string, workflowId: string, args: unknown): Promise<R> {
  const { client, close } = await temporalClient(own.configFile);
  try {
    return await client.workflow.execute(type, { taskQueue, workflowId, args: [args] });
  } finally {
    await close();
  }
}

const gone = async (f: () => Promise<unknown>) => until('deleted', async () => (await f()) === null, 180_000);

beforeAll(async () => {
  own = configWithOwnRepo('os-retention', (c) => {
    addOpenstackCloud(c, {
      volumes: { concurrency: 2, statuses: ['available'], metadata: { osb_test: tag }, cinderBackup: true },
      images: { tag },
      retention: { keepLast: 1, keepDays: 0, imageExportDaysAfterDeleted: 0 },
    });
    c.clouds[CLOUD] = c.clouds.openstack;
    delete c.clouds.openstack;
    taskQueue = c.temporal.taskQueue;
  });
  worker = await startWorker(own.configFile);
  volumes = await Promise.all([0, 1].map((i) => createVolume(s, `r${i}-${tag}`, { osb_test: tag })));
  await waitVolumes(s, volumes, 'available');
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  const backups = (
    await Promise.all(volumes.map((v) => cinder.listBackups(s, { volumeId: v, allProjects: true }).catch(() => [])))
  ).flat();
  await Promise.all(backups.map((b) => cinder.deleteBackup(s, b.id).catch(() => undefined)));
  await until(
    'backups deleted',
    async () => (await Promise.all(backups.map((b) => cinder.getBackup(s, b.id)))).every((x) => x === null),
    180_000,
  ).catch(() => undefined);
  await cleanupVolumes(s, volumes);
  for (const id of images) await glance.deleteImage(s, id).catch(() => undefined);
}, 400_000);

test("rotate --review deletes only this cloud's marked snapshots, backups and images the plan drops, after approval", async () => {
  const older = await execute<BackupVolumesResult>('backupVolumesWorkflow', `backup-volumes:${CLOUD}:old-${tag}`, {
    cloud: CLOUD,
  });
  // the second run without Cinder backups: the lab's NFS driver cannot back up a snapshot whose
  // volume has an older snapshot (qemu-img refuses the overlay's backing file, see docs/cloud-resources.md)
  const newer = await execute<BackupVolumesResult>('backupVolumesWorkflow', `backup-volumes:${CLOUD}:new-${tag}`, {
    cloud: CLOUD,
    cinderBackup: false,
  });
  expect(older.failed).toEqual([]);
  expect(newer.failed).toEqual([]);
  expect(older.snapshots.every((x) => x.backup)).toBe(true);
  const oldSnap = Object.fromEntries(older.snapshots.map((x) => [x.volumeId, x]));
  // beside them: an operator's snapshot and another cloud's, never osbackup's to delete
  const operator = await cinder.createSnapshot(s, {
    volumeId: volumes[0]!,
    name: `operator-${tag}`,
    description: 'by hand',
    force: false,
    metadata: {},
  });
  const other = await cinder.createSnapshot(s, {
    volumeId: volumes[0]!,
    name: `other-${tag}`,
    description: 'x',
    force: false,
    metadata: {
      osbackup: 'true',
      osbackup_cloud: 'elsewhere',
      osbackup_run: 'r',
      osbackup_taken_at: new Date().toISOString(),
    },
  });
  // two instance snapshot images of one server (no data needed to plan and delete them)
  const server = `fake-server-${tag}`;
  const img1 = (
    await glance.createImage(s, {
      name: `backup_a_${tag}`,
      disk_format: 'raw',
      container_format: 'bare',
      osbackup: 'true',
      osbackup_cloud: CLOUD,
      osbackup_run: 'x',
      instance_uuid: server,
    })
  ).id;
  images.push(img1);
  // Glance stamps created_at to the second: the second image must be newer to be told apart
  await new Promise((r) => setTimeout(r, 1100));
  const img2 = (
    await glance.createImage(s, {
      name: `backup_b_${tag}`,
      disk_format: 'raw',
      container_format: 'bare',
      osbackup: 'true',
      osbackup_cloud: CLOUD,
      osbackup_run: 'y',
      instance_uuid: server,
    })
  ).id;
  images.push(img2);

  const { client, close } = await temporalClient(own.configFile);
  const workflowId = `rotate:${CLOUD}:${tag}`;
  let r: RetentionTargetResult[];
  try {
    const h = await client.workflow.start('retentionWorkflow', {
      taskQueue,
      workflowId,
      args: [{ cloud: CLOUD, review: true }],
    });
    const journal = join(
      own.repo,
      `clouds/${CLOUD}/.cloud-retention`,
      `${workflowId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`,
    );
    await until('the cloud-side journal', async () => existsSync(journal), 120_000);
    // marked, not deleted: the older snapshot is still there; then it loses its mark before the purge
    expect((await cinder.getSnapshot(s, oldSnap[volumes[1]!]!.snapshotId))?.status).toBe('available');
    await s.request('volume', 'DELETE', `/snapshots/${oldSnap[volumes[1]!]!.snapshotId}/metadata/osbackup_cloud`, {
      microversion: VOLUME_MICROVERSION,
    });
    await h.signal('approvePurge');
    r = await h.result();
  } finally {
    await close();
  }
  const c = r.find((x) => x.target === `cloud:${CLOUD}`)!;
  // the older snapshots and image go; each volume's only backup is its newest: kept
  const expectedRemoved = [oldSnap[volumes[0]!]!.snapshotId, img1];
  expect([...c.purged].sort()).toEqual([...expectedRemoved].sort());
  expect(c.refused).toEqual([
    {
      id: oldSnap[volumes[1]!]!.snapshotId,
      reason: `volume-snapshot ${oldSnap[volumes[1]!]!.snapshotId} no longer carries osbackup's mark for cloud ${CLOUD}: left alone`,
    },
  ]);
  // in the cloud
  await gone(() => cinder.getSnapshot(s, oldSnap[volumes[0]!]!.snapshotId));
  for (const x of older.snapshots) expect((await cinder.getBackup(s, x.backup!.backupId))?.status).toBe('available');
  await gone(() => glance.getImage(s, img1));
  expect((await cinder.getSnapshot(s, oldSnap[volumes[1]!]!.snapshotId))?.status).toBe('available');
  for (const x of newer.snapshots) expect((await cinder.getSnapshot(s, x.snapshotId))?.status).toBe('available');
  expect((await cinder.getSnapshot(s, operator.id))?.status).toMatch(/available|creating/);
  expect((await cinder.getSnapshot(s, other.id))?.status).toMatch(/available|creating/);
  expect(await glance.getImage(s, img2)).not.toBeNull();
  expect(
    readdirSync(join(own.repo, `clouds/${CLOUD}/.cloud-retention`)).filter((f) => f !== 'images-gone.json'),
  ).toEqual([]);
  for (const x of [operator.id, other.id]) {
    await until('snapshot settled', async () => (await cinder.getSnapshot(s, x))?.status === 'available');
    await cinder.deleteSnapshot(s, x);
  }
}, 900_000);

test('an image export outlives its Glance image by imageExportDaysAfterDeleted, then leaves the repository and the catalog', async () => {
  const id = await uploadImage(s, `exp-${tag}`, randomBytes(1 << 20), { tags: [tag] });
  images.push(id);
  const e = await execute<ExportImagesResult>('exportImagesWorkflow', `export-images:${CLOUD}:${tag}`, {
    cloud: CLOUD,
  });
  expect(e.exported.map((x) => x.imageId)).toEqual([id]);
  const dir = join(own.repo, `clouds/${CLOUD}/image`, id);
  const rotate = (n: number) =>
    execute<RetentionTargetResult[]>('retentionWorkflow', `rotate:${CLOUD}:exp${n}-${tag}`, { cloud: CLOUD });
  let c = (await rotate(1)).find((x) => x.target === `cloud:${CLOUD}`)!;
  expect(c.purged.filter((p) => p.startsWith('image export'))).toEqual([]);
  expect(existsSync(join(dir, 'manifest.json'))).toBe(true);
  await glance.deleteImage(s, id);
  // first rotate after the image is gone: noted, kept (0 days after means "until the next run")
  c = (await rotate(2)).find((x) => x.target === `cloud:${CLOUD}`)!;
  expect(c.purged.filter((p) => p.startsWith('image export'))).toEqual([]);
  const plan = await cli(own.configFile, ['retention', 'plan', '--cloud', CLOUD]);
  expect(plan.stdout).toMatch(
    new RegExp(`REMOVE  image export\\s+${id}: the image is gone from Glance since \\S+ \\(more than 0 days\\)`),
  );
  c = (await rotate(3)).find((x) => x.target === `cloud:${CLOUD}`)!;
  expect(c.purged).toContain(`image export ${id}`);
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  const cat = JSON.parse(
    (await cli(own.configFile, ['--json', 'catalog', 'list', '--cloud', CLOUD])).stdout,
  ) as CatalogEntry[];
  expect(cat.filter((x) => x.id === id)).toEqual([]);
}, 600_000);
