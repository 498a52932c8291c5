// `osbackup capacity`: what each target holds per component, its growth, the 30-day forecast
// and when it fills. Scans run on the worker (the client needs no target credentials); the
// maths is pure (lib/capacity.ts) and uses the run's start time as "now".
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { capacityReport, type TargetCapacity } from './lib/capacity.js';
import { shortCall } from './options.js';

const { storageListTargets } = proxyActivities<Activities>(shortCall);
const { storageScanCapacity } = proxyActivities<Activities>({ ...shortCall, startToCloseTimeout: '15 minutes' });

export async function capacityWorkflow(input: { cloud?: string }): Promise<TargetCapacity[]> {
  const names = await storageListTargets();
  const scans = await Promise.all(names.map((target) => storageScanCapacity({ target })));
  return capacityReport(scans, new Date(workflowInfo().startTime), input.cloud);
}
