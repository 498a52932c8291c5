// The OpenStack activities, over one session per cloud and worker (tokens are reused).
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import { loadCredentials } from './credentials.js';
import { OpenStackSession } from './session.js';
import {
  backupSnapshot,
  listVolumes,
  snapshotVolume,
  type BackupSnapshotInput,
  type SnapshotVolumeInput,
} from './volumes.js';
import { dryRun, type DryRunKind } from './dry-run.js';
import { markCloudSide, pendingCloudJournals, planCloudSide, purgeCloudSide } from './retention.js';
import { exportImage, listImages, type ExportImageInput } from './images.js';
import { listServers, snapshotServer, type SnapshotServerInput } from './instances.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import { openstackRestoreActivities } from './restore-activities.js';

export function openstackActivities({ env, catalog }: ActivityContext) {
  // cloud-side retention removes image exports: osbackup's own deletions leave the catalog
  const onExportRemoved = (cloud: string, id: string): Promise<void> => catalog.refresh(cloud, 'image', id);
  const sessions = new Map<string, OpenStackSession>();
  const cfgOf = (cloud: string): OpenstackCloudConfig => {
    const c = env.cloud(cloud).openstack;
    if (!c)
      throw fatal(
        FailureType.ConfigInvalid,
        `cloud ${cloud} has no openstack section`,
        `add clouds.${cloud}.openstack (cloudsYaml + cloud, or openrc) and restart the worker`,
      );
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
      return {
        volumes,
        concurrency: cfg.volumes.concurrency,
        stuckAfterSeconds: Math.round(cfg.volumes.stuckAfterMinutes * 60),
        cinderBackup: cfg.volumes.cinderBackup,
      };
    },
    async openstackBackupSnapshot(input: BackupSnapshotInput) {
      return backupSnapshot(session(input.cloud), input);
    },
    /** Cloud-side retention (rotate): null for a cloud without an openstack section. */
    async openstackRetentionPlan(input: { cloud: string; now: string }) {
      const c = env.cloud(input.cloud).openstack;
      return c ? planCloudSide(env, session(input.cloud), c, input.cloud, input.now) : null;
    },
    async openstackRetentionMark(input: { cloud: string; runId: string; now: string }) {
      const c = env.cloud(input.cloud).openstack;
      return c ? markCloudSide(env, session(input.cloud), c, input) : null;
    },
    async openstackRetentionPending(input: { cloud: string }) {
      return env.cloud(input.cloud).openstack ? pendingCloudJournals(env, input.cloud) : [];
    },
    async openstackRetentionPurge(input: { cloud: string; runId: string }) {
      return purgeCloudSide(env, session(input.cloud), input, (id) => onExportRemoved(input.cloud, id));
    },
    /** What a run would select and do, and why; nothing is created. */
    async openstackDryRun(input: { cloud: string; kind: DryRunKind }) {
      return dryRun(env, session(input.cloud), cfgOf(input.cloud), input);
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
      return {
        servers: await listServers(session(input.cloud), cfg),
        concurrency: cfg.instances.concurrency,
        stuckAfterSeconds: Math.round(cfg.instances.stuckAfterMinutes * 60),
      };
    },
    async openstackSnapshotServer(input: SnapshotServerInput) {
      return snapshotServer(session(input.cloud), input);
    },
    ...openstackRestoreActivities(env, session),
  };
}
