// The scrub runbook: for each target (default: every target), one listing, then the sealed
// files re-read in batches (each artifact's CheckRecord written as it is read, so a retried
// batch resumes), then the report: counts, the bad artifacts with the restore points each
// breaks, the newest intact restore point. Damage does not fail the workflow — the report is
// the product — but `ok` is false and the CLI exits non-zero. Schedules call this by name.
import { ApplicationFailure, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  checkBatches,
  reportClean,
  resolveSince,
  verifyReport,
  type ArtifactCheck,
  type VerifyTargetReport,
} from '../core/verify/report.js';
import { longStream, shortCall, shortActivities, dataBoundActivities } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const { storageListTargets } = shortActivities(shortCall);
// a listing of a large bucket takes longer than a short call allows
const { storagePlanVerify } = shortActivities({ ...shortCall, startToCloseTimeout: '15 minutes' });
const { storageCheckArtifacts } = dataBoundActivities(longStream);

export interface VerifyInput {
  cloud: string;
  /** One target by name (default: the repository and every configured target). */
  target?: string;
  /** Only artifacts completed since: an ISO time, or a duration before the run ("7d", "12h"). */
  since?: string;
}

export interface VerifyResult {
  cloud: string;
  since: string | null;
  /** Nothing corrupt, missing or broken, and every target could be read. */
  ok: boolean;
  targets: VerifyTargetReport[];
  /** Targets that could not be checked at all (not mounted, bucket gone, credentials refused). */
  failed: { target: string; error: string }[];
}

/** The innermost application failure's message: what went wrong with a target. */
export function causeOf(e: unknown): string {
  let cur: unknown = e;
  let msg = e instanceof Error ? e.message : String(e);
  while (cur instanceof Error) {
    if (cur instanceof ApplicationFailure) msg = cur.message;
    cur = (cur as Error & { cause?: unknown }).cause;
  }
  return msg;
}

export async function verifyWorkflow(input: VerifyInput): Promise<VerifyResult> {
  const info = workflowInfo();
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'storage' },
    { key: TIER, value: 'verify' },
  ]);
  const since = input.since ? resolveSince(input.since, new Date(info.startTime)) : null;
  if (input.since && !since)
    throw ApplicationFailure.nonRetryable(
      `--since "${input.since}" is neither an ISO date/time nor a duration. Fix: use e.g. 2026-11-01, 2026-11-01T02:00:00Z, 7d, 12h or 30m`,
      'ConfigInvalid',
    );
  const names = input.target ? [input.target] : await storageListTargets();
  const steps = new Steps(names.map((t) => `check ${t}`));
  const failed: VerifyResult['failed'] = [];

  const one = async (target: string): Promise<VerifyTargetReport> => {
    const plan = await storagePlanVerify({ cloud, target, since });
    const checks: ArtifactCheck[] = [];
    for (const batch of checkBatches(plan.toCheck)) {
      checks.push(
        ...(await storageCheckArtifacts({
          cloud,
          target,
          artifacts: batch.map((b) => ({ id: b.id, component: b.component })),
          workflowId: info.workflowId,
        })),
      );
    }
    return verifyReport({
      target,
      location: plan.location,
      cloud,
      since,
      present: plan.nodes,
      expected: plan.expected,
      checks,
    });
  };

  const settled = await Promise.all(
    names.map((target) =>
      steps
        .run(
          `check ${target}`,
          () => one(target),
          (r) => `${r.counts.checked} CHECKED, ${r.counts.corrupt} CORRUPT, ${r.counts.missing} MISSING`,
        )
        .catch((e: unknown) => {
          failed.push({ target, error: causeOf(e) });
          return null;
        }),
    ),
  );
  const targets = settled.filter((r): r is VerifyTargetReport => r !== null);
  const ok = failed.length === 0 && targets.every(reportClean);
  steps.finish(ok ? 'clean' : failed.length && targets.every(reportClean) ? 'target unreadable' : 'damage found');
  return { cloud, since, ok, targets, failed };
}
