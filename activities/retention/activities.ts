// Retention on each target, in two phases: mark (a journal of what goes), then re-check and purge;
// and the garbage crashed writers left.
import type { RetentionPlan } from '../../core/retention/plan.js';
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import { collectGarbage, targetNames } from '../storage/target.js';
import { journalPrefix, markTarget, pendingJournals, planTarget, purgeTarget } from './retention.js';

export function retentionActivities({ env, catalogOf }: ActivityContext) {
  const { deps } = env;
  return {
    /** The dry run: what would go from each target and why. */
    async retentionPlan(input: {
      cloud: string;
      target: string;
      now: string;
    }): Promise<{ target: string; location: string; plan: RetentionPlan; components: Record<string, string> }> {
      const t = await env.target(input.target);
      return { target: t.name, location: t.location, ...(await planTarget(t, input.cloud, input.now)) };
    },

    async retentionMark(input: {
      cloud: string;
      target: string;
      runId: string;
      now: string;
    }): Promise<{ remove: number; retained: number; journal: string }> {
      const j = await markTarget(env, input);
      return {
        remove: j.remove.length,
        retained: j.retained.length,
        journal: `${journalPrefix(input.cloud)}${input.runId}.json`,
      };
    },

    async retentionPending(input: { cloud: string; target: string }): Promise<string[]> {
      return pendingJournals(env, input.cloud, input.target);
    },

    async retentionPurge(input: {
      cloud: string;
      target: string;
      runId: string;
    }): Promise<{ purged: string[]; bytes: number }> {
      const cat = await catalogOf(input.target);
      return purgeTarget(env, input, (id, component) => cat.refresh(input.cloud, component, id));
    },

    /** What crashed writers left on a target (older than 6 h: nothing a live attempt still writes). */
    async targetCollectGarbage(input: { cloud: string; target: string }): Promise<string[]> {
      return collectGarbage(await env.target(input.target), input.cloud, 6 * 3600_000);
    },

    /** The targets a rotation covers (default: every configured one). */
    async retentionTargets(input: { target?: string }): Promise<string[]> {
      if (input.target && !targetNames(deps.config).includes(input.target))
        throw fatal(
          FailureType.ConfigInvalid,
          `target "${input.target}" is not configured`,
          `use one of: ${targetNames(deps.config).join(', ')}`,
        );
      return input.target ? [input.target] : targetNames(deps.config);
    },
  };
}
