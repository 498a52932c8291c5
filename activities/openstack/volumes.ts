// Cinder volume snapshots: select, snapshot one volume and wait for it (heartbeating), report
// one that stays `creating` with the seed's hints and what the cloud says about its volume
// services, clean one that ends in `error`.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { fatal, FailureType } from '../errors.js';
import { inActivity } from '../heartbeat.js';
import { cinder, type Snapshot } from './api.js';
import type { OpenStackSession } from './session.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import { MARK_RUN, marks, snapshotName, STUCK_SNAPSHOT_HINTS } from '../../core/openstack/resources.js';

export interface VolumeRef {
  id: string;
  name: string | null;
  status: string;
  /** Attached volumes need `force` (Cinder refuses otherwise before 3.66). */
  attached: boolean;
  projectId: string | null;
  sizeGiB: number;
}

export async function listVolumes(s: OpenStackSession, cfg: OpenstackCloudConfig): Promise<VolumeRef[]> {
  const v = cfg.volumes;
  const seen = new Map<string, VolumeRef>();
  for (const status of v.statuses) {
    for (const x of await cinder.listVolumes(s, {
      allProjects: true,
      projectId: v.projectId,
      status,
      metadata: v.metadata,
    })) {
      seen.set(x.id, {
        id: x.id,
        name: x.name ?? null,
        status: x.status,
        attached: x.attachments.length > 0,
        projectId: x['os-vol-tenant-attr:tenant_id'] ?? null,
        sizeGiB: x.size,
      });
    }
  }
  return [...seen.values()];
}

export interface SnapshotVolumeInput {
  cloud: string;
  volume: VolumeRef;
  runId: string;
  /** The run's start (ISO): names and marks, the same on every retry. */
  takenAt: string;
  stuckAfterSeconds: number;
  pollSeconds?: number;
}

