// exportImagesWorkflow on the lab's real Glance: an image is exported into the repository,
// then opened with stock gpg and zstd only — byte-equal to `openstack image save`, sha512 equal
// to Glance's os_hash_value; a second export skips it. An instance snapshot reaches `active`,
// is recorded and exported with the server it came from.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { glance } from '../../activities/openstack/api.js';
import type { ExportImagesResult, SnapshotInstancesResult } from '../../workflows/cloud-resources.js';
import type { ImageManifest } from '../../core/openstack/image.js';
import { configWithOwnRepo, labDir, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
import {
  addOpenstackCloud,
  adminSession,
  createServer,
  deleteServer,
  osLabDir,
  uploadImage,
} from '../helpers/openstack.js';

const tag = `img-${process.pid}-${Date.now()}`;
const s = adminSession();
let worker: WorkerProcess;
let own: ReturnType<typeof configWithOwnRepo>;
let imageId = '';
let serverId = '';
const cleanupImages: string[] = [];
const data = randomBytes(8 << 20);

async function run<R>(type: string, id: string, args: unknown): Promise<R> {
  const { client, close } = await temporalClient(own.configFile);
  try {
    return await client.workflow.execute(type, {
      taskQueue: `test-os-images-${process.pid}`,
      workflowId: `${id}-${tag}`,
      args: [args],
    });
  } finally {
    await close();
  }
}

beforeAll(async () => {
  own = configWithOwnRepo('os-images', (c) =>
    addOpenstackCloud(c, { images: { tag }, instances: { name: `^srv-${tag}$`, stuckAfterMinutes: 3 } }),
  );
  worker = await startWorker(own.configFile);
  imageId = await uploadImage(s, `golden-${tag}`, data, { tags: [tag], os_distro: 'lab', min_ram: 64 });
  cleanupImages.push(imageId);
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  if (serverId) await deleteServer(s, serverId).catch(() => undefined);
  for (const id of cleanupImages) await glance.deleteImage(s, id).catch(() => undefined);
}, 120_000);

test('an image exported, opened with stock gpg + zstd: equal to `openstack image save` and to os_hash_value; a second run skips it', async () => {
  const r1 = await run<ExportImagesResult>('exportImagesWorkflow', 'test-export-images', { cloud: 'openstack' });
  expect(r1).toMatchObject({ selected: 1, skipped: [], failed: [] });
  expect(r1.exported.map((x) => x.imageId)).toEqual([imageId]);
  const dir = join(own.repo, 'clouds/openstack/image', imageId);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  const img = (await glance.getImage(s, imageId))!;
  expect(m.image).toMatchObject({
    id: imageId,
    os_hash_algo: 'sha512',
    os_hash_value: img.os_hash_value,
    tags: [tag],
    disk_format: 'raw',
  });
  expect(m.image.properties).toMatchObject({ os_distro: 'lab' });
  expect(existsSync(join(dir, 'RESTORE.md'))).toBe(true);

  // by hand, as RESTORE.md says: stock gpg (the operator's key) then stock zstd
  const file = join(dir, m.parts[0]!.file);
  const sealed = readFileSync(file);
  expect(createHash('sha256').update(sealed).digest('hex')).toBe(m.parts[0]!.sha256);
  const plain = (
    await execa({
      shell: true,
      encoding: 'buffer',
    })`gpg --homedir ${join(labDir(), 'operator-gnupg')} --batch --quiet --decrypt ${file} | zstd -d`
  ).stdout as Uint8Array;
  const saved = join(own.dir, 'saved.raw');
  await execa('bash', [
    '-c',
    `source ${join(osLabDir(), 'admin-openrc.sh')} && openstack image save --file ${saved} ${imageId}`,
  ]);
  expect(Buffer.compare(Buffer.from(plain), readFileSync(saved))).toBe(0);
  expect(Buffer.compare(Buffer.from(plain), data)).toBe(0);
  expect(createHash('sha512').update(plain).digest('hex')).toBe(img.os_hash_value);

  const r2 = await run<ExportImagesResult>('exportImagesWorkflow', 'test-export-images-again', { cloud: 'openstack' });
  expect(r2.exported).toEqual([]);
  expect(r2.skipped.map((x) => [x.imageId, x.reason])).toEqual([
    [imageId, 'already exported with the same os_hash_value'],
  ]);
}, 300_000);

test('a server snapshot reaches active, is marked and recorded, and is exported with its server', async () => {
  serverId = await createServer(s, `srv-${tag}`, imageId);
  const r = await run<SnapshotInstancesResult>('snapshotInstancesWorkflow', 'test-snapshot-instances', {
    cloud: 'openstack',
    export: true,
  });
  expect(r).toMatchObject({ selected: 1, failed: [] });
  const snap = r.snapshots[0]!;
  cleanupImages.push(snap.imageId);
  expect(snap.serverId).toBe(serverId);
  const img = (await glance.getImage(s, snap.imageId))!;
  expect(img.status).toBe('active');
  expect(img).toMatchObject({
    osbackup: 'true',
    osbackup_cloud: 'openstack',
    osbackup_run: `test-snapshot-instances-${tag}`,
    instance_uuid: serverId,
    name: `backup_srv-${tag}_${r.takenAt.slice(0, 10).replace(/-/g, '')}`,
  });
  expect(snap.export).toMatchObject({ imageId: snap.imageId, skipped: false, sha512: img.os_hash_value });
  const m = JSON.parse(
    readFileSync(join(own.repo, 'clouds/openstack/image', snap.imageId, 'manifest.json'), 'utf8'),
  ) as ImageManifest;
  expect(m.fromServer).toEqual({ id: serverId, name: `srv-${tag}` });
}, 300_000);
