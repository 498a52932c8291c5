// What a DR drill (or a DR rebuild) leaves in the repository: one JSON record per run plus a
// Markdown report beside it. `osbackup status`, the worker's /metrics and `osbackup report` all
// read these records from the repository, so a lost worker or catalog index loses nothing.
// Pure: imported by workflows, activities and the client.

export const DRILL_FORMAT = 1;
export const DRILL_RECORD_FILE = 'drill.json';
export const DRILL_REPORT_FILE = 'REPORT.md';

/** `drill` rehearses recovery on isolated hosts; `rebuild` is a real recovery of the cloud. */
export type DrillKind = 'drill' | 'rebuild';

export interface DrillStep {
  /** Stable step name ("restore-database", "deploy-mariadb", …). */
  name: string;
  startedAt: string;
  completedAt: string;
  seconds: number;
  result: 'ok' | 'failed' | 'skipped';
  /** One line for the report: what the step did or why it failed / was skipped. */
  detail?: string;
}

export interface DrillCheck {
  /** e.g. "SELECT COUNT(*) FROM keystone.project" or "CHECKSUM TABLE nova.instances". */
  name: string;
  ok: boolean;
  expected?: string;
  actual?: string;
}

export interface DrillRecord {
  formatVersion: typeof DRILL_FORMAT;
  kind: DrillKind;
  id: string;
  cloud: string;
  workflowId: string;
  startedAt: string;
  completedAt: string;
  /** The restore point used: the database artifact (and the PITR target when there was one). */
  restorePoint: {
    id: string;
    component: string;
    completedAt: string;
    verification: string;
    pitrTarget?: string | null;
  };
  steps: DrillStep[];
  /** Wall time from the start of the first step to the end of the last, in seconds. */
  rtoSeconds: number;
  /** Data the recovery lost: the drill's notion of "now" minus the newest instant the restore point holds. */
  rpoSeconds: number | null;
  targets: { rtoSeconds: number | null; rpoSeconds: number | null };
  checks: DrillCheck[];
  /** 'failed' when a step or a check failed, or a target was breached (see breaches). */
  result: 'passed' | 'failed';
  /** Human sentences, one per breached target or failed check. Empty when passed. */
  breaches: string[];
}

export const drillsPrefix = (cloud: string) => `clouds/${cloud}/drills/`;
export const drillDir = (cloud: string, id: string) => `${drillsPrefix(cloud)}${id}`;
export const drillRecordKey = (cloud: string, id: string) => `${drillDir(cloud, id)}/${DRILL_RECORD_FILE}`;
export const drillReportKey = (cloud: string, id: string) => `${drillDir(cloud, id)}/${DRILL_REPORT_FILE}`;

/** The breaches of a finished run against its targets (RTO and RPO), as sentences. */
export function targetBreaches(r: Pick<DrillRecord, 'rtoSeconds' | 'rpoSeconds' | 'targets'>): string[] {
  const out: string[] = [];
  if (r.targets.rtoSeconds !== null && r.rtoSeconds > r.targets.rtoSeconds)
    out.push(`RTO ${r.rtoSeconds.toFixed(1)} s exceeds the target ${r.targets.rtoSeconds} s`);
  if (r.targets.rpoSeconds !== null && r.rpoSeconds !== null && r.rpoSeconds > r.targets.rpoSeconds)
    out.push(`RPO ${r.rpoSeconds.toFixed(1)} s exceeds the target ${r.targets.rpoSeconds} s`);
  return out;
}

/** Parses a stored record; null for anything that is not a drill record of this format (torn writes included). */
export function parseDrillRecord(text: string): DrillRecord | null {
  try {
    const r = JSON.parse(text) as Partial<DrillRecord>;
    if (
      r.formatVersion !== DRILL_FORMAT ||
      typeof r.id !== 'string' ||
      typeof r.cloud !== 'string' ||
      !Array.isArray(r.steps) ||
      typeof r.rtoSeconds !== 'number'
    )
      return null;
    return r as DrillRecord;
  } catch {
    return null;
  }
}

/** Newest first (by completion). */
export function newestFirst(records: DrillRecord[]): DrillRecord[] {
  return [...records].sort((a, b) => b.completedAt.localeCompare(a.completedAt));
}
