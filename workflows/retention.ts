// Rotation runbook, replacing the seed's `find -mtime +7 -delete` (which deleted fulls that
// kept incrementals still needed). Per target: finish what a crashed run marked, plan with
// the target's own policy, mark, re-check, purge. `review` stops after marking until an
// operator approves (`osbackup retention approve <workflow id>`).
import { condition, defineSignal, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RetentionPlan } from '../core/retention/plan.js';
import { longStream, shortCall, shortActivities, dataBoundActivities } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT } from './search-attributes.js';

const short = shortActivities(shortCall);
const long = dataBoundActivities(longStream);

export const approvePurgeSignal = defineSignal('approvePurge');

export interface RetentionRunInput {
  cloud: string;
  /** One target (default: every configured target). */
  target?: string;
  /** Stop after marking until the approvePurge signal. */
  review?: boolean;
}

export interface RetentionTargetResult {
  target: string;
  finishedEarlierRuns: string[];
  /** Partial objects, open uploads and manifest-less folders of crashed writers, removed. */
  garbage: string[];
  marked: number;
  retained: number;
  purged: string[];
  bytesFreed: number;
  /** Cloud side only: resources the plan dropped that were left alone, with why. */
  refused?: { id: string; reason: string }[];
}

export async function retentionWorkflow(input: RetentionRunInput): Promise<RetentionTargetResult[]> {
  const info = workflowInfo();
  const now = new Date(info.startTime).toISOString();
  upsertSearchAttributes([
    { key: CLOUD, value: input.cloud },
    { key: COMPONENT, value: 'retention' },
  ]);
  let approved = !input.review;
  setHandler(approvePurgeSignal, () => void (approved = true));
  const targets = await short.retentionTargets({ target: input.target });
  // the journal's name: one per run, the same on every target and across retries
  const runId = info.workflowId.replace(/[^A-Za-z0-9_.-]/g, '_');
  const steps = new Steps(targets.flatMap((t) => [`mark ${t}`, `purge ${t}`]));
  const results: RetentionTargetResult[] = [];
  for (const target of targets) {
    const r: RetentionTargetResult = {
      target,
      finishedEarlierRuns: [],
      garbage: [],
      marked: 0,
      retained: 0,
      purged: [],
      bytesFreed: 0,
    };
    await steps.run(`mark ${target}`, async () => {
      // a run that died between mark and purge left its journal: finish it first (it re-checks)
      for (const earlier of await short.retentionPending({ cloud: input.cloud, target })) {
        if (earlier === runId) continue;
        const p = await long.retentionPurge({ cloud: input.cloud, target, runId: earlier });
        r.finishedEarlierRuns.push(earlier);
        r.purged.push(...p.purged);
        r.bytesFreed += p.bytes;
      }
      r.garbage = await long.targetCollectGarbage({ cloud: input.cloud, target });
      const m = await short.retentionMark({ cloud: input.cloud, target, runId, now });
      r.marked = m.remove;
      r.retained = m.retained;
    });
    if (r.marked > 0) {
      if (!approved) {
        steps.finish('marked: waiting for approval');
        await condition(() => approved);
      }
      await steps.run(`purge ${target}`, async () => {
        const p = await long.retentionPurge({ cloud: input.cloud, target, runId });
        r.purged.push(...p.purged);
        r.bytesFreed += p.bytes;
      });
    }
    results.push(r);
  }
  // the cloud's own snapshots, Cinder backups and instance images, and image exports whose image
  // is gone: only when every target is rotated (a run for one target is about that target)
  if (!input.target) {
    const r: RetentionTargetResult & { refused: { id: string; reason: string }[] } = {
      target: `cloud:${input.cloud}`,
      finishedEarlierRuns: [],
      garbage: [],
      marked: 0,
      retained: 0,
      purged: [],
      bytesFreed: 0,
      refused: [],
    };
    const earlier = (await short.openstackRetentionPending({ cloud: input.cloud })).filter((x) => x !== runId);
    for (const e of earlier) {
      const p = await long.openstackRetentionPurge({ cloud: input.cloud, runId: e });
      r.finishedEarlierRuns.push(e);
      r.purged.push(...p.deleted);
      r.refused.push(...p.refused);
    }
    const m = await short.openstackRetentionMark({ cloud: input.cloud, runId, now });
    if (m) {
      r.marked = m.remove;
      r.retained = m.keep;
      if (m.remove > 0) {
        if (!approved) {
          steps.finish('cloud side marked: waiting for approval');
          await condition(() => approved);
        }
        const p = await long.openstackRetentionPurge({ cloud: input.cloud, runId });
        r.purged.push(...p.deleted);
        r.refused.push(...p.refused);
      }
      results.push(r);
    }
  }
  steps.finish('done');
  return results;
}

export interface RetentionPlanResult {
  target: string;
  location: string;
  plan: RetentionPlan;
  components: Record<string, string>;
}

/** The dry run behind `osbackup retention plan`: nothing is marked or deleted. */
export async function retentionPlanWorkflow(input: { cloud: string; target?: string }): Promise<RetentionPlanResult[]> {
  const now = new Date(workflowInfo().startTime).toISOString();
  const out: RetentionPlanResult[] = [];
  for (const target of await short.retentionTargets({ target: input.target }))
    out.push(await short.retentionPlan({ cloud: input.cloud, target, now }));
  return out;
}

/** The cloud side of `osbackup retention plan` (null: the cloud has no openstack section). */
export async function cloudRetentionPlanWorkflow(input: { cloud: string }) {
  return short.openstackRetentionPlan({ cloud: input.cloud, now: new Date(workflowInfo().startTime).toISOString() });
}
