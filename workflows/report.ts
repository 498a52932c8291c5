// `osbackup report`: everything the report draws, gathered in one run on the worker (the client
// needs no access to the targets): the catalog rows of every target, the cloud's drill records
// and the capacity scan. The run's start time is the report's "now"; the maths is pure
// (core/report/report.ts) and runs in the client.
import { executeChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DrillRecord } from '../core/dr/record.js';
import type { CatalogListing } from '../core/catalog/catalog.js';
import { capacityWorkflow, type CapacityResult } from './capacity.js';
import { shortCall, shortActivities } from './options.js';

const { catalogList, drillListRecords } = shortActivities(shortCall);

/** Drill records the report reads: years of monthly drills. */
const REPORT_DRILLS = 200;

export interface ReportData {
  cloud: string;
  generatedAt: string;
  catalog: CatalogListing;
  /** Newest first; records that do not parse are left out by the listing. */
  drills: DrillRecord[];
  capacity: CapacityResult;
}

export async function reportDataWorkflow(input: { cloud: string }): Promise<ReportData> {
  const info = workflowInfo();
  const [catalog, drills, capacity] = await Promise.all([
    catalogList({ cloud: input.cloud }),
    drillListRecords({ cloud: input.cloud, limit: REPORT_DRILLS }),
    executeChild(capacityWorkflow, {
      workflowId: `${info.workflowId}-capacity`,
      taskQueue: info.taskQueue,
      args: [{ cloud: input.cloud }],
    }),
  ]);
  return { cloud: input.cloud, generatedAt: new Date(info.startTime).toISOString(), catalog, drills, capacity };
}
