// The restore side of cloud resources: a volume from a snapshot or a Cinder backup, an image
// re-imported from an export, a server booted from an instance snapshot. These are the steps
// the DR rebuild calls. Every resource a restore creates carries its run's mark (the workflow
// id), so a retried activity adopts what its run created instead of creating it twice.
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RestoredVolume } from '../activities/openstack/restore-volumes.js';
import type { ImageFromExportResult } from '../activities/openstack/restore-images.js';
import type { RestoredServer } from '../activities/openstack/restore-servers.js';
import { chooseFlavor, chooseSnapshot, serverNetworks, type SnapshotCandidate } from '../core/openstack/restore.js';
import { longStream, shortCall, stuckAwareWait, shortActivities, dataBoundActivities } from './options.js';

const { openstackSnapshotCandidates, openstackReadImageExport, openstackServerPlan } = shortActivities(shortCall);
const { openstackImageFromExport } = dataBoundActivities(longStream);

/** Waits of unknown length (options.ts stuckAwareWait). */
function waiting(stuckAfterSeconds: number) {
  return dataBoundActivities(stuckAwareWait(stuckAfterSeconds));
}

const DEFAULT_STUCK_SECONDS = 1800;

export interface RestoreVolumeInput {
  cloud: string;
  /** A snapshot by id or name… */
  snapshot?: string;
  /** …or the newest of osbackup's snapshots of this volume taken at or before `at` (ISO)… */
  volumeId?: string;
  at?: string;
  /** …or a Cinder backup, restored through the backup restore API. */
  backupId?: string;
  /** Name of the new volume (default: restored-<source>-<yyyymmdd>). */
  name?: string;
  stuckAfterSeconds?: number;
}

export interface RestoreVolumeResult extends RestoredVolume {
  cloud: string;
  from:
    | { kind: 'snapshot'; snapshotId: string; sourceVolumeId: string; takenAt: string }
    | { kind: 'backup'; backupId: string; sourceVolumeId: string };
}

const day = (iso: string) => iso.slice(0, 10).replace(/-/g, '');

export async function restoreVolumeWorkflow(input: RestoreVolumeInput): Promise<RestoreVolumeResult> {
  const info = workflowInfo();
  const chosen = [input.snapshot, input.volumeId, input.backupId].filter((x) => x !== undefined).length;
  if (chosen !== 1)
    throw ApplicationFailure.nonRetryable(
      'name exactly one of: a snapshot, a source volume (with an optional date), a Cinder backup. Fix: pass one of --snapshot, --volume [--at], --backup',
      'ConfigInvalid',
    );
  const stuck = input.stuckAfterSeconds ?? DEFAULT_STUCK_SECONDS;
  const { openstackVolumeFromSnapshot, openstackVolumeFromBackup } = waiting(stuck);
  const today = day(new Date(info.startTime).toISOString());
  if (input.backupId) {
    const r = await openstackVolumeFromBackup({
      cloud: input.cloud,
      backupId: input.backupId,
      name: input.name ?? `restored-backup-${input.backupId.slice(0, 8)}-${today}`,
      runId: info.workflowId,
      stuckAfterSeconds: stuck,
    });
    const { backupId, sourceVolumeId, ...volume } = r;
    return { cloud: input.cloud, ...volume, from: { kind: 'backup', backupId, sourceVolumeId } };
  }
  const candidates: SnapshotCandidate[] = await openstackSnapshotCandidates({
    cloud: input.cloud,
    snapshot: input.snapshot,
    volumeId: input.volumeId,
  });
  const choice = chooseSnapshot(
    candidates,
    input.snapshot !== undefined ? { snapshot: input.snapshot } : { volumeId: input.volumeId!, at: input.at },
    input.cloud,
  );
  if (!choice.ok) throw ApplicationFailure.nonRetryable(`${choice.reason}. Fix: ${choice.fix}`, 'OpenstackNotFound');
  const snap = choice.snapshot;
  const r = await openstackVolumeFromSnapshot({
    cloud: input.cloud,
    snapshot: snap,
    name: input.name ?? `restored-${snap.volumeId.slice(0, 8)}-${today}`,
    runId: info.workflowId,
    stuckAfterSeconds: stuck,
  });
  return {
    cloud: input.cloud,
    ...r,
    from: {
      kind: 'snapshot',
      snapshotId: snap.id,
      sourceVolumeId: snap.volumeId,
      takenAt: snap.metadata.osbackup_taken_at ?? snap.createdAt,
    },
  };
}

export interface RestoreImageInput {
  cloud: string;
  /** The export (the exported image's id). */
  exportId: string;
  /** Default: the recorded name. */
  name?: string;
  /** Default: the recorded visibility. */
  visibility?: string;
}

export async function restoreImageWorkflow(
  input: RestoreImageInput,
): Promise<ImageFromExportResult & { cloud: string }> {
  const r = await openstackImageFromExport({
    cloud: input.cloud,
    exportId: input.exportId,
    name: input.name,
    visibility: input.visibility,
    runId: workflowInfo().workflowId,
  });
  return { cloud: input.cloud, ...r };
}

export interface RestoreServerInput {
  cloud: string;
  /** An instance snapshot (or any active image) in Glance… */
  imageId?: string;
  /** …or an image export in the repository, re-imported first. */
  exportId?: string;
  flavor?: string;
  /** Network ids, or ["none"] / ["auto"] (the default). */
  networks?: string[];
  name?: string;
  stuckAfterSeconds?: number;
}

export interface RestoreServerResult extends RestoredServer {
  cloud: string;
  /** The flavor's name (chosen or named). */
  flavor: string;
  /** Set when the image was re-imported from an export first. */
  reimported: ImageFromExportResult | null;
}

export async function restoreServerWorkflow(input: RestoreServerInput): Promise<RestoreServerResult> {
  const info = workflowInfo();
  if ((input.imageId === undefined) === (input.exportId === undefined))
    throw ApplicationFailure.nonRetryable(
      'name exactly one of: an image (instance snapshot) in Glance, an image export. Fix: pass --snapshot <image id> or --export <export id>',
      'ConfigInvalid',
    );
  const stuck = input.stuckAfterSeconds ?? DEFAULT_STUCK_SECONDS;
  let reimported: ImageFromExportResult | null = null;
  let imageId = input.imageId;
  let serverName = input.name;
  if (input.exportId) {
    const exp = await openstackReadImageExport({ cloud: input.cloud, exportId: input.exportId });
    reimported = await openstackImageFromExport({
      cloud: input.cloud,
      exportId: input.exportId,
      runId: info.workflowId,
    });
    imageId = reimported.imageId;
    serverName ??= exp.fromServer ? `${exp.fromServer.name}-restored` : undefined;
  }
  const plan = await openstackServerPlan({ cloud: input.cloud, imageId: imageId! });
  const flavor = chooseFlavor(plan.flavors, input.flavor, plan.image);
  if (!flavor.ok)
    throw ApplicationFailure.nonRetryable(`${flavor.reason}. Fix: ${flavor.fix}`, 'OpenstackRequestRejected');
  const { openstackServerFromImage } = waiting(stuck);
  const r = await openstackServerFromImage({
    cloud: input.cloud,
    imageId: imageId!,
    flavorId: flavor.flavor.id,
    name: serverName ?? `restored-${plan.image.name ?? imageId!.slice(0, 8)}`,
    networks: serverNetworks(input.networks),
    runId: info.workflowId,
    stuckAfterSeconds: stuck,
  });
  return { cloud: input.cloud, ...r, flavor: flavor.flavor.name, reimported };
}
