// The client side of Temporal: connection, typed starts, waiting with progress, failures.
import {
  Client,
  Connection,
  WorkflowFailedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure, TemporalFailure, type Payload } from '@temporalio/common';
import type { Config } from '../config/schema.js';
import { taskQueueOf } from '../config/task-queues.js';
import {
  connectionOptions,
  dataConverter,
  failureMessage,
  TemporalSetupError,
  workflowUiUrl,
} from '../config/temporal.js';
import { redact } from '../activities/redact.js';
import { missingSearchAttributes, NamespaceMissing, setupMissingMessage } from './temporal-setup.js';
import { progressText, viewOf, worthPrinting, type ProgressSample, type View } from '../core/inspect/live-progress.js';
import { progressQuery, type Progress } from '../workflows/messages.js';
import { CLOUD, COMPONENT, TIER } from '../workflows/search-attributes.js';

/**
 * damaged: verify found a corrupt or missing artifact or a broken restore point (the report is
 * printed); for preflight, the new backups were not re-read intact or the proof restore failed.
 * backupFailed, stale: preflight — a backup failed or timed out; no fresh restore point although
 * the backups ran. breach: status — a recovery target is breached (RPO, the last drill failed or
 * is overdue, a broken chain, the binlog archiver lagging); a drill that failed exits `failed`.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  configInvalid: 2,
  temporalUnreachable: 3,
  damaged: 4,
  backupFailed: 5,
  stale: 6,
  breach: 7,
  usage: 64,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Connects; unless `setupCheck` is false, refuses a namespace that lacks osbackup's search attributes. */
export async function connect(config: Config, opts: { setupCheck?: boolean } = {}): Promise<Client> {
  let options;
  let converter;
  let connection: Connection;
  try {
    options = connectionOptions(config);
    converter = dataConverter(config);
  } catch (e) {
    if (e instanceof TemporalSetupError) throw new CliError(e.message, EXIT.configInvalid);
    throw e;
  }
  try {
    const { connectExplained } = await import('./transport-probe.js');
    connection = await connectExplained(config, () => Connection.connect({ ...options, connectTimeout: '5 seconds' }));
  } catch (e) {
    throw new CliError(redact((e as Error).message), EXIT.temporalUnreachable);
  }
  if (opts.setupCheck !== false) {
    const missing = await missingSearchAttributes(connection, config.temporal.namespace).catch((e: unknown) => {
      throw e instanceof NamespaceMissing ? new CliError(e.message, EXIT.configInvalid) : e;
    });
    if (missing?.length)
      throw new CliError(setupMissingMessage(config.temporal.namespace, missing), EXIT.configInvalid);
  }
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: converter });
}

/** The innermost failure message and type: what actually went wrong. */
export function rootCause(e: unknown): { message: string; type?: string } {
  let cur: unknown = e;
  let best: { message: string; type?: string } = { message: e instanceof Error ? e.message : String(e) };
  while (cur instanceof Error) {
    if (cur instanceof ApplicationFailure) best = { message: cur.message, type: cur.type ?? undefined };
    else if (cur instanceof TemporalFailure && !(cur.cause instanceof Error)) best = { message: cur.message };
    cur = (cur as Error & { cause?: unknown }).cause;
  }
  return best;
}

