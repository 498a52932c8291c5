// The OpenStack activities, over one session per cloud and worker (tokens are reused).
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { loadCredentials } from './credentials.js';
import { OpenStackSession } from './session.js';
import { listVolumes, snapshotVolume, type SnapshotVolumeInput } from './volumes.js';
import { exportImage, listImages, type ExportImageInput } from './images.js';
import { listServers, snapshotServer, type SnapshotServerInput } from './instances.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import { openstackRestoreActivities } from './restore-activities.js';

export function openstackActivities(env: Env) {
  const sessions = new Map<string, OpenStackSession>();
  const cfgOf = (cloud: string): OpenstackCloudConfig => {
    const c = env.cloud(cloud).openstack;
    if (!c) throw fatal(FailureType.ConfigInvalid, `cloud ${cloud} has no openstack section`, `add clouds.${cloud}.openstack (cloudsYaml + cloud, or openrc) and restart the worker`);
    return c;
  };
  const session = (cloud: string): OpenStackSession => {
    let s = sessions.get(cloud);
    if (!s) {
      const cfg = cfgOf(cloud);
      s = new OpenStackSession(loadCredentials(cfg, env.deps.env), cfg.requestTimeoutSeconds * 1000);
      sessions.set(cloud, s);
    }
    return s;
  };
  return {
    /** The volumes the cloud's selection names, and how the fan-out is bounded. */
    async openstackPlanVolumes(input: { cloud: string }) {
      const cfg = cfgOf(input.cloud);
      const volumes = await listVolumes(session(input.cloud), cfg);
      return { volumes, concurrency: cfg.volumes.concurrency, stuckAfterSeconds: Math.round(cfg.volumes.stuckAfterMinutes * 60) };
    },
    async openstackSnapshotVolume(input: SnapshotVolumeInput) {
      return snapshotVolume(session(input.cloud), input);
    },
    async openstackPlanImages(input: { cloud: string }) {
      const cfg = cfgOf(input.cloud);
      return { images: await listImages(session(input.cloud), cfg), concurrency: cfg.images.concurrency };
    },
    async openstackExportImage(input: ExportImageInput) {
      return exportImage(env, session(input.cloud), input);
    },
    async openstackPlanInstances(input: { cloud: string }) {
      const cfg = cfgOf(input.cloud);
      return { servers: await listServers(session(input.cloud), cfg), concurrency: cfg.instances.concurrency, stuckAfterSeconds: Math.round(cfg.instances.stuckAfterMinutes * 60) };
    },
    async openstackSnapshotServer(input: SnapshotServerInput) {
      return snapshotServer(session(input.cloud), input);
    },
    ...openstackRestoreActivities(env, session),
  };
}
