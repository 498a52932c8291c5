// The client side of Temporal: connection, typed starts, waiting with progress, failures.
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { Config } from '../config/schema.js';
import { connectionOptions, dataConverter, workflowUiUrl } from '../config/temporal.js';
import { progressQuery, type Progress } from '../workflows/messages.js';

/**
 * damaged: verify found a corrupt or missing artifact or a broken restore point (the report is
 * printed); for preflight, the new backups were not re-read intact or the proof restore failed.
 * backupFailed, stale: preflight — a backup failed or timed out; no fresh restore point although
 * the backups ran.
 */
export const EXIT = { ok: 0, failed: 1, configInvalid: 2, temporalUnreachable: 3, damaged: 4, backupFailed: 5, stale: 6, usage: 64 } as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export async function connect(config: Config): Promise<Client> {
  try {
    const connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '5 seconds' });
    return new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
  } catch (e) {
    throw new CliError(`cannot reach Temporal at ${config.temporal.address} (${(e as Error).message}). Fix: start it (./dev up) or correct temporal.address in the config`, EXIT.temporalUnreachable);
  }
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

/** Waits for the result, printing each step as it changes (to stderr, so --json stays clean). */
export async function waitWithProgress<T>(handle: WorkflowHandle, quiet: boolean): Promise<T> {
  let last = '';
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      try {
        const p: Progress = await handle.query(progressQuery);
        const line = p.steps.map((s) => `${s.state === 'done' ? '✓' : s.state === 'running' ? '…' : s.state === 'failed' ? '✗' : '·'} ${s.name}${s.detail ? ` (${s.detail})` : ''}`).join('  ');
        if (line !== last && !quiet) process.stderr.write(`  ${line}\n`);
        last = line;
      } catch {
        /* not started yet, or finished */
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return (await handle.result()) as T;
  } catch (e) {
    if (e instanceof WorkflowFailedError) {
      const c = rootCause(e);
      throw new CliError(`${c.type ? `[${c.type}] ` : ''}${c.message}`, EXIT.failed);
    }
    throw e;
  } finally {
    stop = true;
    await poll;
  }
}

export function uiLink(config: Config, handle: { workflowId: string; firstExecutionRunId?: string }): string {
  return workflowUiUrl(config, handle.workflowId, handle.firstExecutionRunId);
}
