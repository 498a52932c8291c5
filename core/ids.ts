// Business-key identifiers. Pure: time is passed in, never read here.

/** 2026-11-29T21:40:51.123Z → 20261129T214051Z */
export function compactUtc(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** backup-db:<cloud>:<yyyymmdd-hhmmss> — seconds keep two manual runs in one minute apart. */
export function backupDbWorkflowId(cloud: string, at: Date): string {
  const c = compactUtc(at);
  return `backup-db:${cloud}:${c.slice(0, 8)}-${c.slice(9, 15)}`;
}

export function restoreDbWorkflowId(cloud: string, targetHost: string, at: Date): string {
  const c = compactUtc(at);
  return `restore-db:${cloud}:${targetHost}:${c.slice(0, 8)}-${c.slice(9, 15)}`;
}

/** Artifact ids sort by time within a cloud: db-full-20261129T214051Z */
export function databaseBackupId(kind: 'full' | 'incremental', at: Date): string {
  return `db-${kind}-${compactUtc(at)}`;
}

/** cp-20261129T214051Z (a safety copy before a restore: cp-pre-restore-…) */
export function controlPlaneBackupId(at: Date, reason: 'backup' | 'pre-restore' = 'backup'): string {
  return `cp-${reason === 'pre-restore' ? 'pre-restore-' : ''}${compactUtc(at)}`;
}

/** <what>:<cloud>:<yyyymmdd-hhmmss>, for the other runbooks (backup-cp, restore-keys, …). */
export function runWorkflowId(what: string, cloud: string, at: Date, ...extra: string[]): string {
  const c = compactUtc(at);
  return [what, cloud, ...extra, `${c.slice(0, 8)}-${c.slice(9, 15)}`].join(':');
}
