// The run journal: how each scheduled tier run of a cloud ended, kept in the repository
// (clouds/<cloud>/.runs/<tier>.json) so the failure counter of /metrics survives worker
// restarts and counts runs *whatever killed them* — Velero's known bug is failed scheduled
// backups that never show in its metrics. Two writers feed it:
//   - the tier workflow itself, on failure or cancellation, from a non-cancellable scope;
//   - the metrics collector, for runs no workflow code saw end (execution timeout,
//     termination, a workflow task that kept failing): it lists closed tier executions in
//     Temporal and adds the ones the journal lacks.
// Entries are keyed by run id, so both writers (and retries) may report one run: it counts once.
// Pure: imported by the workflow (the key), activities and the worker.

export const RUN_JOURNAL_FORMAT = 1;

export type RunEndStatus = 'Failed' | 'TimedOut' | 'Terminated' | 'Canceled';
export const FAILED_STATUSES: readonly RunEndStatus[] = ['Failed', 'TimedOut', 'Terminated', 'Canceled'];

export interface RunFailure {
  workflowId: string;
  runId: string;
  status: RunEndStatus;
  /** When the run ended (or, from the workflow, when it recorded its failure). */
  at: string;
  /** The failure type (ChainBroken, SshUnreachable, …) when the workflow saw it. */
  type?: string | null;
  /** One line, redacted, at most 300 characters. */
  message?: string | null;
  /** Who recorded it: the failing workflow, or the collector from Temporal's list of closed runs. */
  seenBy: 'workflow' | 'temporal';
}

export interface RunSuccess {
  workflowId: string;
  runId: string;
  at: string;
  startedAt: string;
  backupId: string | null;
}

export interface RunJournal {
  formatVersion: typeof RUN_JOURNAL_FORMAT;
  cloud: string;
  tier: string;
  /** Every failure ever recorded: only grows (a Prometheus counter). */
  failuresTotal: number;
  lastFailure: RunFailure | null;
  lastSuccess: RunSuccess | null;
  /** Failures of the last `keepDays` (dedup window, longer than the collector's look-back). */
  recent: RunFailure[];
}

/** Recent failures are kept this long: well past the collector's Temporal look-back (≤ 90 days), so a run it sees again is known. */
export const KEEP_RECENT_DAYS = 120;

export const runsPrefix = (cloud: string) => `clouds/${cloud}/.runs/`;
export const runJournalKey = (cloud: string, tier: string) => `${runsPrefix(cloud)}${tier}.json`;

export function emptyJournal(cloud: string, tier: string): RunJournal {
  return {
    formatVersion: RUN_JOURNAL_FORMAT,
    cloud,
    tier,
    failuresTotal: 0,
    lastFailure: null,
    lastSuccess: null,
    recent: [],
  };
}

/** A stored journal, or null for anything else (a torn write reads as "no journal": the collector re-adds what Temporal still knows). */
export function parseRunJournal(text: string | undefined): RunJournal | null {
  if (!text) return null;
  try {
    const j = JSON.parse(text) as Partial<RunJournal>;
    if (
      j.formatVersion !== RUN_JOURNAL_FORMAT ||
      typeof j.cloud !== 'string' ||
      typeof j.tier !== 'string' ||
      typeof j.failuresTotal !== 'number' ||
      !Array.isArray(j.recent)
    )
      return null;
    return { lastFailure: null, lastSuccess: null, ...j } as RunJournal;
  } catch {
    return null;
  }
}

const newer = (a: string, b: string | undefined) => b === undefined || Date.parse(a) >= Date.parse(b);

/** Adds the failures the journal does not hold yet (by run id); returns the new journal and how many were added. */
export function addFailures(
  j: RunJournal,
  failures: readonly RunFailure[],
  nowMs: number,
): { journal: RunJournal; added: number } {
  const known = new Set(j.recent.map((f) => f.runId));
  const fresh = failures.filter((f) => {
    if (known.has(f.runId)) return false;
    known.add(f.runId);
    return true;
  });
  const cutoff = nowMs - KEEP_RECENT_DAYS * 86_400_000;
  const recent = [...j.recent, ...fresh]
    .filter((f) => Date.parse(f.at) >= cutoff)
    .sort((a, b) => a.at.localeCompare(b.at));
  let last = j.lastFailure;
  for (const f of fresh) if (newer(f.at, last?.at)) last = f;
  return {
    journal: { ...j, failuresTotal: j.failuresTotal + fresh.length, lastFailure: last, recent },
    added: fresh.length,
  };
}

export function addSuccess(j: RunJournal, s: RunSuccess): RunJournal {
  return newer(s.at, j.lastSuccess?.at) ? { ...j, lastSuccess: s } : j;
}

/** "<cloud>-<tier>-<scheduled time>" (the schedules' workflow ids) → cloud and tier; for runs without search attributes. */
export function tierRunFromWorkflowId(workflowId: string): { cloud: string; tier: string } | null {
  const m = /^(.+)-(daily|weekly|monthly|control-plane)-\d{4}-\d\d-\d\dT/.exec(workflowId);
  return m ? { cloud: m[1]!, tier: m[2]! } : null;
}
