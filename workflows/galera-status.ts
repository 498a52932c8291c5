// `osbackup status` for a Galera cloud: the nodes as the worker reaches them, and the donor of
// the newest backup. Read-only.
import type { Activities } from '../activities/index.js';
import { shortCall, shortActivities } from './options.js';

const short = shortActivities({ ...shortCall, retry: { ...shortCall.retry, maximumAttempts: 2 } });

export async function galeraStatusWorkflow(input: {
  cloud: string;
}): Promise<Awaited<ReturnType<Activities['galeraStatus']>>> {
  return short.galeraStatus(input);
}