export interface SnapshotVolumeResult {
  volumeId: string;
  snapshotId: string;
  name: string;
  /** When the activity asked Cinder and when it saw `available` (ms since epoch): the fan-out's bound can be checked from them. */
  requestedAt: number;
  availableAt: number;
  /** True when a retried attempt found the snapshot this run had already created. */
  reused: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the cloud says about its volume services, for the stuck report (best effort). */
export async function serviceDiagnosis(s: OpenStackSession): Promise<string> {
  try {
    const svc = (await cinder.volumeServices(s)).filter((x) => x.binary === 'cinder-volume');
    const bad = svc.filter((x) => x.state !== 'up' || x.status !== 'enabled');
    if (svc.length === 0) return 'the cloud lists no cinder-volume service';
    if (bad.length === 0)
      return `every cinder-volume service is up and enabled (${svc.map((x) => x.host).join(', ')}): look at the backend`;
    return `cinder-volume ${bad.map((x) => `${x.host} is ${x.state}/${x.status}${x.disabled_reason ? ` (${x.disabled_reason})` : ''}`).join('; ')}`;
  } catch (e) {
    return `the volume service list could not be read (${(e as Error).message})`;
  }
}

export async function snapshotVolume(s: OpenStackSession, input: SnapshotVolumeInput): Promise<SnapshotVolumeResult> {
  const { volume, runId } = input;
  const ctx = inActivity() ? Context.current() : undefined;
  const { name, description } = snapshotName(volume.id, input.takenAt);
  const requestedAt = Date.now();
  // a retried attempt adopts the snapshot its predecessor created instead of making a second one
  let snap: Snapshot | null =
    (await cinder.listSnapshots(s, { allProjects: true, volumeId: volume.id, metadata: { [MARK_RUN]: runId } })).find(
      (x) => x.metadata[MARK_RUN] === runId,
    ) ?? null;
  const reused = snap !== null;
  if (!snap) {
    snap = await cinder.createSnapshot(s, {
      volumeId: volume.id,
      name,
      description,
      force: volume.attached,
      metadata: marks(input.cloud, runId, input.takenAt),
    });
  }
  const id = snap.id;
  // the stuck clock starts when Cinder accepted the snapshot (a retry keeps the original start)
  const created = Date.parse(
    snap.created_at.endsWith('Z') || /[+-]\d\d:?\d\d$/.test(snap.created_at) ? snap.created_at : `${snap.created_at}Z`,
  );
  const started = Number.isFinite(created) ? Math.min(created, requestedAt) : requestedAt;
  for (;;) {
    ctx?.heartbeat({ snapshotId: id, status: snap.status });
    if (snap.status === 'available')
      return { volumeId: volume.id, snapshotId: id, name, requestedAt, availableAt: Date.now(), reused };
    if (snap.status === 'error') {
      // an error snapshot is useless and blocks nothing once gone: clean it, report it
      await cinder.deleteSnapshot(s, id).catch(() => undefined);
      throw fatal(
        FailureType.OpenstackResourceError,
        `snapshot ${id} of volume ${volume.id}${volume.name ? ` (${volume.name})` : ''} went to error; it was deleted`,
        `look at cinder-volume's log for snapshot ${id}; ${await serviceDiagnosis(s)}`,
      );
    }
    if (Date.now() - started > input.stuckAfterSeconds * 1000) {
      const diag = await serviceDiagnosis(s);
      throw ApplicationFailure.create({
        type: FailureType.OpenstackResourceStuck,
        nonRetryable: true,
        message: `snapshot ${id} of volume ${volume.id}${volume.name ? ` (${volume.name})` : ''} is still ${snap.status} after ${Math.round((Date.now() - started) / 1000)} s (limit ${input.stuckAfterSeconds} s); ${diag}. Fix: ${STUCK_SNAPSHOT_HINTS.join(' | ')}`,
        details: [
          { snapshotId: id, volumeId: volume.id, status: snap.status, diagnosis: diag, hints: STUCK_SNAPSHOT_HINTS },
        ],
      });
    }
    await sleep((input.pollSeconds ?? 2) * 1000);
    const next = await cinder.getSnapshot(s, id);
    if (!next)
      throw fatal(
        FailureType.OpenstackNotFound,
        `snapshot ${id} of volume ${volume.id} vanished while osbackup waited for it`,
        'someone deleted it; the next run takes a new one',
      );
    snap = next;
  }
}

export interface BackupSnapshotInput {
  cloud: string;
  volume: VolumeRef;
  snapshotId: string;
  runId: string;
  takenAt: string;
  stuckAfterSeconds: number;
  pollSeconds?: number;
}

export interface BackupSnapshotResult {
  backupId: string;
  name: string;
  /** Bytes Cinder reports for the backup (GiB × 2^30, as Cinder counts size). */
  sizeGiB: number | null;
  requestedAt: number;
  availableAt: number;
  reused: boolean;
}

/** What the cloud says about its backup services, for the stuck/error report (best effort). */
async function backupServiceDiagnosis(s: OpenStackSession): Promise<string> {
  try {
    const svc = (await cinder.volumeServices(s)).filter((x) => x.binary === 'cinder-backup');
    const bad = svc.filter((x) => x.state !== 'up' || x.status !== 'enabled');
    if (svc.length === 0)
      return 'the cloud lists no cinder-backup service: Cinder backups need one (or set volumes.cinderBackup: false)';
    if (bad.length === 0)
      return `every cinder-backup service is up and enabled (${svc.map((x) => x.host).join(', ')}): look at the backup backend (space, reachability)`;
    return `cinder-backup ${bad.map((x) => `${x.host} is ${x.state}/${x.status}${x.disabled_reason ? ` (${x.disabled_reason})` : ''}`).join('; ')}`;
  } catch (e) {
    return `the volume service list could not be read (${(e as Error).message})`;
  }
}

/**
 * A full Cinder backup of a snapshot osbackup just took (the volume itself stays in use), marked
 * like the snapshot, waited for with the same stuck/error handling. Full, never incremental:
 * each backup stands alone, so retention may delete any one of them (Cinder refuses to delete
 * a backup that incrementals depend on).
 */
export async function backupSnapshot(s: OpenStackSession, input: BackupSnapshotInput): Promise<BackupSnapshotResult> {
  const { volume, runId } = input;
  const ctx = inActivity() ? Context.current() : undefined;
  const { name, description } = snapshotName(volume.id, input.takenAt);
  const requestedAt = Date.now();
  const mine = (await cinder.listBackups(s, { volumeId: volume.id, allProjects: true })).find(
    (b) => b.metadata[MARK_RUN] === runId && b.snapshot_id === input.snapshotId,
  );
  const reused = mine !== undefined;
  const id =
    mine?.id ??
    (await cinder.createBackup(s, {
      volumeId: volume.id,
      snapshotId: input.snapshotId,
      name,
      description,
      incremental: false,
      force: volume.attached,
      metadata: marks(input.cloud, runId, input.takenAt),
    }));
  let b = mine ?? (await cinder.getBackup(s, id));
  const created = b?.created_at
    ? Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(b.created_at) ? b.created_at : `${b.created_at}Z`)
    : NaN;
  const started = Number.isFinite(created) ? Math.min(created, requestedAt) : requestedAt;
  for (;;) {
    if (!b)
      throw fatal(
        FailureType.OpenstackNotFound,
        `backup ${id} of snapshot ${input.snapshotId} (volume ${volume.id}) vanished while osbackup waited for it`,
        'someone deleted it; the next run takes a new one',
      );
    ctx?.heartbeat({ backupId: id, status: b.status });
    if (b.status === 'available')
      return { backupId: id, name, sizeGiB: b.size ?? null, requestedAt, availableAt: Date.now(), reused };
    if (b.status === 'error') {
      const why = b.fail_reason ?? 'no fail_reason given';
      await cinder.deleteBackup(s, id).catch(() => undefined);
      throw fatal(
        FailureType.OpenstackResourceError,
        `backup ${id} of snapshot ${input.snapshotId} (volume ${volume.id}${volume.name ? `, ${volume.name}` : ''}) went to error: ${why}; it was deleted (the snapshot is kept)`,
        `look at cinder-backup's log for backup ${id}; ${await backupServiceDiagnosis(s)}`,
      );
    }
    if (Date.now() - started > input.stuckAfterSeconds * 1000) {
      const diag = await backupServiceDiagnosis(s);
      throw ApplicationFailure.create({
        type: FailureType.OpenstackResourceStuck,
        nonRetryable: true,
        message: `backup ${id} of snapshot ${input.snapshotId} (volume ${volume.id}) is still ${b.status} after ${Math.round((Date.now() - started) / 1000)} s (limit ${input.stuckAfterSeconds} s); ${diag}. Fix: check cinder-backup's log and its backend; reset it (\`openstack volume backup set --state error ${id}\`) and delete it, the snapshot is kept`,
        details: [
          { backupId: id, snapshotId: input.snapshotId, volumeId: volume.id, status: b.status, diagnosis: diag },
        ],
      });
    }
    await sleep((input.pollSeconds ?? 2) * 1000);
    b = await cinder.getBackup(s, id);
  }
}
