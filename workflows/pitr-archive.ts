// Continuous binary-log archiving: a long-running loop of short archive steps, each cutting
// what the server wrote since the last one into sealed segments. The position travels in the
// workflow state (and through continue-as-new); the repository stays the truth: a step that
// finds its segment already published continues after it, so a lost worker costs neither a
// gap nor a duplicate.
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { pitrCompactionWorkflowId, rpoStatus, type RpoStatus } from '../core/pitr/segments.js';
import { archiveStep, shortCall, shortActivities, dataBoundActivities } from './options.js';
import { LEGACY_WORKFLOW_TYPES } from './legacy-names.js';
import { pitrCompactionWorkflow } from './pitr-compaction.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const step = dataBoundActivities(archiveStep);

export interface ArchiveState {
  from: { file: string; position: number } | null;
  segments: number;
  bytes: number;
  events: number;
  newestSegment: string | null;
  newestEventAt: string | null;
  lastGtid: string | null;
  caughtUpAt: string | null;
  /** Worst achieved RPO seen at a cut (seconds), since the workflow first started. */
  worstRpoSeconds: number;
  startedAt: string;
  startedFrom: string | null;
  galera: boolean;
  runs: number;
  /** When the last compaction pass was started (absent in states carried from before compaction). */
  compactionStartedAt?: string | null;
  compactionsStarted?: number;
}

export interface PitrArchiveInput {
  cloud: string;
  toolVersion?: string;
  /** Carried across continue-as-new. */
  state?: ArchiveState;
  /** Continue as new after this many steps (default 500: a few thousand history events). */
  stepsPerRun?: number;
}

export interface PitrArchiveStatus extends ArchiveState {
  cloud: string;
  segmentSeconds: number;
  rpo: RpoStatus;
  stopping: boolean;
}

export type PitrArchiveResult = PitrArchiveStatus;

export const stopSignal = defineSignal('stop');
export const statusQuery = defineQuery<PitrArchiveStatus>('status');

export async function pitrArchiveWorkflow(input: PitrArchiveInput): Promise<PitrArchiveResult> {
  const info = workflowInfo();
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'binlog' },
    { key: TIER, value: 'continuous' },
  ]);
  const state: ArchiveState = input.state ?? {
    from: null,
    segments: 0,
    bytes: 0,
    events: 0,
    newestSegment: null,
    newestEventAt: null,
    lastGtid: null,
    caughtUpAt: null,
    worstRpoSeconds: 0,
    startedAt: new Date(info.startTime).toISOString(),
    startedFrom: null,
    galera: false,
    runs: 0,
  };
  state.runs++;
  let stopping = false;
  let settings = { segmentSeconds: 0, rpoTargetSeconds: 0, compactAfterMinutes: 0 };
  const status = (): PitrArchiveStatus => ({
    ...state,
    cloud,
    segmentSeconds: settings.segmentSeconds,
    rpo: rpoStatus(new Date().getTime(), state.caughtUpAt, state.newestEventAt, settings.rpoTargetSeconds),
    stopping,
  });
  setHandler(statusQuery, status);
  setHandler(stopSignal, () => void (stopping = true));
  // handlers first: a query that arrives while the settings are read is answered (with zeros)
  settings = await short.binlogArchiveSettings({ cloud });
  // runs started before compaction existed replay without it; their next continue-as-new has it
  const compaction = patched('binlog-compaction');

  const period = settings.segmentSeconds * 1000;
  const maxSteps = input.stepsPerRun ?? 500;
  for (let n = 0; !stopping; n++) {
    // workflowInfo() is a new object at every activation: `info` keeps the first one's
    // continueAsNewSuggested (false), so runs before this marker went on to maxSteps regardless
    const suggested = patched('archiver-fresh-suggestion')
      ? workflowInfo().continueAsNewSuggested
      : info.continueAsNewSuggested;
    if (n >= maxSteps || suggested) {
      await continueAsNew<typeof pitrArchiveWorkflow>({ ...input, state });
    }
    const t0 = new Date().getTime();
    const r = await step.mariadbArchiveBinlog({
      cloud,
      from: state.from,
      workflowId: info.workflowId,
      toolVersion: input.toolVersion,
    });
    if (r.startedFrom) state.startedFrom = r.startedFrom;
    state.from = r.from;
    state.galera = r.server.galera;
    for (const s of r.segments) {
      state.segments++;
      state.bytes += s.bytes;
      state.events += s.events;
      state.newestSegment = s.id;
      if (s.lastEventAt && (!state.newestEventAt || s.lastEventAt > state.newestEventAt))
        state.newestEventAt = s.lastEventAt;
      if (s.lastGtid) state.lastGtid = s.lastGtid;
    }
    if (r.caughtUp) {
      // what was at risk just before this cut: everything since the previous catch-up
      if (state.caughtUpAt)
        state.worstRpoSeconds = Math.max(
          state.worstRpoSeconds,
          (Date.parse(r.server.at) - Date.parse(state.caughtUpAt)) / 1000,
        );
      state.caughtUpAt = r.server.at;
      const wait = Math.max(200, period - (new Date().getTime() - t0));
      await condition(() => stopping, wait);
    }
    if (compaction && settings.compactAfterMinutes > 0) await startCompaction();
    // not caught up (a backlog, or a cap on segments per step): the next step starts at once
  }
  return status();

  /**
   * Every compactAfterMinutes, a compaction pass as an abandoned child: the archiver waits only
   * for its start, never for its merges, so the next cut is not delayed; the child's fixed id
   * keeps one pass per cloud at a time (one still running: this turn is skipped).
   */
  async function startCompaction(): Promise<void> {
    const now = new Date().getTime();
    const last = Date.parse(state.compactionStartedAt ?? state.startedAt);
    if (now - last < settings.compactAfterMinutes * 60_000) return;
    state.compactionStartedAt = new Date(now).toISOString();
    try {
      // the compaction's workflow type was compactBinlogsWorkflow (still registered): runs that
      // started a child under that name keep doing so on replay
      const type = patched('pitr-names') ? pitrCompactionWorkflow.name : LEGACY_WORKFLOW_TYPES.pitrCompactionWorkflow;
      await startChild<typeof pitrCompactionWorkflow>(type, {
        workflowId: pitrCompactionWorkflowId(cloud),
        args: [{ cloud, toolVersion: input.toolVersion }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      state.compactionsStarted = (state.compactionsStarted ?? 0) + 1;
    } catch (e) {
      // the previous pass still runs (WorkflowExecutionAlreadyStarted), or the start failed: archiving goes on regardless
      log.info('binlog compaction not started this turn', { error: (e as Error).message });
    }
  }
}
