// The rebuild's checks against the rebuilt cloud, through the same REST code as the backups:
// a Keystone token and the catalog's endpoints, what the restored database says the cloud holds
// (images, volumes, servers) against what its storage still has, and user access to it.
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { heartbeater } from '../heartbeat.js';
import { loadCredentials } from '../openstack/credentials.js';
import { OpenStackSession } from '../openstack/session.js';
import { cinder, glance, nova } from '../openstack/api.js';
import { IMAGE, type ImageManifest } from '../../core/openstack/image.js';

/** A session of its own: the rebuilt Keystone is a new server, no token cached before the loss is reused. */
function freshSession(env: Env, cloud: string): OpenStackSession {
  const cfg = env.cloud(cloud).openstack;
  if (!cfg)
    throw fatal(
      FailureType.ConfigInvalid,
      `cloud ${cloud} has no openstack section`,
      `add clouds.${cloud}.openstack (cloudsYaml + cloud, or openrc) so the rebuild can verify the services`,
    );
  return new OpenStackSession(loadCredentials(cfg, env.deps.env), cfg.requestTimeoutSeconds * 1000);
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

export interface ServicesCheck {
  token: { userId: string; projectId: string | null; expiresAt: string };
  catalog: { type: string; name: string | null; url: string; status: number | null; error?: string }[];
  seconds: number;
}

/** Waits (bounded) until Keystone issues a token and every endpoint of its catalog answers below 500. */
export async function verifyServices(env: Env, cloud: string, timeoutSeconds: number): Promise<ServicesCheck> {
  const t0 = performance.now();
  const beat = heartbeater(1000);
  let last = 'not tried';
  for (;;) {
    const s = freshSession(env, cloud);
    try {
      const t = await s.currentToken();
      const iface = s.creds.interface;
      const catalog: ServicesCheck['catalog'] = [];
      for (const e of t.catalog) {
        const ep =
          e.endpoints.find(
            (x) => x.interface === iface && (!s.creds.region || (x.region_id ?? x.region) === s.creds.region),
          ) ?? e.endpoints[0];
        if (!ep) continue;
        beat({ step: 'verify services', endpoint: e.type, seconds: Math.round((performance.now() - t0) / 1000) });
        const url = ep.url.replace(
          /%\(project_id\)s|\$\(project_id\)s|%\(tenant_id\)s|\$\(tenant_id\)s/g,
          t.projectId ?? '',
        );
        try {
          const res = await fetch(url, { headers: { 'X-Auth-Token': t.value }, signal: AbortSignal.timeout(10_000) });
          await res.arrayBuffer().catch(() => undefined);
          catalog.push({ type: e.type, name: e.name ?? null, url, status: res.status });
        } catch (x) {
          catalog.push({ type: e.type, name: e.name ?? null, url, status: null, error: why(x) });
        }
      }
      const bad = catalog.filter((c) => c.status === null || c.status >= 500);
      if (!catalog.some((c) => c.type === 'identity')) last = 'the token carries no identity endpoint in its catalog';
      else if (bad.length)
        last = `not answering: ${bad.map((b) => `${b.type} ${b.url} (${b.status ?? b.error})`).join(', ')}`;
      else
        return {
          token: { userId: t.userId, projectId: t.projectId ?? null, expiresAt: new Date(t.expiresAt).toISOString() },
          catalog,
          seconds: (performance.now() - t0) / 1000,
        };
    } catch (e) {
      last = `no token: ${why(e)}`;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (seconds > timeoutSeconds)
      throw fatal(
        FailureType.VerificationFailed,
        `the rebuilt services of ${cloud} did not answer within ${timeoutSeconds} s: ${last}`,
        "look at the deploy output and the services' logs; fix, then rerun the rebuild with the same run id (done steps are skipped)",
      );
    beat({ step: 'verify services', seconds: Math.round(seconds), last });
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Whether Glance can serve an image's bytes: its first chunk arrives. */
async function imageDataReadable(s: OpenStackSession, id: string): Promise<{ ok: boolean; reason?: string }> {
  try {
    const res = await glance.download(s, id);
    if (!res || !res.body) return { ok: false, reason: 'Glance has no data for it (204)' };
    const reader = res.body.getReader();
    const first = await reader.read();
    await reader.cancel().catch(() => undefined);
    return first.value && first.value.length > 0 ? { ok: true } : { ok: false, reason: 'empty data' };
  } catch (e) {
    return { ok: false, reason: why(e) };
  }
}

export interface ResourcesPlan {
  /** One entry per image export in the repository (newest export per image). */
  images: {
    exportId: string;
    imageId: string;
    name: string | null;
    state: 'present' | 'data-lost' | 'not-in-cloud' | 'not-active';
    reason?: string;
  }[];
  volumes: { id: string; name: string | null; status: string }[];
  servers: { id: string; name: string; status: string }[];
}

/**
 * What the restored database says the cloud holds, against its storage. The database at the
 * chosen point defines what the cloud should have: an image it knows as active whose bytes
 * Glance cannot serve is "missing" (re-imported from its export); one it does not know was
 * not part of the cloud then and is left alone. Volumes and servers are listed with their
 * status (the workflow restores volumes in error from osbackup's snapshots).
 */
export async function planResources(env: Env, cloud: string): Promise<ResourcesPlan> {
  const s = freshSession(env, cloud);
  const exports = (await env.repo.scanManifests(cloud)).filter((m): m is ImageManifest => m.component === IMAGE);
  const newest = new Map<string, ImageManifest>();
  for (const m of exports)
    if (!newest.has(m.image.id) || newest.get(m.image.id)!.completedAt < m.completedAt) newest.set(m.image.id, m);
  const images: ResourcesPlan['images'] = [];
  for (const m of newest.values()) {
    const img = await glance.getImage(s, m.image.id);
    const base = { exportId: m.id, imageId: m.image.id, name: m.image.name ?? null };
    if (!img)
      images.push({
        ...base,
        state: 'not-in-cloud',
        reason: 'the restored database does not know it (deleted before the restore point, or created after)',
      });
    else if (img.status !== 'active') images.push({ ...base, state: 'not-active', reason: `status ${img.status}` });
    else {
      const r = await imageDataReadable(s, img.id);
      images.push({ ...base, state: r.ok ? 'present' : 'data-lost', ...(r.reason ? { reason: r.reason } : {}) });
    }
  }
  const volumes = (await cinder.listVolumes(s, { allProjects: true })).map((v) => ({
    id: v.id,
    name: v.name ?? null,
    status: v.status,
  }));
  const servers = (await nova.listServers(s, { allProjects: true })).map((v) => ({
    id: v.id,
    name: v.name,
    status: v.status,
  }));
  return { images, volumes, servers };
}

export interface UserDataCheck {
  name: string;
  ok: boolean;
  actual?: string;
}

/** The seed's last step: with the cloud's credentials, the expected images and volumes are listed and the images' bytes read. */
export async function verifyUserData(
  env: Env,
  cloud: string,
  expect: { images: string[]; volumes: string[] },
): Promise<UserDataCheck[]> {
  const s = freshSession(env, cloud);
  const out: UserDataCheck[] = [];
  const images = await glance.listImages(s, {});
  const volumes = await cinder.listVolumes(s, { allProjects: true });
  const servers = await nova.listServers(s, { allProjects: true });
  out.push({ name: 'images listed', ok: true, actual: `${images.length} images` });
  out.push({ name: 'volumes listed', ok: true, actual: `${volumes.length} volumes` });
  out.push({ name: 'servers listed', ok: true, actual: `${servers.length} servers` });
  for (const id of expect.images) {
    const img = images.find((i) => i.id === id);
    const data = img ? await imageDataReadable(s, id) : { ok: false, reason: 'not listed' };
    out.push({
      name: `image ${id} readable`,
      ok: !!img && img.status === 'active' && data.ok,
      actual: img ? `${img.status}${data.ok ? ', data read' : `, ${data.reason}`}` : 'not listed',
    });
  }
  for (const id of expect.volumes) {
    const v = volumes.find((x) => x.id === id);
    out.push({
      name: `volume ${id} available`,
      ok: !!v && (v.status === 'available' || v.status === 'in-use'),
      actual: v ? v.status : 'not listed',
    });
  }
  return out;
}
