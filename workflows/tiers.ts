// The tiers the schedules run, as the seed's crontab did — but every backup lands on each
// target its tier names, whole chains only:
//   daily          DB incremental (a full when the chain has no base and autoFull is on) → daily targets
//   control-plane  Kolla config, Keystone keys, RabbitMQ definitions → daily targets
//   weekly         DB full → weekly targets (volumes join when the OpenStack resources do)
//   monthly        no new backup: that Sunday's full chain (and its control-plane backup) promoted
//                  to the monthly targets
//   dump           a logical dump of every schema (when enabled) → daily targets
import {
  ApplicationFailure,
  CancellationScope,
  executeChild,
  isCancellation,
  log,
  patched,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { backupControlPlaneWorkflow, type BackupControlPlaneResult } from './backup-control-plane.js';
import { backupDatabaseWorkflow, type BackupDatabaseResult } from './backup-database.js';
import { copyWorkflow, type CopyTargetResult } from './copy.js';
import { logicalDumpWorkflow, type LogicalDumpResult } from './logical-dump.js';
import { shortCall, shortActivities } from './options.js';
import { CLOUD, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
/** The journal write is bookkeeping: a few quick tries, never a reason for the run to hang. */
const journal = shortActivities({
  ...shortCall,
  startToCloseTimeout: '30 seconds',
  retry: { ...shortCall.retry, maximumAttempts: 3 },
});

/** Runs started before the run journal existed replay without its activity calls. */
export const RUN_JOURNAL_PATCH = 'run-failure-journal';

export type TierName = 'daily' | 'weekly' | 'monthly' | 'control-plane' | 'dump';

export interface TierInput {
  cloud: string;
  tier: TierName;
}

export interface TierResult {
  tier: TierName;
  backupId: string | null;
  database: BackupDatabaseResult | null;
  controlPlane: BackupControlPlaneResult | null;
  /** Absent in results of runs from before the dump tier. */
  dump?: LogicalDumpResult | null;
  copies: CopyTargetResult[];
}

export async function tierWorkflow(input: TierInput): Promise<TierResult> {
  const info = workflowInfo();
  const { cloud, tier } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: TIER, value: tier },
  ]);
  const run = {
    cloud,
    tier,
    workflowId: info.workflowId,
    runId: info.runId,
    startedAt: new Date(info.startTime).toISOString(),
  };
  let result: TierResult;
  try {
    result = await runTier(input);
  } catch (e) {
    // Failed or cancelled: recorded whatever the cause, even while being cancelled. Runs killed
    // without running this (timeout, termination) are added from Temporal by the metrics collector.
    if (patched(RUN_JOURNAL_PATCH)) {
      const cause = rootFailure(e);
      await CancellationScope.nonCancellable(() =>
        journal
          .repositoryRecordTierRun({
            ...run,
            outcome: isCancellation(e) ? 'Canceled' : 'Failed',
            type: cause.type,
            message: cause.message,
          })
          .catch((j: unknown) => log.warn('could not record the failed run in the run journal', { error: String(j) })),
      );
    }
    throw e;
  }
  if (patched(RUN_JOURNAL_PATCH)) {
    await journal
      .repositoryRecordTierRun({ ...run, outcome: 'success', backupId: result.backupId })
      .catch((j: unknown) => log.warn('could not record the run in the run journal', { error: String(j) }));
  }
  return result;
}

/** The innermost failure's type and message (a child's activity failure sits under two wrappers). */
function rootFailure(e: unknown): { type: string | null; message: string | null } {
  let best: { type: string | null; message: string | null } = {
    type: null,
    message: e instanceof Error ? e.message : String(e),
  };
  for (let cur: unknown = e; cur instanceof Error; cur = (cur as Error & { cause?: unknown }).cause) {
    if (cur instanceof ApplicationFailure) best = { type: cur.type ?? null, message: cur.message };
  }
  return best;
}

async function runTier(input: TierInput): Promise<TierResult> {
  const info = workflowInfo();
  const { cloud, tier } = input;
  const plan = await short.tierPlan({ cloud, tier });
  const child = (what: string) => ({ workflowId: `${info.workflowId}-${what}`, taskQueue: info.taskQueue });
  const result: TierResult = { tier, backupId: null, database: null, controlPlane: null, copies: [] };

  if (tier === 'daily' || tier === 'weekly') {
    result.database = await executeChild(backupDatabaseWorkflow, {
      ...child('db'),
      args: [{ cloud, kind: tier === 'weekly' ? 'full' : 'incremental', tier, toolVersion: plan.toolVersion }],
    });
    result.backupId = result.database.backupId;
  } else if (tier === 'control-plane') {
    result.controlPlane = await executeChild(backupControlPlaneWorkflow, {
      ...child('cp'),
      args: [{ cloud, tier: 'daily', toolVersion: plan.toolVersion, configured: plan.controlPlane }],
    });
    result.backupId = result.controlPlane.backupId;
  } else if (tier === 'dump') {
    result.dump = await executeChild(logicalDumpWorkflow, {
      ...child('dump'),
      args: [{ cloud, tier: 'dump', toolVersion: plan.toolVersion }],
    });
    result.backupId = result.dump.dumpId;
  }

  const copyTo = plan.targets.filter((t) => t !== plan.primary);
  if (copyTo.length) {
    const ids = result.backupId ? [result.backupId] : undefined;
    // monthly: promote what the weekly tier took up to now, not a new backup
    const promoteNotAfter = tier === 'monthly' ? new Date(info.startTime).toISOString() : undefined;
    result.copies = await executeChild(copyWorkflow, {
      ...child('copy'),
      args: [{ cloud, from: plan.primary, to: copyTo, ids, promoteNotAfter }],
    });
  }
  return result;
}
