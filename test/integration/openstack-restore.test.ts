// The restore side of cloud resources on the lab's real Cinder (NFS driver on a host folder, so
// volume files are readable here), Glance and Nova (fake driver):
// - a known pattern written into a volume's file before osbackup snapshots it is in the volume
//   restored from that snapshot, and in the one restored from a Cinder backup; a rerun of the
//   same workflow adopts its volume instead of creating another;
// - an exported image re-imported: its bytes (downloaded) equal the original, its properties are
//   back, Glance's os_hash_value matches; an export whose bytes do not hash to the recorded
//   os_hash_value (or whose file is damaged) is refused and leaves no image behind;
// - the export's RESTORE.md recipe, run by hand (stock gpg, zstd, openstack), gives the same image;
// - a server booted from an instance snapshot (and from the snapshot's export) is ACTIVE with
//   that image.
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  openSync,
  readFileSync,
  closeSync,
  readSync,
  writeFileSync,
  writeSync,
  fsyncSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { cinder, COMPUTE_MICROVERSION, glance, VOLUME_MICROVERSION } from '../../activities/openstack/api.js';
import { sealBuffer, unsealFile } from '../../activities/control-plane/sealed.js';
import { loadConfig } from '../../config/load.js';
import type {
  BackupVolumesResult,
  ExportImagesResult,
  SnapshotInstancesResult,
} from '../../workflows/cloud-resources.js';
import type { RestoreServerResult, RestoreVolumeResult } from '../../workflows/restore-cloud-resources.js';
import type { ImageFromExportResult } from '../../activities/openstack/restore-images.js';
import type { ImageManifest } from '../../core/openstack/image.js';
import { cli, configWithOwnRepo, labDir, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
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

const tag = `rst-${process.pid}-${Date.now()}`;
const s = adminSession();
let worker: WorkerProcess;
let own: ReturnType<typeof configWithOwnRepo>;
const volumes: string[] = [];
const images: string[] = [];
const servers: string[] = [];
const backups: string[] = [];
const flavors: string[] = [];

const PATTERN_AT = 3 << 20;
const pattern = randomBytes(1 << 20);
let source = '';
let snapshotId = '';
let imageId = '';
const imageData = randomBytes(6 << 20);

async function run<R>(type: string, workflowId: string, args: unknown): Promise<R> {
  const { client, close } = await temporalClient(own.configFile);
  try {
    return await client.workflow.execute(type, {
      taskQueue: `test-os-restore-${process.pid}`,
      workflowId,
      args: [args],
    });
  } finally {
    await close();
  }
}

/** The failure a workflow ended with: its type and message (innermost application failure). */
async function failureOf(p: Promise<unknown>): Promise<{ type: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!e) throw new Error('the workflow succeeded; a failure was expected');
  let cur: unknown = e;
  let out = { type: '', message: '' };
  while (cur && typeof cur === 'object') {
    const t = (cur as { type?: unknown }).type;
    if (typeof t === 'string') out = { type: t, message: (cur as Error).message };
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

const nfs = () => join(osLabDir(), 'srv/nfs-export');

/** A volume's bytes as a raw disk (the NFS driver may keep a volume as qcow2 after snapshots). */
async function volumeBytes(id: string, offset: number, length: number): Promise<Buffer> {
  const file = join(nfs(), `volume-${id}`);
  const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', file])).stdout) as {
    format: string;
  };
  let raw = file;
  if (info.format !== 'raw') {
    raw = join(own.dir, `volume-${id}.raw`);
    await execa('qemu-img', ['convert', '-U', '-O', 'raw', file, raw]);
  }
  const fd = openSync(raw, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

const volumeMeta = (id: string) => cinder.getVolume(s, id);

beforeAll(async () => {
  own = configWithOwnRepo('os-restore', (c) =>
    addOpenstackCloud(c, {
      volumes: { statuses: ['available'], metadata: { osb_test: tag }, stuckAfterMinutes: 3 },
      images: { tag },
      instances: { name: `^srv-${tag}$`, stuckAfterMinutes: 3 },
    }),
  );
  worker = await startWorker(own.configFile);
  source = await createVolume(s, `src-${tag}`, { osb_test: tag });
  volumes.push(source);
  await waitVolumes(s, [source], 'available');
  // the known pattern, written straight into the volume's file on the NFS share (raw before any snapshot)
  const fd = openSync(join(nfs(), `volume-${source}`), 'r+');
  writeSync(fd, pattern, 0, pattern.length, PATTERN_AT);
  fsyncSync(fd);
  closeSync(fd);
  imageId = await uploadImage(s, `golden-${tag}`, imageData, {
    tags: [tag],
    os_distro: 'lab',
    min_ram: 64,
    min_disk: 1,
    hw_disk_bus: 'virtio',
  });
  images.push(imageId);
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  for (const id of servers) await deleteServer(s, id).catch(() => undefined);
  for (const id of flavors)
    await s
      .request('compute', 'DELETE', `/flavors/${id}`, { microversion: COMPUTE_MICROVERSION, accept: [404] })
      .catch(() => undefined);
  for (const id of images) await glance.deleteImage(s, id).catch(() => undefined);
  for (const id of backups)
    await s
      .request('volume', 'DELETE', `/backups/${id}`, { microversion: VOLUME_MICROVERSION, accept: [404, 400] })
      .catch(() => undefined);
  if (backups.length)
    await until(
      'backups deleted',
      async () => (await Promise.all(backups.map((b) => cinder.getBackup(s, b)))).every((x) => x === null),
      120_000,
    ).catch(() => undefined);
  await cleanupVolumes(s, [...volumes].reverse());
}, 300_000);

test('a volume restored from its osbackup snapshot (picked by source volume) holds the bytes written before the snapshot; a rerun adopts it', async () => {
  const b = await run<BackupVolumesResult>('backupVolumesWorkflow', `test-restore-backup-volumes-${tag}`, {
    cloud: 'openstack',
  });
  expect(b.failed).toEqual([]);
  expect(b.snapshots.map((x) => x.volumeId)).toEqual([source]);
  snapshotId = b.snapshots[0]!.snapshotId;

  // a date before the snapshot: nothing to restore, said with what there is
  const early = await failureOf(
    run('restoreVolumeWorkflow', `test-restore-volume-early-${tag}`, {
      cloud: 'openstack',
      volumeId: source,
      at: '2020-01-01T00:00:00Z',
    }),
  );
  expect(early.type).toBe('OpenstackNotFound');
  expect(early.message).toContain(
    `no available osbackup snapshot of volume ${source} taken at or before 2020-01-01T00:00:00Z (osbackup's snapshots of it: ${snapshotId} `,
  );

  const wf = `test-restore-volume-${tag}`;
  const t0 = Date.now();
  const r = await run<RestoreVolumeResult>('restoreVolumeWorkflow', wf, {
    cloud: 'openstack',
    volumeId: source,
    name: `restored-${tag}`,
    stuckAfterSeconds: 180,
  });
  console.log(`volume from snapshot: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  volumes.push(r.volumeId);
  expect(r).toMatchObject({
    status: 'available',
    name: `restored-${tag}`,
    adopted: false,
    from: { kind: 'snapshot', snapshotId, sourceVolumeId: source, takenAt: b.takenAt },
  });
  const v = await volumeMeta(r.volumeId);
  expect(v.metadata).toEqual({ osbackup_restore_run: wf, osbackup_restored_from: `snapshot:${snapshotId}` });
  expect(Buffer.compare(await volumeBytes(r.volumeId, PATTERN_AT, pattern.length), pattern)).toBe(0);
  expect(Buffer.compare(await volumeBytes(r.volumeId, 0, 4096), Buffer.alloc(4096))).toBe(0);

  // the same run again (as a retried activity would): it finds its volume, creates none
  const again = await run<RestoreVolumeResult>('restoreVolumeWorkflow', wf, {
    cloud: 'openstack',
    volumeId: source,
    name: `restored-${tag}`,
  });
  expect(again).toMatchObject({ volumeId: r.volumeId, adopted: true });
  expect(
    (await cinder.listVolumes(s, { allProjects: true, metadata: { osbackup_restore_run: wf } })).map((x) => x.id),
  ).toEqual([r.volumeId]);
}, 600_000);

test('a volume restored from a Cinder backup (backup restore API) holds the same bytes', async () => {
  expect(snapshotId).not.toBe('');
  const backupId = await cinder.createBackup(s, {
    volumeId: source,
    snapshotId,
    name: `bk-${tag}`,
    description: 'restore test',
    incremental: false,
    force: false,
  });
  backups.push(backupId);
  await until(
    'backup available',
    async () => {
      const bk = await cinder.getBackup(s, backupId);
      if (bk?.status === 'error') throw new Error(`backup went to error: ${bk.fail_reason}`);
      return bk?.status === 'available';
    },
    300_000,
    2000,
  );
  const wf = `test-restore-volume-backup-${tag}`;
  const t0 = Date.now();
  const r = await run<RestoreVolumeResult>('restoreVolumeWorkflow', wf, {
    cloud: 'openstack',
    backupId,
    stuckAfterSeconds: 300,
  });
  console.log(`volume from Cinder backup: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  volumes.push(r.volumeId);
  expect(r).toMatchObject({
    status: 'available',
    adopted: false,
    from: { kind: 'backup', backupId, sourceVolumeId: source },
  });
  expect(r.name).toMatch(new RegExp(`^restored-backup-${backupId.slice(0, 8)}-\\d{8}$`));
  const v = await volumeMeta(r.volumeId);
  expect(v.name).toBe(r.name);
  expect(v.metadata).toMatchObject({
    osbackup_restore_run: wf,
    osbackup_restored_from: `backup:${backupId}`,
    osbackup_restored_backup: backupId,
  });
  expect(v.metadata.osbackup).toBeUndefined();
  expect(Buffer.compare(await volumeBytes(r.volumeId, PATTERN_AT, pattern.length), pattern)).toBe(0);

  const again = await run<RestoreVolumeResult>('restoreVolumeWorkflow', wf, { cloud: 'openstack', backupId });
  expect(again).toMatchObject({ volumeId: r.volumeId, adopted: true });
}, 600_000);

let exportDir = '';
let manifest: ImageManifest;

test('an exported image re-imported: bytes equal the original, properties back, os_hash_value checked; a rerun adopts it', async () => {
  const e = await run<ExportImagesResult>('exportImagesWorkflow', `test-restore-export-${tag}`, { cloud: 'openstack' });
  expect(e.exported.map((x) => x.imageId)).toEqual([imageId]);
  exportDir = join(own.repo, 'clouds/openstack/image', imageId);
  manifest = JSON.parse(readFileSync(join(exportDir, 'manifest.json'), 'utf8')) as ImageManifest;
  const original = (await glance.getImage(s, imageId))!;

  const wf = `test-restore-image-${tag}`;
  const t0 = Date.now();
  const r = await run<ImageFromExportResult>('restoreImageWorkflow', wf, {
    cloud: 'openstack',
    exportId: imageId,
    name: `reimported-${tag}`,
  });
  console.log(`image re-import (${imageData.length} bytes): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  images.push(r.imageId);
  expect(r).toMatchObject({
    name: `reimported-${tag}`,
    osHashValue: original.os_hash_value,
    bytes: imageData.length,
    adopted: false,
  });
  const img = (await glance.getImage(s, r.imageId))!;
  expect(img).toMatchObject({
    status: 'active',
    disk_format: 'raw',
    container_format: 'bare',
    visibility: original.visibility,
    min_ram: 64,
    min_disk: 1,
    os_distro: 'lab',
    hw_disk_bus: 'virtio',
    os_hash_value: original.os_hash_value,
    osbackup_restore_run: wf,
    osbackup_restored_from: `export:openstack/${imageId}`,
  });
  expect(img.tags).toEqual([tag]);
  const res = await glance.download(s, r.imageId);
  expect(Buffer.compare(Buffer.from(await res!.arrayBuffer()), imageData)).toBe(0);

  const again = await run<ImageFromExportResult>('restoreImageWorkflow', wf, {
    cloud: 'openstack',
    exportId: imageId,
    name: `reimported-${tag}`,
  });
  expect(again).toMatchObject({ imageId: r.imageId, adopted: true });
  expect((await glance.listImages(s, { name: `reimported-${tag}` })).map((x) => x.id)).toEqual([r.imageId]);
}, 600_000);

/** A copy of the export under another id whose payload is `plain`, sealed like osbackup seals (sha256/bytes updated, os_hash_value kept). */
async function forgedExport(id: string, plain: Buffer | null): Promise<string> {
  const dir = join(own.repo, 'clouds/openstack/image', id);
  cpSync(exportDir, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  m.id = id;
  if (plain) {
    const cfg = loadConfig(own.configFile);
    const passphrase = readFileSync((cfg.encryption.passphrase as { file: string }).file, 'utf8').trim();
    const sealed = await sealBuffer(
      { homedir: join(own.dir, 'gnupg'), passphrase, recipientKeyFiles: cfg.encryption.recipientKeyFiles },
      3,
      plain,
      join(dir, 'forged.zst.gpg'),
    );
    await execa('mv', ['-f', join(dir, 'forged.zst.gpg'), join(dir, m.parts[0]!.file)]);
    m.parts[0] = { ...m.parts[0]!, sha256: sealed.sha256, bytes: sealed.bytes };
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}

test('an export whose bytes do not hash to the recorded os_hash_value is refused before Glance activates it, and no image is left', async () => {
  const cfg = loadConfig(own.configFile);
  const passphrase = readFileSync((cfg.encryption.passphrase as { file: string }).file, 'utf8').trim();
  const plain = await unsealFile(
    { homedir: join(own.dir, 'gnupg'), passphrase },
    join(exportDir, manifest.parts[0]!.file),
    { sha256: manifest.parts[0]!.sha256, bytes: manifest.parts[0]!.bytes, encryption: manifest.encryption },
    'the export',
  );
  expect(Buffer.compare(plain, imageData)).toBe(0);
  const bad = Buffer.from(plain);
  bad[bad.length - 100]! ^= 0xff;
  const forged = `forged-${tag}`;
  await forgedExport(forged, bad);
  const name = `corrupt-${tag}`;
  // watch the image while the upload runs: it may be seen queued or saving, never active
  const seen = new Set<string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const i of await glance.listImages(s, { name }).catch(() => [])) seen.add(i.status);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const f = await failureOf(
    run('restoreImageWorkflow', `test-restore-image-corrupt-${tag}`, { cloud: 'openstack', exportId: forged, name }),
  );
  watching = false;
  await watcher;
  console.log(`statuses of the refused image seen while it was uploaded: ${[...seen].join(', ') || 'none'}`);
  expect(seen.has('active')).toBe(false);
  const actual = createHash('sha512').update(bad).digest('hex');
  expect(f.type).toBe('ChecksumMismatch');
  expect(f.message).toContain(
    `decrypts to bytes whose SHA-512 is ${actual} (${bad.length} bytes), but the recorded os_hash_value is ${manifest.image.os_hash_value} (${imageData.length} bytes); the image was not activated and was deleted`,
  );
  expect(await glance.listImages(s, { name })).toEqual([]);

  // a damaged file in the repository: its SHA-256 refuses it, no image left either
  const damaged = `damaged-${tag}`;
  const dir = await forgedExport(damaged, null);
  const file = join(dir, manifest.parts[0]!.file);
  const buf = readFileSync(file);
  buf[Math.floor(buf.length / 2)]! ^= 0x01;
  writeFileSync(file, buf);
  const name2 = `damaged-${tag}`;
  const f2 = await failureOf(
    run('restoreImageWorkflow', `test-restore-image-damaged-${tag}`, {
      cloud: 'openstack',
      exportId: damaged,
      name: name2,
    }),
  );
  expect(f2.type).toBe('ChecksumMismatch');
  expect(f2.message).toMatch(/is corrupt in the repository: SHA-256 [0-9a-f]{64} .* the manifest recorded/);
  expect(await glance.listImages(s, { name: name2 })).toEqual([]);
}, 600_000);

test("the export's RESTORE.md, followed by hand with stock gpg, zstd and openstack, gives an image with the same bytes and properties", async () => {
  const recipe = readFileSync(join(exportDir, 'RESTORE.md'), 'utf8');
  expect(recipe).toContain('openstack image create');
  // the recipe's commands are its indented lines (a trailing backslash continues one)
  const commands = recipe
    .split('\n')
    .filter((l) => l.startsWith('   ') && !l.trimStart().startsWith('The new') && !l.trimStart().startsWith('It was'))
    .map((l) => l.trim())
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter(Boolean)
    .map((c) =>
      c
        .replace(
          '/path/to/backup-passphrase',
          (loadConfig(own.configFile).encryption.passphrase as { file: string }).file,
        )
        .replace(`"golden-${tag}"`, `recipe-${tag}`)
        .replace(/ golden-[\w-]+$/, ` recipe-${tag}`),
    );
  expect(
    commands.some(
      (c) =>
        c.startsWith('openstack image create') && c.includes('--min-ram 64') && c.includes('--property os_distro=lab'),
    ),
  ).toBe(true);
  const script = [
    `source ${join(osLabDir(), 'admin-openrc.sh')}`,
    'set -euo pipefail',
    `cd ${exportDir}`,
    ...commands.map((c) =>
      c.startsWith('openstack image create') ? `${c} -f value -c id > ${join(own.dir, 'recipe-id')}` : c,
    ),
  ].join('\n');
  await execa('bash', ['-c', script], { env: { GNUPGHOME: join(labDir(), 'operator-gnupg') } });
  const id = readFileSync(join(own.dir, 'recipe-id'), 'utf8').trim();
  images.push(id);
  const img = (await glance.getImage(s, id))!;
  expect(img).toMatchObject({
    status: 'active',
    os_hash_value: manifest.image.os_hash_value,
    min_ram: 64,
    min_disk: 1,
    os_distro: 'lab',
    hw_disk_bus: 'virtio',
    tags: [tag],
  });
  expect(existsSync(join(exportDir, 'image.raw'))).toBe(true);
  await execa('rm', ['-f', join(exportDir, 'image.raw')]);
}, 300_000);

test('a server booted from an instance snapshot (and from its export) is ACTIVE with that image', async () => {
  const srv = await createServer(s, `srv-${tag}`, imageId);
  servers.push(srv);
  const snap = await run<SnapshotInstancesResult>('snapshotInstancesWorkflow', `test-restore-snapshot-server-${tag}`, {
    cloud: 'openstack',
    export: true,
  });
  expect(snap.failed).toEqual([]);
  const snapImage = snap.snapshots[0]!.imageId;
  images.push(snapImage);

  const wf = `test-restore-server-${tag}`;
  const t0 = Date.now();
  const r = await run<RestoreServerResult>('restoreServerWorkflow', wf, {
    cloud: 'openstack',
    imageId: snapImage,
    networks: ['none'],
    stuckAfterSeconds: 180,
  });
  console.log(`server from snapshot: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  servers.push(r.serverId);
  expect(r).toMatchObject({
    status: 'ACTIVE',
    imageId: snapImage,
    flavor: 'm1.tiny',
    adopted: false,
    reimported: null,
  });
  const detail = z.object({
    server: z.object({
      status: z.string(),
      image: z.object({ id: z.string() }),
      metadata: z.record(z.string(), z.string()),
    }),
  });
  const got = (await s.json(detail, 'compute', 'GET', `/servers/${r.serverId}`, { microversion: COMPUTE_MICROVERSION }))
    .server;
  expect(got).toMatchObject({
    status: 'ACTIVE',
    image: { id: snapImage },
    metadata: { osbackup_restore_run: wf, osbackup_restored_from: `image:${snapImage}` },
  });
  const again = await run<RestoreServerResult>('restoreServerWorkflow', wf, {
    cloud: 'openstack',
    imageId: snapImage,
    networks: ['none'],
  });
  expect(again).toMatchObject({ serverId: r.serverId, adopted: true });

  // the DR path: the snapshot's export re-imported, then booted; named after the server it came from
  const wf2 = `test-restore-server-export-${tag}`;
  const r2 = await run<RestoreServerResult>('restoreServerWorkflow', wf2, {
    cloud: 'openstack',
    exportId: snapImage,
    networks: ['none'],
    stuckAfterSeconds: 180,
  });
  servers.push(r2.serverId);
  images.push(r2.reimported!.imageId);
  expect(r2).toMatchObject({ status: 'ACTIVE', name: `srv-${tag}-restored`, imageId: r2.reimported!.imageId });
  expect(r2.reimported).toMatchObject({ osHashValue: (await glance.getImage(s, snapImage))!.os_hash_value });
  // a re-imported instance snapshot does not carry osbackup's mark: retention leaves it alone
  const re = (await glance.getImage(s, r2.reimported!.imageId))!;
  expect(re.osbackup).toBeUndefined();
  expect(re.instance_uuid).toBe(srv);

  // a flavor too small for the image is refused before Nova is asked
  const small = await failureOf(
    run('restoreServerWorkflow', `test-restore-server-nope-${tag}`, {
      cloud: 'openstack',
      imageId: snapImage,
      flavor: 'no-such-flavor',
      networks: ['none'],
    }),
  );
  expect(small).toMatchObject({ type: 'OpenstackRequestRejected' });
  expect(small.message).toContain('no flavor "no-such-flavor" (flavors: ');
}, 600_000);

test("CLI: restore volume --snapshot <name> (JSON result, bytes checked); bad combinations are usage errors; a server in ERROR is reported with Nova's fault and deleted", async () => {
  expect(snapshotId).not.toBe('');
  const snapName = (await cinder.getSnapshot(s, snapshotId))!.name!;
  const r = await cli(own.configFile, [
    '--json',
    'restore',
    'volume',
    '--cloud',
    'openstack',
    '--snapshot',
    snapName,
    '--name',
    `cli-${tag}`,
  ]);
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout) as RestoreVolumeResult & { workflowId: string };
  volumes.push(out.volumeId);
  expect(out).toMatchObject({ name: `cli-${tag}`, status: 'available', from: { kind: 'snapshot', snapshotId } });
  expect(out.workflowId).toMatch(/^restore-volume:openstack:\d{8}-\d{6}$/);
  expect(Buffer.compare(await volumeBytes(out.volumeId, PATTERN_AT, pattern.length), pattern)).toBe(0);

  const both = await cli(own.configFile, [
    'restore',
    'volume',
    '--cloud',
    'openstack',
    '--volume',
    source,
    '--backup',
    'x',
  ]);
  expect(both.exitCode).not.toBe(0);
  expect(both.stderr).toContain('name exactly one of --snapshot, --volume (with an optional --at), --backup');
  const badAt = await cli(own.configFile, [
    'restore',
    'volume',
    '--cloud',
    'openstack',
    '--volume',
    source,
    '--at',
    'someday',
  ]);
  expect(badAt.stderr).toContain('--at "someday" is not a date');

  // no compute host can hold this flavor: Nova's scheduler puts the server in ERROR with a fault
  const huge = await s.json(z.object({ flavor: z.object({ id: z.string() }) }), 'compute', 'POST', '/flavors', {
    microversion: COMPUTE_MICROVERSION,
    json: { flavor: { name: `huge-${tag}`, ram: 64 << 20, vcpus: 1, disk: 1 } },
  });
  flavors.push(huge.flavor.id);
  const e = await cli(own.configFile, [
    'restore',
    'server',
    '--cloud',
    'openstack',
    '--snapshot',
    imageId,
    '--flavor',
    `huge-${tag}`,
    '--network',
    'none',
    '--name',
    `err-${tag}`,
  ]);
  expect(e.exitCode).not.toBe(0);
  expect(e.stderr).toMatch(
    new RegExp(
      `server err-${tag} \\([0-9a-f-]{36}\\) from image ${imageId} went to ERROR: No valid host was found.*; it was deleted`,
    ),
  );
  await until(
    'the errored server gone',
    async () => {
      const l = await s.json(
        z.object({ servers: z.array(z.object({ id: z.string() })) }),
        'compute',
        'GET',
        '/servers/detail',
        { microversion: COMPUTE_MICROVERSION, query: { all_tenants: 1, name: `^err-${tag}$` } },
      );
      return l.servers.length === 0;
    },
    60_000,
  );
}, 600_000);
