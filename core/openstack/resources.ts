// What osbackup writes on the cloud side, and how it recognises its own resources again.
// Pure: used by workflows (names, marks) and by activities (filters, retention).

/** Metadata keys on every snapshot/backup/image osbackup creates; retention touches only those carrying MARK. */
export const MARK = 'osbackup';
export const MARK_RUN = 'osbackup_run';
export const MARK_CLOUD = 'osbackup_cloud';
export const MARK_TAKEN = 'osbackup_taken_at';

export function marks(cloud: string, runId: string, takenAt: string): Record<string, string> {
  return { [MARK]: 'true', [MARK_RUN]: runId, [MARK_CLOUD]: cloud, [MARK_TAKEN]: takenAt };
}

export function isOurs(metadata: Record<string, string> | undefined, cloud: string): boolean {
  return metadata?.[MARK] === 'true' && metadata[MARK_CLOUD] === cloud;
}

/** YYYYMMDD in UTC, as the seed's `date +%Y%m%d`. */
export function seedDate(iso: string): string {
  return iso.slice(0, 10).replace(/-/g, '');
}

/** The seed's snapshot name and description: `backup_<volume id>_<YYYYMMDD>`, "Scheduled backup <YYYYMMDD>". */
export function snapshotName(volumeId: string, takenAt: string): { name: string; description: string } {
  const d = seedDate(takenAt);
  return { name: `backup_${volumeId}_${d}`, description: `Scheduled backup ${d} (osbackup)` };
}

/** The seed's instance snapshot name, made unique per server: `backup_<server>_<YYYYMMDD>`. */
export function serverImageName(serverName: string, takenAt: string): string {
  return `backup_${serverName}_${seedDate(takenAt)}`;
}

/** The seed's troubleshooting table for a snapshot stuck in `creating`, as hints to print. */
export const STUCK_SNAPSHOT_HINTS = [
  'Cinder backend issue: check the backend (LVM: `vgs`/`lvs` for a full VG or snapshot overflow >100%; NFS/Ceph: free space) and extend or free it',
  'LVM snapshot overflow: delete the overflowing snapshot, increase the snapshot reserve',
  'iSCSI target locked: look for stale sessions (`iscsiadm -m session`, `targetcli ls`), clear them, restart the target service',
  'cinder-volume service down or disabled: `openstack volume service list`; enable it (`openstack volume service set --enable <host> cinder-volume`) or restart it',
];

/** A snapshot, backup or image in the cloud, as the cloud-side retention planner sees it. */
export interface CloudResource {
  kind: 'volume-snapshot' | 'volume-backup' | 'image';
  id: string;
  /** What it is a copy of (volume id, server id, image name): "keep the last N" counts per source. */
  source: string;
  createdAt: string;
  metadata: Record<string, string> | undefined;
}

export interface CloudRetentionPolicy {
  /** Newest copies kept per source, whatever their age. */
  keepLast: number;
  /** Copies younger than this are kept. */
  keepWithinMs: number;
}

export interface CloudRetentionPlan {
  remove: { kind: CloudResource['kind']; id: string; source: string; reason: string }[];
  keep: { kind: CloudResource['kind']; id: string; source: string; reason: string }[];
  /** Counted, never touched: not marked as osbackup's for this cloud. */
  foreign: number;
}

/**
 * Which of osbackup's own cloud-side copies expire. Only resources carrying this cloud's mark
 * are ever candidates; anything else (an operator's snapshot, another cloud's) is left alone.
 * Pure: the same plan is shown by a dry run and carried out by the real one.
 */
export function planCloudRetention(
  resources: readonly CloudResource[],
  cloud: string,
  policy: CloudRetentionPolicy,
  now: Date,
): CloudRetentionPlan {
  const plan: CloudRetentionPlan = { remove: [], keep: [], foreign: 0 };
  const groups = new Map<string, CloudResource[]>();
  for (const r of resources) {
    if (!isOurs(r.metadata, cloud)) {
      plan.foreign++;
      continue;
    }
    const k = `${r.kind}\u0000${r.source}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const list of groups.values()) {
    const newestFirst = [...list].sort(
      (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id.localeCompare(a.id),
    );
    // The clouds stamp created_at to the second: copies made in the same second as the last of
    // the N newest cannot be ordered, so none of them is the one to delete.
    const boundary = policy.keepLast > 0 ? newestFirst[Math.min(policy.keepLast, newestFirst.length) - 1] : undefined;
    newestFirst.forEach((r, i) => {
      const age = now.getTime() - Date.parse(r.createdAt);
      const entry = { kind: r.kind, id: r.id, source: r.source };
      if (i < policy.keepLast)
        plan.keep.push({ ...entry, reason: `one of the ${policy.keepLast} newest of ${r.source}` });
      else if (boundary && Date.parse(r.createdAt) === Date.parse(boundary.createdAt))
        plan.keep.push({
          ...entry,
          reason: `created in the same second as one of the ${policy.keepLast} newest of ${r.source}: which is newer cannot be told`,
        });
      else if (!(age > policy.keepWithinMs)) plan.keep.push({ ...entry, reason: 'within the keep window' });
      else
        plan.remove.push({
          ...entry,
          reason: `older than the keep window and not among the ${policy.keepLast} newest`,
        });
    });
  }
  return plan;
}

export interface ImageExportRetention {
  remove: { id: string; reason: string }[];
  keep: { id: string; reason: string }[];
  /** Image id → when rotate first saw it gone from Glance (carried from run to run). */
  goneSince: Record<string, string>;
}

/**
 * Image exports in the repository are kept while their image is in Glance, and for `days` after
 * rotate first finds it gone (Glance keeps no record of a deletion's time). An image that comes
 * back (the same id re-imported) starts over. Pure.
 */
export function planImageExportRetention(
  exportIds: readonly string[],
  inGlance: ReadonlySet<string>,
  goneSince: Readonly<Record<string, string>>,
  days: number,
  now: Date,
): ImageExportRetention {
  const out: ImageExportRetention = { remove: [], keep: [], goneSince: {} };
  for (const id of exportIds) {
    if (inGlance.has(id)) {
      out.keep.push({ id, reason: 'the image is in Glance' });
      continue;
    }
    const since = goneSince[id] ?? now.toISOString();
    const ageDays = (now.getTime() - Date.parse(since)) / 86_400_000;
    if (ageDays > days) {
      out.remove.push({ id, reason: `the image is gone from Glance since ${since} (more than ${days} days)` });
    } else {
      out.goneSince[id] = since;
      out.keep.push({ id, reason: `the image is gone from Glance since ${since}: kept ${days} days after` });
    }
  }
  return out;
}
