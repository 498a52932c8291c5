// Point-in-time recovery: the binary log archived as sealed segments, old segments compacted,
// and a restore replaying them on top of a restored chain up to the requested instant.
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import type { ReplayPlan } from '../../core/pitr/segments.js';
import type { ActivityContext } from '../context.js';
import { archiveBinlogStep, type ArchiveStepInput, type ArchiveStepResult } from './archive.js';
import {
  mergeBinlogSegments,
  planBinlogCompaction,
  removeBinlogPieces,
  type CompactionPlanResult,
  type MergeInput,
  type MergeResult,
  type RemoveInput,
} from './compact.js';
import {
  planPointInTimeRestore,
  replayBinlogsOnHost,
  streamBinlogsToHost,
  verifySegments,
  type ReplayInto,
  type ReplayResult,
  type ReplayStop,
} from './replay.js';

export function pitrActivities({ env, catalog }: ActivityContext) {
  return {
    async binlogArchiveSettings(input: {
      cloud: string;
    }): Promise<{ segmentSeconds: number; rpoTargetSeconds: number; compactAfterMinutes: number }> {
      const b = env.cloud(input.cloud).database.binlog;
      return {
        segmentSeconds: b.segmentSeconds,
        rpoTargetSeconds: b.rpoTargetSeconds,
        compactAfterMinutes: b.compactAfterMinutes,
      };
    },

    /** Compaction: which old segments to merge, which leftovers to remove. */
    async binlogPlanCompaction(input: { cloud: string }): Promise<CompactionPlanResult> {
      return planBinlogCompaction(env, input.cloud);
    },

    /** Merges one planned run of segments into one published, re-checked segment; the pieces stay. */
    async binlogMergeSegments(input: MergeInput): Promise<MergeResult> {
      const r = await mergeBinlogSegments(env, input);
      await catalog.refresh(input.cloud, 'binlog', r.id);
      return r;
    },

    /** Removes pieces a published merged segment holds (idempotent). */
    async binlogRemoveMergedPieces(input: RemoveInput): Promise<{ removed: string[]; kept: string[] }> {
      return removeBinlogPieces(env, input, (ids) =>
        catalog.refreshOwn(
          input.cloud,
          ids.map((id) => ({ component: 'binlog', id })),
        ),
      );
    },

    /** Archives what the server wrote since `from` as sealed segments. */
    async mariadbArchiveBinlog(input: ArchiveStepInput): Promise<ArchiveStepResult> {
      return archiveBinlogStep(env, input, (id) => catalog.refresh(input.cloud, 'binlog', id));
    },

    /** Point-in-time: the chain and the segments that reach `at`; out of range fails at once (non-retryable) naming the ranges. */
    async repositoryPlanPointInTime(input: {
      cloud: string;
      at?: string;
      gtid?: string;
      position?: string;
    }): Promise<{ chain: ArtifactManifest[]; replay: ReplayPlan }> {
      return planPointInTimeRestore(env, input.cloud, input);
    },

    async repositoryVerifySegments(input: { cloud: string; ids: string[] }): Promise<{ bytes: number }> {
      return verifySegments(env, input.cloud, input.ids);
    },

    async mariadbStreamBinlogs(input: {
      cloud: string;
      targetHost: string;
      restorePoint: string;
      files: { file: string; segments: string[] }[];
    }): Promise<{ bytes: number; seconds: number }> {
      return streamBinlogsToHost(env, input.cloud, input.targetHost, input.restorePoint, input.files);
    },

    async mariadbReplayBinlogs(input: {
      cloud: string;
      targetHost: string;
      restorePoint: string;
      replay: ReplayStop;
      baseGtid: string;
      into?: ReplayInto;
    }): Promise<ReplayResult> {
      return replayBinlogsOnHost(
        env,
        input.cloud,
        input.targetHost,
        input.restorePoint,
        input.replay,
        input.baseGtid,
        input.into,
      );
    },
  };
}
