// Cloud-side resources of an OpenStack cloud: Cinder volume snapshots, Glance image exports,
// Nova instance snapshots. Each fans out over its selection with a bound (activities, not
// child workflows: one history holds ~6 events per resource, so 1,000 volumes fit), and a
// resource that fails or is stuck is reported without holding up the others.
import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { BackupSnapshotResult, SnapshotVolumeResult, VolumeRef } from '../activities/openstack/volumes.js';
import type { DryRunKind, DryRunResult } from '../activities/openstack/dry-run.js';
import type { ExportImageResult } from '../activities/openstack/images.js';
import type { SnapshotServerResult } from '../activities/openstack/instances.js';
import { mapBounded, type FanoutStats } from '../core/fanout.js';
import { shortCall, longStream, stuckAwareWait, shortActivities, dataBoundActivities } from './options.js';
import { causeOf } from './verify.js';

const { openstackPlanVolumes, openstackPlanImages, openstackPlanInstances, openstackDryRun } =
  shortActivities(shortCall);
const { openstackExportImage } = dataBoundActivities(longStream);

/** Waits of unknown length (options.ts stuckAwareWait). */
function waiting(stuckAfterSeconds: number) {
  return dataBoundActivities(stuckAwareWait(stuckAfterSeconds));
}

export interface ResourceFailure {
  id: string;
  name: string | null;
  /** What failed for this resource: its snapshot, or the Cinder backup of a snapshot that was taken. */
  stage?: 'snapshot' | 'backup' | 'export';
  /** The failure type (OpenstackResourceStuck, OpenstackRequestRejected, …). */
  type: string;
  error: string;
}

function failureOf(e: unknown, id: string, name: string | null, stage?: ResourceFailure['stage']): ResourceFailure {
  let cur: unknown = e;
  let type = 'Error';
  while (cur && typeof cur === 'object') {
    const t = (cur as { type?: unknown }).type;
    if (typeof t === 'string') type = t;
    cur = (cur as { cause?: unknown }).cause;
  }
  return { id, name, ...(stage ? { stage } : {}), type, error: causeOf(e) };
}

export interface BackupVolumesResult {
  cloud: string;
  takenAt: string;
  selected: number;
  concurrency: number;
  maxInFlight: number;
  /** Whether each snapshot also got a Cinder backup (volumes.cinderBackup). */
  cinderBackup: boolean;
  /** `backup` is set when the snapshot's Cinder backup completed (a failed one is in `failed`, stage backup). */
  snapshots: (SnapshotVolumeResult & { backup?: BackupSnapshotResult })[];
  /** Stuck ones are here too, with type OpenstackResourceStuck. */
  failed: ResourceFailure[];
}

/** `concurrency`, `stuckAfterSeconds` and `cinderBackup` override the cloud's config for this run. */
export async function backupVolumesWorkflow(input: {
  cloud: string;
  concurrency?: number;
  stuckAfterSeconds?: number;
  cinderBackup?: boolean;
}): Promise<BackupVolumesResult> {
  const info = workflowInfo();
  const takenAt = new Date(info.startTime).toISOString();
  const plan = await openstackPlanVolumes({ cloud: input.cloud });
  const concurrency = input.concurrency ?? plan.concurrency;
  const stuckAfterSeconds = input.stuckAfterSeconds ?? plan.stuckAfterSeconds;
  const cinderBackup = input.cinderBackup ?? plan.cinderBackup;
  const { openstackSnapshotVolume, openstackBackupSnapshot } = waiting(stuckAfterSeconds);
  const stats: FanoutStats = { maxInFlight: 0 };
  const failed: ResourceFailure[] = [];
  // the backup runs in the snapshot's slot: the bound is on volumes being worked on, whatever the step
  const done = await mapBounded(
    plan.volumes,
    concurrency,
    async (volume: VolumeRef) => {
      let snap: SnapshotVolumeResult;
      try {
        snap = await openstackSnapshotVolume({
          cloud: input.cloud,
          volume,
          runId: info.workflowId,
          takenAt,
          stuckAfterSeconds,
        });
      } catch (e) {
        failed.push(failureOf(e, volume.id, volume.name, 'snapshot'));
        return null;
      }
      if (!cinderBackup) return snap;
      try {
        return {
          ...snap,
          backup: await openstackBackupSnapshot({
            cloud: input.cloud,
            volume,
            snapshotId: snap.snapshotId,
            runId: info.workflowId,
            takenAt,
            stuckAfterSeconds,
          }),
        };
      } catch (e) {
        failed.push(failureOf(e, volume.id, volume.name, 'backup'));
        return snap;
      }
    },
    stats,
  );
  return {
    cloud: input.cloud,
    takenAt,
    selected: plan.volumes.length,
    concurrency,
    maxInFlight: stats.maxInFlight,
    cinderBackup,
    snapshots: done.filter((x): x is NonNullable<typeof x> => x !== null),
    failed,
  };
}

