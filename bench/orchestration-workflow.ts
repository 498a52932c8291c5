// Bench-only workflow: N short activities in a row, to measure what Temporal adds per step
// (schedule, dispatch, result, history) on the dev server. Not part of the worker.
import { proxyActivities } from '@temporalio/workflow';

const { benchNoop } = proxyActivities<{ benchNoop(i: number): Promise<number> }>({ startToCloseTimeout: '10 seconds' });

export async function benchStepsWorkflow(n: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await benchNoop(i);
  return sum;
}
