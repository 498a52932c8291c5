// backupVolumesWorkflow on the lab's real Cinder (NFS driver) and Nova (fake driver): 20
// volumes of this test (4 attached to a server, so snapshotted with force through Nova's
// assisted snapshots) plus one forced into `error`, which blocks snapshotting. All 20 must be
// snapshotted, named as the seed does and marked as osbackup's, never more than the configured
// number at once; the blocked one is reported with Cinder's message and the rest complete.
import { randomBytes } from 'node:crypto';
import { cinder } from '../../activities/openstack/api.js';
import type { BackupVolumesResult } from '../../workflows/cloud-resources.js';
import { configWithOwnRepo, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
import {
  addOpenstackCloud,
  adminSession,
  attachVolume,
  cleanupVolumes,
  createServer,
  createVolume,
  until,
  uploadImage,
  waitVolumes,
} from '../helpers/openstack.js';

const tag = `vol-${process.pid}-${Date.now()}`;
const s = adminSession();
const CONCURRENCY = 4;
let worker: WorkerProcess;
let own: ReturnType<typeof configWithOwnRepo>;
let volumes: string[] = [];
let blocked = '';
let serverId = '';
let imageId = '';

beforeAll(async () => {
  const t0 = Date.now();
  own = configWithOwnRepo('os-volumes', (c) =>
    addOpenstackCloud(c, {
      volumes: {
        concurrency: CONCURRENCY,
        statuses: ['available', 'in-use', 'error'],
        metadata: { osb_test: tag },
        stuckAfterMinutes: 3,
      },
    }),
  );
  worker = await startWorker(own.configFile);
  imageId = await uploadImage(s, `boot-${tag}`, randomBytes(1 << 20));
  serverId = await createServer(s, `srv-${tag}`, imageId);
  volumes = await Promise.all(Array.from({ length: 21 }, (_, i) => createVolume(s, `v${i}-${tag}`, { osb_test: tag })));
  await waitVolumes(s, volumes, 'available');
  await Promise.all(volumes.slice(0, 4).map((v) => attachVolume(s, serverId, v)));
  await waitVolumes(s, volumes.slice(0, 4), 'in-use');
  blocked = volumes[20]!;
  await cinder.resetVolumeStatus(s, blocked, 'error');
  console.log(`setup (image, server, 21 volumes, 4 attached): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 300_000);

afterAll(async () => {
  const t0 = Date.now();
  await worker?.stop();
  if (blocked) await cinder.resetVolumeStatus(s, blocked, 'available').catch(() => undefined);
  await cleanupVolumes(s, volumes, serverId);
  if (imageId) await s.request('image', 'DELETE', `/v2/images/${imageId}`, { accept: [404] });
  console.log(`cleanup: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 300_000);

test('20 volumes snapshotted (4 attached), bound respected, marked; the blocked one reported', async () => {
  const { client, close } = await temporalClient(own.configFile);
  const t0 = Date.now();
  let r: BackupVolumesResult;
  try {
    r = await client.workflow.execute('backupVolumesWorkflow', {
      taskQueue: `test-os-volumes-${process.pid}`,
      workflowId: `test-backup-volumes-${tag}`,
      args: [{ cloud: 'openstack' }],
    });
  } finally {
    await close();
  }
  const wall = (Date.now() - t0) / 1000;
  expect(r.selected).toBe(21);
  expect(r.snapshots.map((x) => x.volumeId).sort()).toEqual(volumes.slice(0, 20).sort());
  expect(r.failed).toHaveLength(1);
  expect(r.failed[0]).toMatchObject({ id: blocked, type: 'OpenstackRequestRejected' });
  expect(r.failed[0]!.error).toMatch(
    /POST volume \/snapshots: HTTP 400: Invalid volume: The snapshot cannot be created when the volume is in error status\. Fix:/,
  );
  // the bound: as tracked by the workflow, and as seen from the activities' own clocks
  expect(r.maxInFlight).toBe(CONCURRENCY);
  const events = r.snapshots
    .flatMap(
      (x) =>
        [
          [x.requestedAt, 1],
          [x.availableAt, -1],
        ] as const,
    )
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let peak = 0;
  for (const [, d] of events) peak = Math.max(peak, (live += d));
  expect(peak).toBeLessThanOrEqual(CONCURRENCY);

  // in Cinder: one available snapshot per volume, named as the seed names them, marked as ours
  const date = r.takenAt.slice(0, 10).replace(/-/g, '');
  const snaps = await cinder.listSnapshots(s, {
    allProjects: true,
    metadata: { osbackup_run: `test-backup-volumes-${tag}` },
  });
  expect(snaps).toHaveLength(20);
  for (const x of snaps) {
    expect(x.status).toBe('available');
    expect(x.name).toBe(`backup_${x.volume_id}_${date}`);
    expect(x.metadata).toMatchObject({ osbackup: 'true', osbackup_cloud: 'openstack', osbackup_taken_at: r.takenAt });
  }
  console.log(`20 snapshots (4 attached) with concurrency ${CONCURRENCY}: ${wall.toFixed(1)} s wall`);
}, 600_000);

test("a snapshot stuck in creating is reported with the seed's hints and holds up none of the others", async () => {
  const workflowId = `test-backup-volumes-stuck-${tag}`;
  const victim = volumes[5]!;
  // this run's own snapshot of one volume, already there and stuck in `creating`: the activity adopts it (as a retry would) and waits
  const stuck = await cinder.createSnapshot(s, {
    volumeId: victim,
    name: 'stuck',
    description: 'stuck',
    force: false,
    metadata: { osbackup: 'true', osbackup_cloud: 'openstack', osbackup_run: workflowId },
  });
  await until(
    'the stuck snapshot available',
    async () => (await cinder.getSnapshot(s, stuck.id))?.status === 'available',
  );
  await cinder.resetSnapshotStatus(s, stuck.id, 'creating');
  const { client, close } = await temporalClient(own.configFile);
  let r: BackupVolumesResult;
  try {
    r = await client.workflow.execute('backupVolumesWorkflow', {
      taskQueue: `test-os-volumes-${process.pid}`,
      workflowId,
      args: [{ cloud: 'openstack', concurrency: 8, stuckAfterSeconds: 20 }],
    });
  } finally {
    await cinder.resetSnapshotStatus(s, stuck.id, 'available').catch(() => undefined);
    await close();
  }
  expect(r.snapshots).toHaveLength(19);
  expect(r.snapshots.map((x) => x.volumeId)).not.toContain(victim);
  const byId = Object.fromEntries(r.failed.map((f) => [f.id, f]));
  expect(Object.keys(byId).sort()).toEqual([blocked, victim].sort());
  expect(byId[victim]!.type).toBe('OpenstackResourceStuck');
  expect(byId[victim]!.error).toMatch(
    new RegExp(
      `snapshot ${stuck.id} of volume ${victim} .*is still creating after \\d+ s \\(limit 20 s\\); every cinder-volume service is up and enabled \\(os1@nfs\\)`,
    ),
  );
  expect(byId[victim]!.error).toMatch(
    /LVM snapshot overflow.*iSCSI target locked.*cinder-volume service down or disabled/,
  );
}, 600_000);
