// The tiers the schedules run, as the seed's crontab did — but every backup lands on each
// target its tier names, whole chains only:
//   daily          DB incremental (a full when the chain has no base and autoFull is on) → daily targets
//   control-plane  Kolla config, Keystone keys, RabbitMQ definitions → daily targets
//   weekly         DB full → weekly targets (volumes join when the OpenStack resources do)
//   monthly        no new backup: that Sunday's full chain (and its control-plane backup) promoted
//                  to the monthly targets
import { executeChild, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { backupControlPlaneWorkflow, type BackupControlPlaneResult } from './backup-control-plane.js';
import { backupDatabaseWorkflow, type BackupDatabaseResult } from './backup-database.js';
import { copyWorkflow, type CopyTargetResult } from './copy.js';
import { shortCall } from './options.js';
import { CLOUD, TIER } from './search-attributes.js';

const short = proxyActivities<Activities>(shortCall);

export type TierName = 'daily' | 'weekly' | 'monthly' | 'control-plane';

export interface TierInput {
  cloud: string;
  tier: TierName;
}

export interface TierResult {
  tier: TierName;
  backupId: string | null;
  database: BackupDatabaseResult | null;
  controlPlane: BackupControlPlaneResult | null;
  copies: CopyTargetResult[];
}

export async function tierWorkflow(input: TierInput): Promise<TierResult> {
  const info = workflowInfo();
  const { cloud, tier } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: TIER, value: tier },
  ]);
  const plan = await short.tierPlan({ cloud, tier });
  const child = (what: string) => ({ workflowId: `${info.workflowId}-${what}`, taskQueue: info.taskQueue });
  const result: TierResult = { tier, backupId: null, database: null, controlPlane: null, copies: [] };

  if (tier === 'daily' || tier === 'weekly') {
    result.database = await executeChild(backupDatabaseWorkflow, { ...child('db'), args: [{ cloud, kind: tier === 'weekly' ? 'full' : 'incremental', tier, toolVersion: plan.toolVersion }] });
    result.backupId = result.database.backupId;
  } else if (tier === 'control-plane') {
    result.controlPlane = await executeChild(backupControlPlaneWorkflow, { ...child('cp'), args: [{ cloud, tier: 'daily', toolVersion: plan.toolVersion, configured: plan.controlPlane }] });
    result.backupId = result.controlPlane.backupId;
  }

  const copyTo = plan.targets.filter((t) => t !== plan.primary);
  if (copyTo.length) {
    const ids = result.backupId ? [result.backupId] : undefined;
    // monthly: promote what the weekly tier took up to now, not a new backup
    const promoteNotAfter = tier === 'monthly' ? new Date(info.startTime).toISOString() : undefined;
    result.copies = await executeChild(copyWorkflow, { ...child('copy'), args: [{ cloud, from: plan.primary, to: copyTo, ids, promoteNotAfter }] });
  }
  return result;
}