/** One look at a run: its progress query and the activity under way (heartbeat details decoded). */
export async function sampleProgress(handle: WorkflowHandle): Promise<ProgressSample | null> {
  let p: Progress;
  try {
    p = await handle.query(progressQuery);
  } catch {
    return null; // not started yet, finished, or a workflow without steps
  }
  const conv = handle.client.options.loadedDataConverter;
  const pending = (await handle.describe()).raw.pendingActivities?.[0];
  let activity: ProgressSample['activity'] = null;
  if (pending) {
    let details: Record<string, unknown> | null = null;
    let payloads = (pending.heartbeatDetails?.payloads ?? []) as Payload[];
    if (payloads.length) {
      for (const codec of [...conv.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
      const d = conv.payloadConverter.fromPayload<unknown>(payloads[0]!);
      details = d && typeof d === 'object' ? (d as Record<string, unknown>) : null;
    }
    activity = {
      name: pending.activityType?.name ?? '?',
      attempt: pending.attempt ?? 1,
      details,
      lastFailure: pending.lastFailure ? (await failureMessage(conv, pending.lastFailure)) || null : null,
    };
  }
  return { at: Date.now(), phase: p.phase, steps: p.steps, activity };
}

/**
 * Shows a run's progress until `until` settles: on a terminal one line redrawn in place (step
 * n/m, a bar with bytes and rate from the heartbeats), finished steps kept above it; elsewhere
 * plain lines when something changes. Everything goes to stderr, so --json stays clean.
 */
export async function showProgress(
  handle: WorkflowHandle,
  until: Promise<unknown>,
  quiet: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): Promise<void> {
  if (quiet) return void (await until.catch(() => undefined));
  const tty = !!stream.isTTY;
  let settled = false;
  void until.finally(() => (settled = true)).catch(() => undefined);
  let prev: { view: View; at: number } | null = null;
  let printed: { view: View; at: number } | null = null;
  const done = new Set<string>();
  let live = false;
  while (!settled) {
    const s = await sampleProgress(handle).catch(() => null);
    if (s) {
      for (const st of s.steps.filter((x) => x.state === 'done' && !done.has(x.name))) {
        done.add(st.name);
        stream.write(`${live ? '\r\x1b[2K' : ''}  ✓ ${st.name}${st.detail ? ` (${st.detail})` : ''}\n`);
        live = false;
      }
      const view = viewOf(s, prev);
      prev = { view, at: s.at };
      if (tty) {
        stream.write(`\r\x1b[2K  … ${progressText(view, true)}`);
        live = true;
      } else if (worthPrinting(view, printed, s.at)) {
        stream.write(`  … ${progressText(view, false)}\n`);
        printed = { view, at: s.at };
      }
    }
    await Promise.race([until.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  if (live) stream.write('\r\x1b[2K');
  // the steps that finished since the last look (the query still answers for a closed run)
  const last = await sampleProgress(handle).catch(() => null);
  for (const st of last?.steps.filter((x) => x.state === 'done' && !done.has(x.name)) ?? [])
    stream.write(`  ✓ ${st.name}${st.detail ? ` (${st.detail})` : ''}\n`);
}

/** Waits for the result with live progress; a failed run becomes a CliError naming the root cause. */
export async function waitWithProgress<T>(handle: WorkflowHandle, quiet: boolean): Promise<T> {
  const result = handle.result() as Promise<T>;
  await showProgress(handle, result, quiet);
  try {
    return await result;
  } catch (e) {
    if (e instanceof WorkflowFailedError) {
      const c = rootCause(e);
      throw new CliError(`${c.type ? `[${c.type}] ` : ''}${c.message}`, EXIT.failed);
    }
    throw e;
  }
}

export function uiLink(config: Config, handle: { workflowId: string; firstExecutionRunId?: string }): string {
  return workflowUiUrl(config, handle.workflowId, handle.firstExecutionRunId);
}

export interface RunStart {
  /** The workflow type ("backupDatabaseWorkflow"). */
  type: string;
  workflowId: string;
  /** The workflow's one argument. */
  input: unknown;
  /** The search attributes the Temporal UI filters on; omitted for runs that span clouds. */
  labels?: { cloud: string; component: string; tier: string };
  workflowExecutionTimeout?: string;
  /** --json: the id and link are part of the JSON output instead of stderr. */
  quiet?: boolean;
}

/** The cloud a run belongs to: its labels', or its input's `cloud`; none for runs that span clouds. */
function cloudOfRun(s: RunStart): string | undefined {
  const input = s.input as { cloud?: unknown } | null | undefined;
  return s.labels?.cloud ?? (typeof input?.cloud === 'string' ? input.cloud : undefined);
}

/**
 * Starts one run the way every command does: on its cloud's task queue, labelled for the UI,
 * its id and UI link printed on stderr (stdout stays the command's result).
 */
export async function startRun(
  config: Config,
  s: RunStart,
): Promise<{ handle: WorkflowHandleWithFirstExecutionRunId; link: string }> {
  const client = await connect(config);
  const handle = await client.workflow.start(s.type, {
    taskQueue: taskQueueOf(config, cloudOfRun(s)),
    workflowId: s.workflowId,
    args: [s.input],
    ...(s.workflowExecutionTimeout ? { workflowExecutionTimeout: s.workflowExecutionTimeout } : {}),
    ...(s.labels
      ? {
          typedSearchAttributes: [
            { key: CLOUD, value: s.labels.cloud },
            { key: COMPONENT, value: s.labels.component },
            { key: TIER, value: s.labels.tier },
          ],
        }
      : {}),
  });
  const link = uiLink(config, handle);
  if (!s.quiet) process.stderr.write(`started ${handle.workflowId}\n  ${link}\n`);
  return { handle, link };
}
