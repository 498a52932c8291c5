// Booting a server from an instance snapshot (or a re-imported image): create it marked with the
// run, wait for ACTIVE; ERROR is reported with Nova's fault message and the server deleted, a
// server still building past the stuck limit is reported with its task state.
import { z } from 'zod';
import { fatal, FailureType } from '../errors.js';
import { heartbeater } from '../heartbeat.js';
import { COMPUTE_MICROVERSION, glance } from './api.js';
import type { OpenStackSession } from './session.js';
import { type FlavorInfo } from '../../core/openstack/restore.js';
import { MARK_RESTORE_RUN, restoreMarks } from '../../core/openstack/image.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ServerImageInfo {
  id: string;
  name: string | null;
  status: string;
  minRamMiB: number;
  minDiskGiB: number;
  sizeBytes: number | null;
}

/** What choosing a flavor needs: the image (must be active) and the flavors the credentials see. */
export async function serverPlan(
  s: OpenStackSession,
  imageId: string,
): Promise<{ image: ServerImageInfo; flavors: FlavorInfo[] }> {
  const img = await glance.getImage(s, imageId);
  if (!img)
    throw fatal(
      FailureType.OpenstackNotFound,
      `Glance has no image ${imageId}`,
      'name an instance snapshot (`openstack image list --property image_type=snapshot`) or re-import an export first (`osbackup restore image`)',
    );
  if (img.status !== 'active')
    throw fatal(
      FailureType.OpenstackRequestRejected,
      `image ${imageId} is ${img.status}, not active`,
      'wait for it to become active, or choose another',
    );
  const flavors = await s.json(
    z.object({
      flavors: z.array(
        z.object({ id: z.string(), name: z.string(), vcpus: z.number(), ram: z.number(), disk: z.number() }),
      ),
    }),
    'compute',
    'GET',
    '/flavors/detail',
    { microversion: COMPUTE_MICROVERSION },
  );
  const num = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
  return {
    image: {
      id: img.id,
      name: img.name ?? null,
      status: img.status,
      minRamMiB: num(img.min_ram),
      minDiskGiB: num(img.min_disk),
      sizeBytes: img.size ?? null,
    },
    flavors: flavors.flavors.map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ram: f.ram, disk: f.disk })),
  };
}

const serverDetail = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  metadata: z.record(z.string(), z.string()).default({}),
  image: z.union([z.object({ id: z.string() }), z.string()]).nullish(),
  flavor: z.object({ original_name: z.string().optional(), id: z.string().optional() }).loose().optional(),
  fault: z.object({ message: z.string(), code: z.number().optional(), details: z.string().optional() }).optional(),
  'OS-EXT-STS:task_state': z.string().nullish(),
  created: z.string().optional(),
});
type ServerDetail = z.infer<typeof serverDetail>;

const getServer = async (s: OpenStackSession, id: string): Promise<ServerDetail | null> => {
  const res = await s.request('compute', 'GET', `/servers/${id}`, {
    microversion: COMPUTE_MICROVERSION,
    accept: [404],
  });
  if (res.status === 404) return null;
  return z.object({ server: serverDetail }).parse(await res.json()).server;
};

export interface ServerFromImageInput {
  cloud: string;
  imageId: string;
  flavorId: string;
  name: string;
  /** Nova's `networks`: "auto", "none" or ports on these network ids. */
  networks: 'auto' | 'none' | { uuid: string }[];
  runId: string;
  stuckAfterSeconds: number;
  pollSeconds?: number;
}

export interface RestoredServer {
  serverId: string;
  name: string;
  status: string;
  imageId: string;
  flavorId: string;
  adopted: boolean;
  seconds: number;
}

const escapeRegex = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function serverFromImage(s: OpenStackSession, input: ServerFromImageInput): Promise<RestoredServer> {
  const t0 = Date.now();
  // Nova's name filter is a regular expression: anchor it; the run's mark picks ours among namesakes
  const listed = await s.json(z.object({ servers: z.array(serverDetail) }), 'compute', 'GET', '/servers/detail', {
    microversion: COMPUTE_MICROVERSION,
    query: { all_tenants: 1, name: `^${escapeRegex(input.name)}$` },
  });
  let srv: ServerDetail | null | undefined = listed.servers.find((x) => x.metadata[MARK_RESTORE_RUN] === input.runId);
  const adopted = !!srv;
  if (!srv) {
    const r = await s.json(z.object({ server: z.object({ id: z.string() }) }), 'compute', 'POST', '/servers', {
      microversion: COMPUTE_MICROVERSION,
      json: {
        server: {
          name: input.name,
          imageRef: input.imageId,
          flavorRef: input.flavorId,
          networks: input.networks,
          metadata: restoreMarks(input.runId, `image:${input.imageId}`),
        },
      },
    });
    srv = await getServer(s, r.server.id);
    if (!srv)
      throw fatal(
        FailureType.OpenstackResourceError,
        `server ${r.server.id} vanished right after Nova accepted it`,
        "look at nova-api's and nova-conductor's logs",
      );
  }
  const id = srv.id;
  const created = srv.created ? Date.parse(srv.created) : NaN;
  const started = Number.isFinite(created) ? Math.min(created, t0) : t0;
  const beat = heartbeater(5000);
  for (;;) {
    beat({ serverId: id, status: srv.status, task: srv['OS-EXT-STS:task_state'] ?? null });
    if (srv.status === 'ACTIVE') {
      const imageId = typeof srv.image === 'object' && srv.image ? srv.image.id : input.imageId;
      return {
        serverId: id,
        name: srv.name,
        status: srv.status,
        imageId,
        flavorId: srv.flavor?.id ?? input.flavorId,
        adopted,
        seconds: Math.round((Date.now() - t0) / 100) / 10,
      };
    }
    if (srv.status === 'ERROR') {
      const fault = srv.fault
        ? `${srv.fault.message}${srv.fault.code ? ` (code ${srv.fault.code})` : ''}`
        : 'Nova recorded no fault';
      await s
        .request('compute', 'DELETE', `/servers/${id}`, { microversion: COMPUTE_MICROVERSION, accept: [404] })
        .catch(() => undefined);
      throw fatal(
        FailureType.OpenstackResourceError,
        `server ${input.name} (${id}) from image ${input.imageId} went to ERROR: ${fault}; it was deleted`,
        'fix what the fault names (no valid host: flavor/quotas/placement; network: the --network ids), then run the restore again',
      );
    }
    if (Date.now() - started > input.stuckAfterSeconds * 1000) {
      throw fatal(
        FailureType.OpenstackResourceStuck,
        `server ${input.name} (${id}) is still ${srv.status}${srv['OS-EXT-STS:task_state'] ? `/${srv['OS-EXT-STS:task_state']}` : ''} after ${Math.round((Date.now() - started) / 1000)} s (limit ${input.stuckAfterSeconds} s)`,
        `look at \`openstack server show ${id}\` and nova-compute's log; the server was left for inspection (delete it before running the restore again)`,
      );
    }
    await sleep((input.pollSeconds ?? 2) * 1000);
    srv = await getServer(s, id);
    if (!srv)
      throw fatal(
        FailureType.OpenstackNotFound,
        `server ${input.name} (${id}) vanished while osbackup waited for it`,
        'someone deleted it; run the restore again',
      );
  }
}
