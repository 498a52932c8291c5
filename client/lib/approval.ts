// The approval step of restores that wait for a decision (service, cluster): the plan is shown,
// then a terminal asks; anything else (CI, a pipe) gets the approve/reject commands to run later.
import { createInterface } from 'node:readline/promises';
import type { WorkflowHandle } from '@temporalio/client';

/** Waits until the run can answer its `summary` query (null: it ended before that). */
export async function awaitSummary<S>(handle: WorkflowHandle): Promise<S | null> {
  for (;;) {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return null;
    const s = await handle.query<S | null>('summary').catch(() => null);
    if (s) return s;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Shows the plan and asks for the decision the run waits on (signals `approve` / `reject`). */
export async function askApproval<S>(
  handle: WorkflowHandle,
  describe: (s: S) => string,
  question: (s: S) => string,
): Promise<void> {
  const s = await awaitSummary<S>(handle);
  if (!s) return;
  process.stderr.write(describe(s));
  if (!process.stdin.isTTY) {
    process.stderr.write(
      `waiting for a decision: osbackup restore approve ${handle.workflowId}   (or: osbackup restore reject ${handle.workflowId})\n`,
    );
    return;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = (await rl.question(`${question(s)} [y/N] `)).trim().toLowerCase();
  rl.close();
  if (answer === 'y' || answer === 'yes') await handle.signal('approve');
  else await handle.signal('reject', 'declined at the prompt');
}
