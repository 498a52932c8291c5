// The wait at an approval gate (service restore, cluster restore, DR rebuild). A gate nobody
// decides must not hold its run forever — a scratch export on disk, a plan that is stale by the
// time someone answers — so after the timeout the run ends as if rejected, saying why; nothing
// destructive has happened at that point, and starting the run again asks again.
import { condition, patched } from '@temporalio/workflow';

export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600;

/** Waits until `decided()`; false when the timeout passed first. */
export async function awaitDecision(decided: () => boolean, timeoutSeconds: number | undefined): Promise<boolean> {
  // runs that were already waiting when this shipped keep waiting without a timer (their history has none)
  if (!patched('approval-timeout')) {
    await condition(decided);
    return true;
  }
  return condition(decided, `${timeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS} seconds`);
}

/** The rejection reason of a gate that timed out. */
export function noDecision(timeoutSeconds: number | undefined): string {
  const s = timeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS;
  const span = s >= 3600 && s % 3600 === 0 ? `${s / 3600} h` : s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
  return `no decision within ${span} (the approval timeout): nothing was changed; start the run again to decide`;
}
