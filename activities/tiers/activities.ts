// Scheduled tier runs: what a run does, from the worker's config, and how it ended.
import type { RunEndStatus } from '../../core/tiers/run-journal.js';
import type { ActivityContext } from '../context.js';
import { recordFailures, recordSuccess } from './run-journal.js';

export function tiersActivities({ env }: ActivityContext) {
  const { deps } = env;
  return {
    /** What a tier run does, from the worker's config (workflows read no config). */
    async tierPlan(input: { cloud: string; tier: 'daily' | 'weekly' | 'monthly' | 'control-plane' | 'dump' }): Promise<{
      primary: string;
      targets: string[];
      toolVersion: string;
      controlPlane: { kolla: boolean; keystoneHosts: string[]; rabbitmq: boolean };
    }> {
      const c = env.cloud(input.cloud);
      // control-plane backups and dumps go where the daily backups go
      const tier = input.tier === 'control-plane' || input.tier === 'dump' ? 'daily' : input.tier;
      const primary = deps.config.repository.name;
      return {
        primary,
        targets: c.tiers[tier]?.targets ?? [primary],
        toolVersion: deps.version ?? 'unknown',
        controlPlane: {
          kolla: !!c.controlPlane?.kolla,
          keystoneHosts: c.controlPlane?.keystoneHosts ?? [],
          rabbitmq: !!c.rabbitmq,
        },
      };
    },

    /**
     * How a scheduled tier run ended, into the run journal on the repository (clouds/<c>/.runs/<tier>.json):
     * the failure counter of /metrics reads it, so it survives worker restarts.
     */
    async repositoryRecordTierRun(
      input: { cloud: string; tier: string; workflowId: string; runId: string; startedAt: string } & (
        | { outcome: 'success'; backupId: string | null }
        | { outcome: RunEndStatus; type: string | null; message: string | null }
      ),
    ): Promise<void> {
      const at = new Date().toISOString();
      if (input.outcome === 'success') {
        await recordSuccess(env.primary, input.cloud, input.tier, {
          workflowId: input.workflowId,
          runId: input.runId,
          at,
          startedAt: input.startedAt,
          backupId: input.backupId,
        });
        return;
      }
      await recordFailures(env.primary, input.cloud, input.tier, [
        {
          workflowId: input.workflowId,
          runId: input.runId,
          status: input.outcome,
          at,
          type: input.type,
          message: input.message,
          seenBy: 'workflow',
        },
      ]);
    },
  };
}
