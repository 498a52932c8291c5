// Binlog segment compaction, one pass: plan over the repository, merge each planned run into one
// segment (published and re-checked), then remove the pieces it holds; leftovers of a pass that
// died between merge and removal (`covered`) are removed too. Started by pitrArchiveWorkflow
// as an abandoned child every compactAfterMinutes, so the archiver's next cut never waits for
// it; its fixed id (compact-binlogs:<cloud>) keeps one pass per cloud at a time. Also runnable
// on its own (`temporal workflow start --type pitrCompactionWorkflow`).
import { ApplicationFailure, log, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { compactionMerge, heartbeatingCall, repositoryScan, shortActivities, dataBoundActivities } from './options.js';
import { CLOUD, COMPONENT } from './search-attributes.js';
import { pitrCompactionWorkflowId } from '../core/pitr/segments.js';

const scan = shortActivities(repositoryScan);
const merge = dataBoundActivities(compactionMerge);
const remove = shortActivities(heartbeatingCall);

export interface PitrCompactionInput {
  cloud: string;
  toolVersion?: string;
  /** Plans per pass (each merges up to 16 runs); a larger backlog continues in the next pass. */
  maxBatches?: number;
}

export interface PitrCompactionResult {
  skipped: string | null;
  segmentsBefore: number;
  merged: { id: string; pieces: number; streamBytes: number; bytes: number; adopted: boolean; seconds: number }[];
  removed: number;
  /** Pieces not removed (their merged segment did not cover them, or was missing or damaged). */
  kept: string[];
  /** Runs that could not be merged (non-retryable), with why: their pieces stay. */
  failed: { id: string; message: string }[];
  /** The backlog was larger than one pass. */
  more: boolean;
}

export async function pitrCompactionWorkflow(input: PitrCompactionInput): Promise<PitrCompactionResult> {
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'binlog' },
  ]);
  const out: PitrCompactionResult = {
    skipped: null,
    segmentsBefore: 0,
    merged: [],
    removed: 0,
    kept: [],
    failed: [],
    more: false,
  };
  const batches = input.maxBatches ?? 8;
  for (let i = 0; i < batches; i++) {
    const plan = await scan.binlogPlanCompaction({ cloud });
    if (i === 0) out.segmentsBefore = plan.segments;
    if (plan.skipped) {
      out.skipped = plan.skipped;
      return out;
    }
    for (const run of plan.merge) {
      if (out.failed.some((f) => f.id === run.id)) continue; // planned again in this pass: it fails the same way
      let r;
      try {
        r = await merge.binlogMergeSegments({
          cloud,
          run,
          workflowId: pitrCompactionWorkflowId(cloud),
          toolVersion: input.toolVersion,
        });
      } catch (e) {
        // one run that cannot be merged (a damaged piece) keeps its pieces; the others go on
        const cause = e instanceof Error && e.cause instanceof ApplicationFailure ? e.cause : undefined;
        if (!cause?.nonRetryable) throw e;
        out.failed.push({ id: run.id, message: cause.message });
        log.warn('binlog compaction: run not merged', { id: run.id, message: cause.message });
        continue;
      }
      out.merged.push(r);
      const gone = await remove.binlogRemoveMergedPieces({
        cloud,
        pieces: run.pieces.map((id) => ({ id, by: run.id })),
      });
      out.removed += gone.removed.length;
      out.kept.push(...gone.kept);
    }
    if (plan.covered.length) {
      const gone = await remove.binlogRemoveMergedPieces({ cloud, pieces: plan.covered });
      out.removed += gone.removed.length;
      out.kept.push(...gone.kept);
    }
    out.more = plan.more;
    if (!plan.more || (plan.merge.length === 0 && plan.covered.length === 0)) break;
  }
  return out;
}
