// Copies between targets: whole chains, parents first, each artifact re-checked as it streams.
import { isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import { newestIntactRestorePoint } from '../../core/chain/chain.js';
import { planCopy, promotionSet, type CopyPlan } from '../../core/copy/plan.js';
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import { copyArtifact, targetManifests, type CopyArtifactInput, type CopyArtifactResult } from './copy.js';

export function copyActivities({ env, catalogOf }: ActivityContext) {
  const { deps } = env;
  return {
    /** What a copy must carry (whole chains, parents first), from the manifests on both sides. */
    async targetsPlanCopy(input: {
      cloud: string;
      from: string;
      to: string;
      ids?: string[];
      all?: boolean;
      newest?: boolean;
      promoteNotAfter?: string;
    }): Promise<CopyPlan & { want: string[]; components: Record<string, string> }> {
      const source = await targetManifests(env, input.from, input.cloud);
      const dest = await targetManifests(env, input.to, input.cloud);
      let want = input.ids ?? [];
      const extra: CopyPlan['problems'] = [];
      if (input.promoteNotAfter) {
        const p = promotionSet(source, input.promoteNotAfter);
        want = p.ids;
        if (p.problem) extra.push({ id: 'promotion', reason: p.problem });
      } else if (input.all)
        want = source.filter((m) => !('reason' in m && m.reason === 'pre-restore')).map((m) => m.id);
      else if (input.newest) {
        const newest = newestIntactRestorePoint(source.filter(isDatabaseManifest), new Set());
        if (!newest)
          throw fatal(
            FailureType.BackupNotFound,
            `target "${input.from}" holds no intact database restore point of cloud ${input.cloud}`,
            `list what it holds with \`osbackup catalog list --target ${input.from}\``,
          );
        want = [newest];
      }
      const plan = planCopy(source, dest, want);
      plan.problems.push(...extra);
      return { ...plan, want, components: Object.fromEntries(source.map((m) => [m.id, m.component])) };
    },

    async targetsCopyArtifact(input: CopyArtifactInput): Promise<CopyArtifactResult> {
      const r = await copyArtifact(env, input, deps.config.repository.verifyAfterWrite !== false);
      await (await catalogOf(input.to)).refresh(input.cloud, input.component, input.id);
      return r;
    },
  };
}
