// The Cinder, Glance and Nova calls osbackup makes, typed with zod for the fields it uses.
// Microversions are pinned here, one per API family, so behaviour never drifts with the cloud.
import { z } from 'zod';
import type { OpenStackSession } from './session.js';

/** Cinder 3.50 (Rocky): metadata filters on lists, snapshot `force` for attached volumes, backups of snapshots. */
export const VOLUME_MICROVERSION = '3.50';
/** Nova 2.45: createImage answers with the image id in its body. */
export const COMPUTE_MICROVERSION = '2.45';

const metadata = z.record(z.string(), z.string()).default({});

export const volumeSchema = z.object({
  id: z.string(),
  name: z.string().nullish(),
  status: z.string(),
  size: z.number(),
  attachments: z.array(z.object({ server_id: z.string().optional() })).default([]),
  metadata,
  'os-vol-tenant-attr:tenant_id': z.string().optional(),
});
export type Volume = z.infer<typeof volumeSchema>;

export const snapshotSchema = z.object({
  id: z.string(),
  name: z.string().nullish(),
  status: z.string(),
  volume_id: z.string(),
  created_at: z.string(),
  size: z.number().optional(),
  metadata,
  'os-extended-snapshot-attributes:progress': z.string().nullish(),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

export const backupSchema = z.object({
  id: z.string(),
  name: z.string().nullish(),
  status: z.string(),
  volume_id: z.string(),
  snapshot_id: z.string().nullish(),
  is_incremental: z.boolean().optional(),
  fail_reason: z.string().nullish(),
  created_at: z.string().optional(),
  size: z.number().optional(),
  metadata,
});
export type Backup = z.infer<typeof backupSchema>;

export const imageSchema = z
  .object({
    id: z.string(),
    name: z.string().nullish(),
    status: z.string(),
    visibility: z.string().optional(),
    tags: z.array(z.string()).default([]),
    size: z.number().nullish(),
    disk_format: z.string().nullish(),
    container_format: z.string().nullish(),
    os_hash_algo: z.string().nullish(),
    os_hash_value: z.string().nullish(),
    checksum: z.string().nullish(),
    created_at: z.string().optional(),
  })
  .loose();
export type Image = z.infer<typeof imageSchema>;

export const serverSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  metadata: metadata.optional(),
});
export type Server = z.infer<typeof serverSchema>;

const serviceSchema = z.object({
  binary: z.string(),
  host: z.string(),
  status: z.string(),
  state: z.string(),
  updated_at: z.string().nullish(),
  disabled_reason: z.string().nullish(),
});

const PAGE = 200;

