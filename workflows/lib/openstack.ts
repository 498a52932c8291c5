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
