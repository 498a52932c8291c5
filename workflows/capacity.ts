// `osbackup capacity`: what each target holds per component, its growth, the 30-day forecast
// and when it fills. Scans run on the worker (the client needs no target credentials); the
// maths is pure (core/capacity/capacity.ts) and uses the run's start time as "now". A target that cannot
// be read is listed with its cause: a Swift outage must not hide the local disk filling up.
import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { capacityReport, type TargetCapacity, type TargetScan } from '../core/capacity/capacity.js';
import { dataBoundActivities, dataBoundCall, shortCall, shortActivities } from './options.js';
import { causeOf } from './verify.js';

const { storageListTargets } = shortActivities(shortCall);
// a scan lists every object of a target: as long as the target is large
const { storageScanCapacity } = dataBoundActivities(dataBoundCall);

export interface CapacityResult {
  targets: TargetCapacity[];
  failed: { target: string; error: string }[];
}

export async function capacityWorkflow(input: { cloud?: string }): Promise<CapacityResult> {
  const names = await storageListTargets();
  const failed: CapacityResult['failed'] = [];
  const scans = await Promise.all(
    names.map((target) =>
      storageScanCapacity({ target }).catch((e: unknown) => {
        failed.push({ target, error: causeOf(e) });
        return null;
      }),
    ),
  );
  return {
    targets: capacityReport(
      scans.filter((s): s is TargetScan => s !== null),
      new Date(workflowInfo().startTime),
      input.cloud,
    ),
    failed,
  };
}
