// A lease held by a child workflow with a fixed id: Temporal runs at most one workflow per id, so
// whoever starts the child holds the lease, and everyone else waits. Nothing can leave it stale:
// the child is closed with its parent (terminated, failed, timed out, cancelled, or done), by the
// server, whatever happened to the worker.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  ParentClosePolicy,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';

export const releaseSignal = defineSignal('release');

export interface LeaseInput {
  /** The workflow that holds it: shown in the UI as the lease's input. */
  holder: string;
  what: string;
}

/** Holds a lease until released or until its parent closes. */
export async function leaseWorkflow(_input: LeaseInput): Promise<void> {
  let released = false;
  setHandler(releaseSignal, () => void (released = true));
  await condition(() => released);
}

/** The lease of one cloud's database backups: one at a time, whoever starts them. */
export function backupLeaseId(cloud: string): string {
  return `lease:backup-db:${cloud}`;
}

export interface HeldLease {
  release(): Promise<void>;
  /** Seconds spent waiting for another run's lease: 0 when none held it. */
  waitedSeconds: number;
}

/**
 * Takes the lease `id`, waiting while another run holds it (checked every `pollSeconds`), and
 * gives up after `maxWaitSeconds` naming the lease.
 */
export async function acquireLease(
  id: string,
  what: string,
  o: { pollSeconds?: number; maxWaitSeconds?: number } = {},
): Promise<HeldLease> {
  const poll = o.pollSeconds ?? 10;
  const maxWait = o.maxWaitSeconds ?? 12 * 3600;
  const t0 = new Date().getTime();
  for (let attempt = 0; ; attempt++) {
    try {
      const child = await startChild(leaseWorkflow, {
        workflowId: id,
        args: [{ holder: workflowInfo().workflowId, what }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      return {
        waitedSeconds: attempt === 0 ? 0 : (new Date().getTime() - t0) / 1000,
        // a lease already closed with a cancelled parent needs no release: ignore that refusal
        release: () => CancellationScope.nonCancellable(() => child.signal(releaseSignal)).catch(() => undefined),
      };
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    }
    if (new Date().getTime() - t0 >= maxWait * 1000)
      throw ApplicationFailure.nonRetryable(
        `${what}: another run has held the lease ${id} for more than ${maxWait} s, so this one did nothing. Fix: find the run that holds it (Temporal UI: workflow id ${id}, its parent is the holder) and let it finish, or terminate it; then start this again`,
        'LeaseBusy',
      );
    await sleep(`${poll} seconds`);
  }
}
