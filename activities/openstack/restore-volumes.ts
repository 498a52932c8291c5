// Restoring Cinder volumes: a new volume from a snapshot, or a Cinder backup restored into a new
// volume. Every volume a restore creates carries its run's mark, so a retried attempt adopts
// it instead of creating a second one; one that ends in error is deleted and reported.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { fatal, FailureType } from '../errors.js';
import { heartbeater } from '../heartbeat.js';
import { cinder, VOLUME_MICROVERSION, volumeSchema, type Volume } from './api.js';
import type { OpenStackSession } from './session.js';
import { serviceDiagnosis } from './volumes.js';
import { type SnapshotCandidate } from '../../core/openstack/restore.js';
import { MARK_RESTORE_RUN, restoreMarks } from '../../core/openstack/image.js';

/** Marks a volume whose backup restore finished (so a retry does not restore it again). */
const MARK_RESTORED_BACKUP = 'osbackup_restored_backup';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RestoredVolume {
  volumeId: string;
  name: string;
  status: string;
  sizeGiB: number;
  /** True when a retried attempt found the volume this run had already created. */
  adopted: boolean;
  seconds: number;
}

/** Snapshots a restore can choose from: the one named (by id, or every one with that name), or every snapshot of a volume. */
export async function snapshotCandidates(
  s: OpenStackSession,
  q: { snapshot?: string; volumeId?: string },
): Promise<SnapshotCandidate[]> {
  let list = q.volumeId ? await cinder.listSnapshots(s, { allProjects: true, volumeId: q.volumeId }) : [];
  if (q.snapshot) {
    const one = /^[0-9a-f-]{36}$/i.test(q.snapshot) ? await cinder.getSnapshot(s, q.snapshot) : null;
    list = one ? [one] : (await cinder.listSnapshots(s, { allProjects: true })).filter((x) => x.name === q.snapshot);
  }
  return list.map((x) => ({
    id: x.id,
    name: x.name ?? null,
    volumeId: x.volume_id,
    status: x.status,
    createdAt: x.created_at,
    sizeGiB: x.size ?? null,
    metadata: x.metadata,
  }));
}

const createdVolume = z.object({ volume: volumeSchema });

async function adopt(s: OpenStackSession, runId: string): Promise<Volume | undefined> {
  return (await cinder.listVolumes(s, { allProjects: true, metadata: { [MARK_RESTORE_RUN]: runId } })).find(
    (v) => v.metadata[MARK_RESTORE_RUN] === runId,
  );
}

/** The volume this run already made (a retry), else a new one carrying the run's restore marks. */
async function adoptOrCreate(
  s: OpenStackSession,
  runId: string,
  from: string,
  volume: Record<string, unknown>,
): Promise<{ v: Volume; adopted: boolean }> {
  const found = await adopt(s, runId);
  if (found) return { v: found, adopted: true };
  const created = await s.json(createdVolume, 'volume', 'POST', '/volumes', {
    microversion: VOLUME_MICROVERSION,
    json: { volume: { ...volume, metadata: restoreMarks(runId, from) } },
  });
  return { v: created.volume, adopted: false };
}

async function waitVolume(
  s: OpenStackSession,
  v: Volume,
  what: string,
  started: number,
  stuckAfterSeconds: number,
  settled: string[],
  pollSeconds: number,
): Promise<Volume> {
  const beat = heartbeater(5000);
  for (;;) {
    beat({ volumeId: v.id, status: v.status });
    if (settled.includes(v.status)) return v;
    if (v.status === 'error' || v.status === 'error_restoring') {
      // a failed restore target is useless: delete it (a new attempt starts clean), report Cinder's view
      const diag = await serviceDiagnosis(s);
      await cinder.resetVolumeStatus(s, v.id, 'error').catch(() => undefined);
      await s
        .request('volume', 'DELETE', `/volumes/${v.id}`, { microversion: VOLUME_MICROVERSION, accept: [404, 400] })
        .catch(() => undefined);
      throw fatal(
        FailureType.OpenstackResourceError,
        `volume ${v.id} (${what}) went to ${v.status}; it was deleted`,
        `look at cinder-volume's and cinder-backup's logs for volume ${v.id}; ${diag}`,
      );
    }
    if (Date.now() - started > stuckAfterSeconds * 1000) {
      const diag = await serviceDiagnosis(s);
      throw ApplicationFailure.create({
        type: FailureType.OpenstackResourceStuck,
        nonRetryable: true,
        message: `volume ${v.id} (${what}) is still ${v.status} after ${Math.round((Date.now() - started) / 1000)} s (limit ${stuckAfterSeconds} s); ${diag}. Fix: look at the backend's free space and cinder-volume's log; the volume was left for inspection (delete it with \`openstack volume delete ${v.id}\` before running the restore again)`,
        details: [{ volumeId: v.id, status: v.status, diagnosis: diag }],
      });
    }
    await sleep(pollSeconds * 1000);
    v = await cinder.getVolume(s, v.id);
  }
}