export const cinder = {
  async listVolumes(
    s: OpenStackSession,
    f: { allProjects?: boolean; projectId?: string; status?: string; metadata?: Record<string, string> },
  ): Promise<Volume[]> {
    const out: Volume[] = [];
    for (let marker: string | undefined; ; ) {
      const r = await s.json(z.object({ volumes: z.array(volumeSchema) }), 'volume', 'GET', '/volumes/detail', {
        microversion: VOLUME_MICROVERSION,
        query: {
          limit: PAGE,
          marker,
          sort: 'created_at:asc,id:asc',
          all_tenants: f.allProjects || f.projectId ? 1 : undefined,
          project_id: f.projectId,
          status: f.status,
          metadata: f.metadata && Object.keys(f.metadata).length ? JSON.stringify(f.metadata) : undefined,
        },
      });
      out.push(...r.volumes);
      if (r.volumes.length < PAGE) return out;
      marker = r.volumes[r.volumes.length - 1]!.id;
    }
  },
  getVolume: (s: OpenStackSession, id: string) =>
    s
      .json(z.object({ volume: volumeSchema }), 'volume', 'GET', `/volumes/${id}`, {
        microversion: VOLUME_MICROVERSION,
      })
      .then((r) => r.volume),
  async listSnapshots(
    s: OpenStackSession,
    f: { allProjects?: boolean; volumeId?: string; metadata?: Record<string, string> },
  ): Promise<Snapshot[]> {
    const out: Snapshot[] = [];
    for (let marker: string | undefined; ; ) {
      const r = await s.json(z.object({ snapshots: z.array(snapshotSchema) }), 'volume', 'GET', '/snapshots/detail', {
        microversion: VOLUME_MICROVERSION,
        query: {
          limit: PAGE,
          marker,
          sort: 'created_at:asc,id:asc',
          all_tenants: f.allProjects ? 1 : undefined,
          volume_id: f.volumeId,
          metadata: f.metadata ? JSON.stringify(f.metadata) : undefined,
        },
      });
      out.push(...r.snapshots);
      if (r.snapshots.length < PAGE) return out;
      marker = r.snapshots[r.snapshots.length - 1]!.id;
    }
  },
  /** null when it is gone. */
  getSnapshot: async (s: OpenStackSession, id: string): Promise<Snapshot | null> => {
    const res = await s.request('volume', 'GET', `/snapshots/${id}`, {
      microversion: VOLUME_MICROVERSION,
      accept: [404],
    });
    if (res.status === 404) return null;
    return z.object({ snapshot: snapshotSchema }).parse(await res.json()).snapshot;
  },
  createSnapshot: (
    s: OpenStackSession,
    b: { volumeId: string; name: string; description: string; force: boolean; metadata: Record<string, string> },
  ) =>
    s
      .json(z.object({ snapshot: snapshotSchema }), 'volume', 'POST', '/snapshots', {
        microversion: VOLUME_MICROVERSION,
        json: {
          snapshot: {
            volume_id: b.volumeId,
            name: b.name,
            description: b.description,
            force: b.force,
            metadata: b.metadata,
          },
        },
      })
      .then((r) => r.snapshot),
  deleteSnapshot: (s: OpenStackSession, id: string) =>
    s
      .request('volume', 'DELETE', `/snapshots/${id}`, { microversion: VOLUME_MICROVERSION, accept: [404] })
      .then(() => undefined),
  /** os-reset_status: an admin's way out of a snapshot stuck in a transitional state (delete needs a settled one). */
  resetSnapshotStatus: (s: OpenStackSession, id: string, status: string) =>
    s
      .request('volume', 'POST', `/snapshots/${id}/action`, {
        microversion: VOLUME_MICROVERSION,
        json: { 'os-reset_status': { status } },
      })
      .then(() => undefined),
  resetVolumeStatus: (s: OpenStackSession, id: string, status: string) =>
    s
      .request('volume', 'POST', `/volumes/${id}/action`, {
        microversion: VOLUME_MICROVERSION,
        json: { 'os-reset_status': { status } },
      })
      .then(() => undefined),
  volumeServices: (s: OpenStackSession) =>
    s
      .json(z.object({ services: z.array(serviceSchema) }), 'volume', 'GET', '/os-services', {
        microversion: VOLUME_MICROVERSION,
      })
      .then((r) => r.services),
  /** From a snapshot (`snapshot_id`, 3.47+) and marked (backup metadata, 3.43+). */
  createBackup: (
    s: OpenStackSession,
    b: {
      volumeId: string;
      snapshotId?: string;
      name: string;
      description: string;
      incremental: boolean;
      force: boolean;
      metadata?: Record<string, string>;
    },
  ) =>
    s
      .json(z.object({ backup: z.object({ id: z.string() }) }), 'volume', 'POST', '/backups', {
        microversion: VOLUME_MICROVERSION,
        json: {
          backup: {
            volume_id: b.volumeId,
            snapshot_id: b.snapshotId,
            name: b.name,
            description: b.description,
            incremental: b.incremental,
            force: b.force,
            metadata: b.metadata,
          },
        },
      })
      .then((r) => r.backup.id),
  getBackup: async (s: OpenStackSession, id: string): Promise<Backup | null> => {
    const res = await s.request('volume', 'GET', `/backups/${id}`, {
      microversion: VOLUME_MICROVERSION,
      accept: [404],
    });
    if (res.status === 404) return null;
    return z.object({ backup: backupSchema }).parse(await res.json()).backup;
  },
  async listBackups(s: OpenStackSession, f: { volumeId?: string; allProjects?: boolean }): Promise<Backup[]> {
    const out: Backup[] = [];
    for (let marker: string | undefined; ; ) {
      const r = await s.json(z.object({ backups: z.array(backupSchema) }), 'volume', 'GET', '/backups/detail', {
        microversion: VOLUME_MICROVERSION,
        query: {
          limit: PAGE,
          marker,
          sort: 'created_at:asc,id:asc',
          volume_id: f.volumeId,
          all_tenants: f.allProjects ? 1 : undefined,
        },
      });
      out.push(...r.backups);
      if (r.backups.length < PAGE) return out;
      marker = r.backups[r.backups.length - 1]!.id;
    }
  },
  resetBackupStatus: (s: OpenStackSession, id: string, status: string) =>
    s
      .request('volume', 'POST', `/backups/${id}/action`, {
        microversion: VOLUME_MICROVERSION,
        json: { 'os-reset_status': { status } },
      })
      .then(() => undefined),
  deleteBackup: (s: OpenStackSession, id: string) =>
    s
      .request('volume', 'DELETE', `/backups/${id}`, { microversion: VOLUME_MICROVERSION, accept: [404] })
      .then(() => undefined),
};

