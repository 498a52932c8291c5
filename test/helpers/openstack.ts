// Helpers for tests against the lab's OpenStack cloud (test/lab/openstack.sh, namespace osb-os1).
// Setup and checks go through the REST APIs directly (each `openstack` CLI start costs ~2.5 s).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { loadCredentials, type OpenstackAccess } from '../../activities/openstack/credentials.js';
import { OpenStackSession } from '../../activities/openstack/session.js';
import { cinder, COMPUTE_MICROVERSION, glance, VOLUME_MICROVERSION } from '../../activities/openstack/api.js';
import { labDir } from './lab.js';

export function osLabDir(): string {
  const d = join(labDir(), 'os1');
  if (!existsSync(join(d, 'clouds.yaml')))
    throw new Error(
      `the lab's OpenStack cloud is not up (no ${d}/clouds.yaml): start it with LAB_OPENSTACK=1 test/lab/lab.sh up, or test/lab/openstack.sh up on a running lab`,
    );
  return d;
}

/** The lab's third cloud, `openstack` (database on os1, OpenStack access through os1/clouds.yaml), added to a derived config. */
export function addOpenstackCloud(c: Record<string, any>, openstack: Record<string, unknown> = {}): void {
  const fragment = parse(readFileSync(join(osLabDir(), 'cloud.yml'), 'utf8')) as { openstack: Record<string, any> };
  c.clouds.openstack = fragment.openstack;
  c.clouds.openstack.openstack = { ...c.clouds.openstack.openstack, ...openstack };
}

export const labAccess = (): OpenstackAccess => ({ cloudsYaml: join(osLabDir(), 'clouds.yaml'), cloud: 'osb-lab' });

