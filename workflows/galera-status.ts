// `osbackup status` for a Galera cloud: the nodes as the worker reaches them, and the donor of
// the newest backup. Read-only.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { shortCall } from './options.js';

const short = proxyActivities<Activities>({ ...shortCall, retry: { ...shortCall.retry, maximumAttempts: 2 } });

export async function galeraStatusWorkflow(input: {
  cloud: string;
}): Promise<Awaited<ReturnType<Activities['galeraStatus']>>> {
  return short.galeraStatus(input);
}
