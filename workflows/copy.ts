// Copy runbook: replicate published artifacts from one target to others, whole chains,
// parents first, every byte hashed on the way and the manifest last. Used by the tiers
// (3-2-1: daily → local, weekly → local + NFS, monthly → Swift) and by `osbackup copy`.
import { ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { longStream, shortCall, shortActivities, dataBoundActivities } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT } from './search-attributes.js';

const short = shortActivities(shortCall);
const stream = dataBoundActivities(longStream);

export interface CopyInput {
  cloud: string;
  from: string;
  to: string[];
  /** Restore points / artifacts to copy (each with its whole chain). */
  ids?: string[];
  /** Every artifact the source holds (a new target catching up). */
  all?: boolean;
  /** The source's newest intact database restore point (a restore from an off-site copy). */
  newest?: boolean;
  /** Promotion: the newest full completed at or before this time, with its control-plane backup. */
  promoteNotAfter?: string;
}

export interface CopyTargetResult {
  target: string;
  /** What was asked for, resolved (e.g. the newest restore point), before adding chains. */
  wanted: string[];
  copied: string[];
  present: string[];
  problems: { id: string; reason: string }[];
  bytes: number;
  seconds: number;
}

export async function copyWorkflow(input: CopyInput): Promise<CopyTargetResult[]> {
  upsertSearchAttributes([
    { key: CLOUD, value: input.cloud },
    { key: COMPONENT, value: 'copy' },
  ]);
  const steps = new Steps(input.to.map((t) => `copy to ${t}`));
  const results: CopyTargetResult[] = [];
  for (const to of input.to) {
    if (to === input.from) continue;
    results.push(
      await steps.run(
        `copy to ${to}`,
        async () => {
          const plan = await short.targetsPlanCopy({
            cloud: input.cloud,
            from: input.from,
            to,
            ids: input.ids,
            all: input.all,
            newest: input.newest,
            promoteNotAfter: input.promoteNotAfter,
          });
          const r: CopyTargetResult = {
            target: to,
            wanted: plan.want,
            copied: [],
            present: plan.present,
            problems: plan.problems,
            bytes: 0,
            seconds: 0,
          };
          // one at a time, parents first: a crash leaves only complete chains behind
          for (const id of plan.copy) {
            const c = await stream.targetsCopyArtifact({
              cloud: input.cloud,
              component: plan.components[id]!,
              id,
              from: input.from,
              to,
            });
            if (c.copied) r.copied.push(id);
            else r.present.push(id);
            r.bytes += c.bytes;
            r.seconds += c.seconds;
          }
          return r;
        },
        (r) => `${r.copied.length} copied, ${r.present.length} already there, ${r.problems.length} problems`,
      ),
    );
  }
  const problems = results.flatMap((r) => r.problems.map((p) => `${r.target}: ${p.id}: ${p.reason}`));
  if (problems.length) {
    steps.finish('incomplete');
    throw ApplicationFailure.nonRetryable(
      `copy from "${input.from}" incomplete: ${problems.join('; ')}. Fix: repair the source chain (osbackup verify) or take a new full backup, then copy again`,
      'CopyIncomplete',
      results,
    );
  }
  steps.finish('done');
  return results;
}
