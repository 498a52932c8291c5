// Throttled heartbeats carrying progress (bytes, step), so the UI shows movement and a hung
// activity is noticed within its heartbeat timeout.
import { Context } from '@temporalio/activity';

export function heartbeater(everyMs = 2000): (details: Record<string, unknown>) => void {
  let last = 0;
  const ctx = inActivity() ? Context.current() : undefined;
  return (details) => {
    const now = performance.now();
    if (ctx && now - last >= everyMs) {
      last = now;
      ctx.heartbeat(details);
    }
  };
}

export function inActivity(): boolean {
  try {
    Context.current();
    return true;
  } catch {
    return false;
  }
}

export function cancellationSignal(): AbortSignal | undefined {
  return inActivity() ? Context.current().cancellationSignal : undefined;
}

/**
 * Calls `beat` every `everyMs` until stopped. Streams that heartbeat only when bytes arrive go
 * silent while a slow stage downstream (zstd -19, a loaded target's mbstream) holds them back
 * or finishes its tail, and Temporal then declares a healthy activity lost.
 */
export function beatEvery(beat: () => void, everyMs = 1000): () => void {
  const timer = setInterval(beat, everyMs);
  return () => clearInterval(timer);
}

/** Heartbeats on a timer while a long remote step (prepare, copy-back) runs. */
export async function withHeartbeat<T>(step: string, work: Promise<T>, everyMs = 5000): Promise<T> {
  if (!inActivity()) return work;
  const ctx = Context.current();
  const t0 = performance.now();
  const timer = setInterval(
    () => ctx.heartbeat({ step, seconds: Math.round((performance.now() - t0) / 1000) }),
    everyMs,
  );
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Per-item progress that survives a retry: the items an earlier attempt finished (read from its
 * last heartbeat) and `done(item, details)` to record one now. A retry after a lost worker then
 * skips what is already checked instead of starting over on a multi-GB chain.
 */
export function checkpoint(step: string): { finished: Set<string>; done: (item: string, details: object) => void } {
  const ctx = inActivity() ? Context.current() : undefined;
  const earlier = ctx?.info.heartbeatDetails as { step?: string; finished?: unknown } | undefined;
  const finished = new Set(
    earlier?.step === step && Array.isArray(earlier.finished)
      ? earlier.finished.filter((x): x is string => typeof x === 'string')
      : [],
  );
  return {
    finished,
    done: (item, details) => {
      finished.add(item);
      ctx?.heartbeat({ ...details, step, finished: [...finished] });
    },
  };
}

let heartbeatTimeoutsRequired = false;

/** The worker turns this on when OSBACKUP_ASSERT_HEARTBEAT=1 (the integration suite runs it so). */
export function requireHeartbeatTimeouts(on: boolean): void {
  heartbeatTimeoutsRequired = on;
}

/**
 * Called where artifact or database bytes are read: work that grows with the data must run in
 * an activity proxied with a heartbeat timeout, or a lost worker goes unnoticed until a bound
 * that a bigger cloud breaks. A failure here is a wrong class or proxy, not an operator's error.
 */
export function assertHeartbeated(what: string): void {
  if (!heartbeatTimeoutsRequired || !inActivity()) return;
  const info = Context.current().info;
  if (!info.heartbeatTimeoutMs)
    throw new Error(
      `${what} in activity ${info.activityType}, which was scheduled without a heartbeat timeout: declare it data-bound (workflows/activity-classes.ts) and proxy it with dataBoundActivities()`,
    );
}

/** The workflow run this activity belongs to (a rerun of a workflow is a new run): the key of work a retry resumes. */
export function workflowRunId(): string {
  return (inActivity() && Context.current().info.workflowExecution?.runId) || `direct-${process.pid}`;
}
