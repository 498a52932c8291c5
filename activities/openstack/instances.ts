// Nova instance snapshots: createImage for a server, then wait for Glance to mark the image
// active (heartbeating). Marked like every osbackup resource; a retry adopts the image its
// predecessor asked for instead of making a second one.
import { Context } from '@temporalio/activity';
import { fatal, FailureType } from '../errors.js';
import { inActivity } from '../heartbeat.js';
import { glance, nova } from './api.js';
import type { OpenStackSession } from './session.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import { MARK_RUN, marks, serverImageName } from '../../core/openstack/resources.js';
import { SNAPSHOT_STATES } from './dry-run.js';

export interface ServerRef {
  id: string;
  name: string;
  status: string;
}

export async function listServers(s: OpenStackSession, cfg: OpenstackCloudConfig): Promise<ServerRef[]> {
  return (await nova.listServers(s, { allProjects: true, name: cfg.instances.name }))
    .filter((x) => SNAPSHOT_STATES.includes(x.status))
    .map((x) => ({ id: x.id, name: x.name, status: x.status }));
}

export interface SnapshotServerInput {
  cloud: string;
  server: ServerRef;
  runId: string;
  takenAt: string;
  stuckAfterSeconds: number;
}

export interface SnapshotServerResult {
  serverId: string;
  imageId: string;
  name: string;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function snapshotServer(s: OpenStackSession, input: SnapshotServerInput): Promise<SnapshotServerResult> {
  const t0 = Date.now();
  const ctx = inActivity() ? Context.current() : undefined;
  const name = serverImageName(input.server.name, input.takenAt);
  // Nova copies createImage metadata into image properties: find this run's image by them
  const mine = (await glance.listImages(s, { name })).find(
    (i) => i[MARK_RUN] === input.runId && i.instance_uuid === input.server.id,
  );
  const imageId =
    mine?.id ?? (await nova.createImage(s, input.server.id, name, marks(input.cloud, input.runId, input.takenAt)));
  for (;;) {
    const img = await glance.getImage(s, imageId);
    ctx?.heartbeat({ imageId, status: img?.status });
    if (img?.status === 'active')
      return { serverId: input.server.id, imageId, name, seconds: Math.round((Date.now() - t0) / 100) / 10 };
    if (!img || img.status === 'killed' || img.status === 'deleted') {
      throw fatal(
        FailureType.OpenstackResourceError,
        `the snapshot image ${imageId} of server ${input.server.name} (${input.server.id}) is ${img?.status ?? 'gone'}`,
        "look at nova-compute's log for the server; Nova deletes a failed snapshot image itself",
      );
    }
    if (Date.now() - t0 > input.stuckAfterSeconds * 1000) {
      throw fatal(
        FailureType.OpenstackResourceStuck,
        `the snapshot image ${imageId} of server ${input.server.name} (${input.server.id}) is still ${img.status} after ${input.stuckAfterSeconds} s`,
        "look at the server's task_state (`openstack server show`) and nova-compute's log; a `queued` image means the hypervisor never uploaded data",
      );
    }
    await sleep(2000);
  }
}