export interface ExportImagesResult {
  cloud: string;
  selected: number;
  exported: ExportImageResult[];
  skipped: ExportImageResult[];
  failed: ResourceFailure[];
}

export async function exportImagesWorkflow(input: { cloud: string; imageIds?: string[] }): Promise<ExportImagesResult> {
  const plan = await openstackPlanImages({ cloud: input.cloud });
  const images = input.imageIds ? plan.images.filter((i) => input.imageIds!.includes(i.id)) : plan.images;
  const failed: ResourceFailure[] = [];
  const res = await mapBounded(images, plan.concurrency, (img) =>
    openstackExportImage({ cloud: input.cloud, imageId: img.id, workflowId: workflowInfo().workflowId }).catch(
      (e: unknown) => {
        failed.push(failureOf(e, img.id, img.name));
        return null;
      },
    ),
  );
  const ok = res.filter((x): x is ExportImageResult => x !== null);
  return {
    cloud: input.cloud,
    selected: images.length,
    exported: ok.filter((x) => !x.skipped),
    skipped: ok.filter((x) => x.skipped),
    failed,
  };
}

export interface SnapshotInstancesResult {
  cloud: string;
  takenAt: string;
  selected: number;
  snapshots: (SnapshotServerResult & { export?: ExportImageResult })[];
  failed: ResourceFailure[];
}

export async function snapshotInstancesWorkflow(input: {
  cloud: string;
  serverIds?: string[];
  export?: boolean;
}): Promise<SnapshotInstancesResult> {
  const info = workflowInfo();
  const takenAt = new Date(info.startTime).toISOString();
  const plan = await openstackPlanInstances({ cloud: input.cloud });
  const servers = input.serverIds ? plan.servers.filter((s) => input.serverIds!.includes(s.id)) : plan.servers;
  const { openstackSnapshotServer } = waiting(plan.stuckAfterSeconds);
  const failed: ResourceFailure[] = [];
  const res = await mapBounded(servers, plan.concurrency, async (server) => {
    try {
      const snap = await openstackSnapshotServer({
        cloud: input.cloud,
        server,
        runId: info.workflowId,
        takenAt,
        stuckAfterSeconds: plan.stuckAfterSeconds,
      });
      if (!input.export) return snap;
      const exp = await openstackExportImage({
        cloud: input.cloud,
        imageId: snap.imageId,
        workflowId: info.workflowId,
        fromServer: { id: server.id, name: server.name },
      });
      return { ...snap, export: exp };
    } catch (e) {
      failed.push(failureOf(e, server.id, server.name));
      return null;
    }
  });
  return {
    cloud: input.cloud,
    takenAt,
    selected: servers.length,
    snapshots: res.filter((x): x is NonNullable<typeof x> => x !== null),
    failed,
  };
}

/** `--dry-run`: the selection a run would make and why; nothing is created. */
export async function cloudResourcesDryRunWorkflow(input: { cloud: string; kind: DryRunKind }): Promise<DryRunResult> {
  return openstackDryRun(input);
}