const startedAt = (v: Volume & { created_at?: string }, now: number) => {
  const c = (v as { created_at?: string }).created_at;
  const t = c ? Date.parse(/[zZ]$|[+-]\d\d:?\d\d$/.test(c) ? c : `${c}Z`) : NaN;
  return Number.isFinite(t) ? Math.min(t, now) : now;
};

export interface VolumeFromSnapshotInput {
  cloud: string;
  snapshot: SnapshotCandidate;
  name: string;
  runId: string;
  stuckAfterSeconds: number;
  pollSeconds?: number;
}

export async function volumeFromSnapshot(s: OpenStackSession, input: VolumeFromSnapshotInput): Promise<RestoredVolume> {
  const t0 = Date.now();
  const snap = input.snapshot;
  const made = await adoptOrCreate(s, input.runId, `snapshot:${snap.id}`, {
    snapshot_id: snap.id,
    size: snap.sizeGiB ?? undefined,
    name: input.name,
    description: `Restored by osbackup from snapshot ${snap.id} of volume ${snap.volumeId}`,
  });
  let v = made.v;
  const adopted = made.adopted;
  v = await waitVolume(
    s,
    v,
    `from snapshot ${snap.id}`,
    startedAt(v, t0),
    input.stuckAfterSeconds,
    ['available'],
    input.pollSeconds ?? 2,
  );
  return {
    volumeId: v.id,
    name: v.name ?? input.name,
    status: v.status,
    sizeGiB: v.size,
    adopted,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

export interface VolumeFromBackupInput {
  cloud: string;
  backupId: string;
  name: string;
  runId: string;
  stuckAfterSeconds: number;
  pollSeconds?: number;
}

const backupDetail = z.object({
  backup: z.object({
    id: z.string(),
    status: z.string(),
    size: z.number(),
    volume_id: z.string(),
    fail_reason: z.string().nullish(),
  }),
});

/**
 * Cinder's backup restore into a volume osbackup created (marked) for it: the mark makes the
 * target findable by a retry, which Cinder's own "restore into a new volume" would not be.
 * Restoring the same backup into the same volume twice gives the same bytes, so a retry that
 * cannot tell whether the restore ran simply runs it again.
 */
export async function volumeFromBackup(
  s: OpenStackSession,
  input: VolumeFromBackupInput,
): Promise<RestoredVolume & { backupId: string; sourceVolumeId: string }> {
  const t0 = Date.now();
  const poll = input.pollSeconds ?? 2;
  const res = await s.request('volume', 'GET', `/backups/${input.backupId}`, {
    microversion: VOLUME_MICROVERSION,
    accept: [404],
  });
  if (res.status === 404)
    throw fatal(
      FailureType.OpenstackNotFound,
      `Cinder has no backup ${input.backupId}`,
      'list them with `openstack volume backup list --all-projects`',
    );
  const b = backupDetail.parse(await res.json()).backup;
  if (b.status !== 'available')
    throw fatal(
      FailureType.OpenstackRequestRejected,
      `backup ${b.id} is ${b.status}, not available${b.fail_reason ? ` (${b.fail_reason})` : ''}`,
      'wait for it, or restore another backup',
    );
  const made = await adoptOrCreate(s, input.runId, `backup:${b.id}`, {
    size: b.size,
    name: input.name,
    description: `Restored by osbackup from backup ${b.id} of volume ${b.volume_id}`,
  });
  let v = made.v;
  const adopted = made.adopted;
  const what = `restore of backup ${b.id}`;
  v = await waitVolume(s, v, what, startedAt(v, t0), input.stuckAfterSeconds, ['available'], poll);
  if (v.metadata[MARK_RESTORED_BACKUP] !== b.id) {
    await s.request('volume', 'POST', `/backups/${b.id}/restore`, {
      microversion: VOLUME_MICROVERSION,
      json: { restore: { volume_id: v.id } },
    });
    // Cinder flips the volume to restoring-backup before answering; wait for it to settle again
    const restoreStart = Date.now();
    v = await cinder.getVolume(s, v.id);
    v = await waitVolume(s, v, what, restoreStart, input.stuckAfterSeconds, ['available'], poll);
    // the backup brings the source volume's metadata and name along: keep ours, then record the restore
    await s.request('volume', 'PUT', `/volumes/${v.id}`, {
      microversion: VOLUME_MICROVERSION,
      json: { volume: { name: input.name } },
    });
    await s.request('volume', 'POST', `/volumes/${v.id}/metadata`, {
      microversion: VOLUME_MICROVERSION,
      json: { metadata: { ...restoreMarks(input.runId, `backup:${b.id}`), [MARK_RESTORED_BACKUP]: b.id } },
    });
    v = await cinder.getVolume(s, v.id);
  }
  return {
    volumeId: v.id,
    name: v.name ?? input.name,
    status: v.status,
    sizeGiB: v.size,
    adopted,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    backupId: b.id,
    sourceVolumeId: b.volume_id,
  };
}