export const glance = {
  /** `properties`: Glance filters on any image property (osbackup's marks). */
  async listImages(
    s: OpenStackSession,
    f: { status?: string; visibility?: string; tag?: string; name?: string; properties?: Record<string, string> },
  ): Promise<Image[]> {
    const out: Image[] = [];
    let next: string | undefined =
      `/v2/images?${new URLSearchParams(Object.entries({ limit: String(PAGE), status: f.status, visibility: f.visibility, tag: f.tag, name: f.name, sort: 'created_at:asc', ...f.properties }).filter((e): e is [string, string] => e[1] !== undefined)).toString()}`;
    while (next) {
      const r: { images: Image[]; next?: string } = await s.json(
        z.object({ images: z.array(imageSchema), next: z.string().optional() }),
        'image',
        'GET',
        next,
      );
      out.push(...r.images);
      next = r.next;
    }
    return out;
  },
  getImage: async (s: OpenStackSession, id: string): Promise<Image | null> => {
    const res = await s.request('image', 'GET', `/v2/images/${id}`, { accept: [404] });
    if (res.status === 404) return null;
    return imageSchema.parse(await res.json());
  },
  /** The image's bytes as a stream (200), or null when it has no data (204). */
  download: async (s: OpenStackSession, id: string): Promise<Response | null> => {
    const res = await s.request('image', 'GET', `/v2/images/${id}/file`, {
      stream: true,
      headers: { Accept: 'application/octet-stream' },
      accept: [204],
    });
    return res.status === 204 ? null : res;
  },
  createImage: (s: OpenStackSession, props: Record<string, unknown>) =>
    s.json(imageSchema, 'image', 'POST', '/v2/images', { json: props }),
  upload: (s: OpenStackSession, id: string, body: NodeJS.ReadableStream, size?: number) =>
    s
      .request('image', 'PUT', `/v2/images/${id}/file`, {
        body,
        stream: true,
        headers: {
          'Content-Type': 'application/octet-stream',
          ...(size !== undefined ? { 'Content-Length': String(size) } : {}),
        },
      })
      .then(() => undefined),
  deleteImage: (s: OpenStackSession, id: string) =>
    s.request('image', 'DELETE', `/v2/images/${id}`, { accept: [404] }).then(() => undefined),
};

export const nova = {
  async listServers(
    s: OpenStackSession,
    f: { allProjects?: boolean; name?: string; status?: string },
  ): Promise<Server[]> {
    const out: Server[] = [];
    for (let marker: string | undefined; ; ) {
      const r = await s.json(z.object({ servers: z.array(serverSchema) }), 'compute', 'GET', '/servers/detail', {
        microversion: COMPUTE_MICROVERSION,
        query: { limit: PAGE, marker, all_tenants: f.allProjects ? 1 : undefined, name: f.name, status: f.status },
      });
      out.push(...r.servers);
      if (r.servers.length < PAGE) return out;
      marker = r.servers[r.servers.length - 1]!.id;
    }
  },
  createImage: (s: OpenStackSession, serverId: string, name: string, metadata: Record<string, string>) =>
    s
      .json(z.object({ image_id: z.string() }), 'compute', 'POST', `/servers/${serverId}/action`, {
        microversion: COMPUTE_MICROVERSION,
        json: { createImage: { name, metadata } },
      })
      .then((r) => r.image_id),
};
