// `osbackup describe <id>` and `osbackup logs <workflow-id>`: look at one artifact or one run
// without opening the Temporal UI or the repository.
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { failureMessage } from '../config/temporal.js';
import { describeText, type ArtifactDescription } from '../core/catalog/describe.js';
import { historyText, type HistoryItem } from '../core/inspect/history.js';
import { CliError, connect, EXIT, rootCause, uiLink, waitWithProgress } from './connect.js';
import { targetOf } from './storage.js';
import type { CliContext, G } from './control-plane.js';
import { taskQueueOf } from '../config/task-queues.js';

type Event = temporal.api.history.v1.IHistoryEvent;
type Failure = temporal.api.failure.v1.IFailure;

const iso = (t: Event['eventTime']): string =>
  new Date(Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString();

/** The innermost failure with its type: "[BackupNotFound] no artifact …" rather than "Activity task failed". */
async function rootFailure(client: Client, f: Failure | null | undefined): Promise<string | undefined> {
  if (!f) return undefined;
  let cur: Failure | null | undefined = f;
  let best = '';
  while (cur) {
    const msg = await failureMessage(client.options.loadedDataConverter, cur);
    const type = cur.applicationFailureInfo?.type;
    if (msg) best = `${type ? `[${type}] ` : ''}${msg}`;
    cur = cur.cause;
  }
  return best || undefined;
}

/** Temporal's events → the steps an operator reads; workflow-task bookkeeping is left out. */
export async function historyItems(client: Client, events: Event[]): Promise<HistoryItem[]> {
  const items: HistoryItem[] = [];
  const activities = new Map<string, Extract<HistoryItem, { kind: 'activity' }> & { t0: number }>();
  const timers = new Map<string, string>();
  for (const e of events) {
    const at = iso(e.eventTime);
    const id = String(e.eventId);
    if (e.workflowExecutionStartedEventAttributes) {
      const a = e.workflowExecutionStartedEventAttributes;
      items.push({ at, kind: 'started', name: a.workflowType?.name ?? '?', attempt: a.attempt ?? undefined });
    } else if (e.activityTaskScheduledEventAttributes) {
      const item = {
        at,
        kind: 'activity' as const,
        name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        outcome: 'running' as const,
        attempts: 1,
        seconds: null,
        t0: Date.parse(at),
      };
      activities.set(id, item as never);
      items.push(item as never);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = e.activityTaskStartedEventAttributes;
      const item = activities.get(String(a.scheduledEventId));
      if (item) {
        item.attempts = a.attempt ?? 1;
        item.retryFailure = await rootFailure(client, a.lastFailure);
      }
    } else {
      const done =
        (e.activityTaskCompletedEventAttributes && (['completed', e.activityTaskCompletedEventAttributes] as const)) ||
        (e.activityTaskFailedEventAttributes && (['failed', e.activityTaskFailedEventAttributes] as const)) ||
        (e.activityTaskTimedOutEventAttributes && (['timed out', e.activityTaskTimedOutEventAttributes] as const)) ||
        (e.activityTaskCanceledEventAttributes && (['canceled', e.activityTaskCanceledEventAttributes] as const));
      if (done) {
        const [outcome, a] = done;
        const item = activities.get(String(a.scheduledEventId));
        if (item) {
          item.outcome = outcome;
          item.seconds = (Date.parse(at) - item.t0) / 1000;
          if ('failure' in a) item.failure = await rootFailure(client, a.failure);
          if (outcome === 'failed' && item.retryFailure === item.failure) delete item.retryFailure;
        }
      } else if (e.workflowExecutionSignaledEventAttributes)
        items.push({ at, kind: 'signal', name: e.workflowExecutionSignaledEventAttributes.signalName ?? '?' });
      else if (e.workflowExecutionUpdateAcceptedEventAttributes)
        items.push({
          at,
          kind: 'update',
          name: e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input?.name ?? '?',
        });
      else if (e.timerStartedEventAttributes) timers.set(id, at);
      else if (e.timerFiredEventAttributes) {
        const from = timers.get(String(e.timerFiredEventAttributes.startedEventId));
        items.push({
          at,
          kind: 'timer',
          name: 'waited',
          detail: from ? `${((Date.parse(at) - Date.parse(from)) / 1000).toFixed(0)} s` : undefined,
        });
      } else if (e.childWorkflowExecutionStartedEventAttributes) {
        const a = e.childWorkflowExecutionStartedEventAttributes;
        items.push({
          at,
          kind: 'child',
          name: a.workflowType?.name ?? '?',
          detail: a.workflowExecution?.workflowId ?? undefined,
        });
      } else if (e.workflowTaskFailedEventAttributes)
        items.push({
          at,
          kind: 'note',
          name: 'workflow task failed (retried by Temporal):',
          detail: await rootFailure(client, e.workflowTaskFailedEventAttributes.failure),
        });
      else if (e.workflowExecutionCompletedEventAttributes) items.push({ at, kind: 'ended', name: 'completed' });
      else if (e.workflowExecutionFailedEventAttributes)
        items.push({
          at,
          kind: 'ended',
          name: 'failed',
          failure: await rootFailure(client, e.workflowExecutionFailedEventAttributes.failure),
        });
      else if (e.workflowExecutionCanceledEventAttributes) items.push({ at, kind: 'ended', name: 'canceled' });
      else if (e.workflowExecutionTerminatedEventAttributes)
        items.push({
          at,
          kind: 'ended',
          name: 'terminated',
          failure: e.workflowExecutionTerminatedEventAttributes.reason ?? undefined,
        });
      else if (e.workflowExecutionTimedOutEventAttributes) items.push({ at, kind: 'ended', name: 'timed out' });
      else if (e.workflowExecutionContinuedAsNewEventAttributes)
        items.push({ at, kind: 'ended', name: 'continued as new' });
    }
  }
  return items.map((i) => {
    if (i.kind !== 'activity') return i;
    const { t0: _t0, ...rest } = i as typeof i & { t0?: number };
    return rest;
  });
}

export function registerInspectCommands(program: Command, ctx: CliContext<G>): void {
  program
    .command('describe <id>')
    .description('one artifact in full: chain, dependents, files, hashes, state and the recipe to restore it by hand')
    .option('--target <name>', 'the copy on this target (default: the repository)')
    .action(async function (this: Command, id: string) {
      const g = this.optsWithGlobals<G & { target?: string }>();
      const config = ctx.load(g);
      if (g.target) targetOf(config, g.target);
      const client = await connect(config);
      let d: ArtifactDescription;
      try {
        d = (await client.workflow.execute('describeArtifactWorkflow', {
          taskQueue: taskQueueOf(config),
          workflowId: `describe:${Date.now()}`,
          args: [{ id, target: g.target }],
        })) as ArtifactDescription;
      } catch (e) {
        const c = rootCause(e);
        throw new CliError(`${c.type ? `[${c.type}] ` : ''}${c.message}`, EXIT.failed);
      }
      ctx.out(g, d, describeText(d));
    });

  program
    .command('logs <workflow-id>')
    .description("a run's steps, attempts, durations and failures (from its Temporal history)")
    .option('--run <run-id>', 'a particular run (default: the latest)')
    .action(async function (this: Command, workflowId: string) {
      const g = this.optsWithGlobals<G & { run?: string }>();
      const config = ctx.load(g);
      const client = await connect(config);
      const handle = client.workflow.getHandle(workflowId, g.run);
      let events: Event[];
      try {
        events = (await handle.fetchHistory()).events ?? [];
      } catch (e) {
        throw new CliError(
          `no workflow "${workflowId}" in namespace ${config.temporal.namespace} (${(e as Error).message}). Fix: copy the id printed when it started, or find it in the Temporal UI`,
          EXIT.usage,
        );
      }
      const items = await historyItems(client, events);
      ctx.out(g, { workflowId, items }, historyText(workflowId, items));
      const end = [...items].reverse().find((i) => i.kind === 'ended');
      if (end && end.kind === 'ended' && end.name !== 'completed' && end.name !== 'continued as new')
        process.exitCode = EXIT.failed;
    });

  program
    .command('watch <workflow-id>')
    .description('follow a running workflow: step n/m, bytes and rate of the step under way, until it ends')
    .action(async function (this: Command, workflowId: string) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const client = await connect(config);
      const handle = client.workflow.getHandle(workflowId);
      let status: string;
      try {
        status = (await handle.describe()).status.name;
      } catch (e) {
        throw new CliError(
          `no workflow "${workflowId}" in namespace ${config.temporal.namespace} (${(e as Error).message}). Fix: copy the id printed when it started, or find it in the Temporal UI`,
          EXIT.usage,
        );
      }
      if (!g.json)
        process.stderr.write(`${workflowId} (${status.toLowerCase()})\n  ${uiLink(config, { workflowId })}\n`);
      const r = await waitWithProgress<unknown>(handle, !!g.json);
      ctx.out(g, { workflowId, result: r }, `${workflowId} completed\n`);
    });
}