export function adminSession(access: Partial<OpenstackAccess> = {}): OpenStackSession {
  return new OpenStackSession(loadCredentials({ ...labAccess(), ...access }, {}));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(
  what: string,
  f: () => Promise<T | undefined | null | false>,
  timeoutMs = 120_000,
  everyMs = 1000,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function createVolume(
  s: OpenStackSession,
  name: string,
  metadata: Record<string, string>,
): Promise<string> {
  const r = await s.json(z.object({ volume: z.object({ id: z.string() }) }), 'volume', 'POST', '/volumes', {
    microversion: VOLUME_MICROVERSION,
    json: { volume: { size: 1, name, metadata } },
  });
  return r.volume.id;
}

export async function volumeStatus(s: OpenStackSession, id: string): Promise<string | null> {
  const res = await s.request('volume', 'GET', `/volumes/${id}`, { microversion: VOLUME_MICROVERSION, accept: [404] });
  if (res.status === 404) return null;
  return ((await res.json()) as { volume: { status: string } }).volume.status;
}

export async function waitVolumes(
  s: OpenStackSession,
  ids: string[],
  status: string | null,
  timeoutMs = 180_000,
): Promise<void> {
  await until(
    `volumes ${status ?? 'gone'}`,
    async () => {
      const st = await Promise.all(ids.map((id) => volumeStatus(s, id)));
      const bad = st.find((x) => x === 'error');
      if (bad && status !== 'error') throw new Error(`a volume went to error: ${st.join(',')}`);
      return st.every((x) => x === status);
    },
    timeoutMs,
  );
}

export async function uploadImage(
  s: OpenStackSession,
  name: string,
  data: Buffer,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const img = await glance.createImage(s, { name, disk_format: 'raw', container_format: 'bare', ...extra });
  const { Readable } = await import('node:stream');
  await glance.upload(s, img.id, Readable.from([data]), data.length);
  await until(`image ${name} active`, async () => (await glance.getImage(s, img.id))?.status === 'active');
  return img.id;
}

export async function createServer(s: OpenStackSession, name: string, imageId: string): Promise<string> {
  const flavors = await s.json(
    z.object({ flavors: z.array(z.object({ id: z.string(), name: z.string() })) }),
    'compute',
    'GET',
    '/flavors',
    { microversion: COMPUTE_MICROVERSION },
  );
  const flavor = flavors.flavors.find((f) => f.name === 'm1.tiny');
  if (!flavor) throw new Error('the lab has no m1.tiny flavor');
  // networks "none" needs compute 2.37+: Nova still asks neutron, which the lab runs API-only
  const r = await s.json(z.object({ server: z.object({ id: z.string() }) }), 'compute', 'POST', '/servers', {
    microversion: COMPUTE_MICROVERSION,
    json: { server: { name, imageRef: imageId, flavorRef: flavor.id, networks: 'none' } },
  });
  await until(`server ${name} ACTIVE`, async () => {
    const st = (
      await s.json(
        z.object({ server: z.object({ status: z.string() }) }),
        'compute',
        'GET',
        `/servers/${r.server.id}`,
        { microversion: COMPUTE_MICROVERSION },
      )
    ).server.status;
    if (st === 'ERROR') throw new Error(`server ${name} went to ERROR`);
    return st === 'ACTIVE';
  });
  return r.server.id;
}

export async function attachVolume(s: OpenStackSession, serverId: string, volumeId: string): Promise<void> {
  await s.request('compute', 'POST', `/servers/${serverId}/os-volume_attachments`, {
    microversion: COMPUTE_MICROVERSION,
    json: { volumeAttachment: { volumeId } },
  });
}

export async function deleteServer(s: OpenStackSession, id: string): Promise<void> {
  await s.request('compute', 'DELETE', `/servers/${id}`, { microversion: COMPUTE_MICROVERSION, accept: [404] });
}

/**
 * Snapshots gone, then volumes detached (by deleting the server) and deleted: best effort, for
 * afterAll. Each wait ends when nothing is left in a transitional state (an error state will not
 * change); what is left is named, so a slow clean-up shows why in the log instead of waiting.
 */
export async function cleanupVolumes(s: OpenStackSession, volumeIds: string[], serverId?: string): Promise<void> {
  const snaps = (
    await Promise.all(volumeIds.map((v) => cinder.listSnapshots(s, { allProjects: true, volumeId: v })))
  ).flat();
  await Promise.all(snaps.map((x) => cinder.deleteSnapshot(s, x.id).catch(() => undefined)));
  const settle = async (what: string, states: () => Promise<(string | null)[]>, busy: (x: string) => boolean) => {
    let left: string[] = [];
    await until(
      what,
      async () => {
        left = (await states()).filter((x): x is string => x !== null && busy(x));
        return left.length === 0;
      },
      60_000,
    ).catch(() => console.log(`clean-up: after 60 s still waiting for ${what}: ${left.join(', ')}`));
  };
  await settle(
    'snapshots deleted',
    async () => Promise.all(snaps.map(async (x) => (await cinder.getSnapshot(s, x.id))?.status ?? null)),
    (x) => !x.startsWith('error'),
  );
  if (serverId) {
    await deleteServer(s, serverId).catch(() => undefined);
    // the lab's fake compute driver never tells Cinder the volumes are free: mark them detached
    // (an admin reset), as an operator does for a volume left attached to a deleted server
    const attached = (
      await Promise.all(volumeIds.map(async (v) => ((await volumeStatus(s, v)) === 'in-use' ? v : null)))
    ).filter((v): v is string => v !== null);
    await Promise.all(
      attached.map((v) =>
        s
          .request('volume', 'POST', `/volumes/${v}/action`, {
            microversion: VOLUME_MICROVERSION,
            json: { 'os-reset_status': { status: 'available', attach_status: 'detached' } },
          })
          .catch(() => undefined),
      ),
    );
  }
  await Promise.all(
    volumeIds.map((v) =>
      s
        .request('volume', 'DELETE', `/volumes/${v}`, { microversion: VOLUME_MICROVERSION, accept: [404, 400] })
        .catch(() => undefined),
    ),
  );
}
