// `osbackup report`: what the report draws, gathered on the worker (the client needs no access
// to the targets): the cloud's drill records and the capacity scan. The catalog rows the client
// lists by pages itself (client/catalog-pages.ts): a year of backups would not fit in this
// workflow's result. The run's start time is the report's "now"; the maths is pure
// (core/report/report.ts) and runs in the client.
import { executeChild, patched, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DrillRecord } from '../core/dr/record.js';
import type { CatalogPage } from '../core/catalog/page.js';
import { capacityWorkflow, type CapacityResult } from './capacity.js';
import { dataBoundActivities, dataBoundCall, shortCall, shortActivities } from './options.js';

/** The catalog is no longer listed here: runs from before carry its first page in their result. */
export const REPORT_CATALOG_BY_PAGES_PATCH = 'report-catalog-by-pages';

const { drillListRecords } = shortActivities(shortCall);
// runs started before the catalog was listed by pages (the page's merge grows with the catalog)
const { catalogList } = dataBoundActivities(dataBoundCall);

/** Drill records the report reads: years of monthly drills. */
const REPORT_DRILLS = 200;

export interface ReportData {
  cloud: string;
  generatedAt: string;
  /** Only from runs started before the catalog was listed by pages: its first page (the client lists the rest). */
  catalog?: CatalogPage;
  /** Newest first; records that do not parse are left out by the listing. */
  drills: DrillRecord[];
  capacity: CapacityResult;
}

export async function reportDataWorkflow(input: { cloud: string }): Promise<ReportData> {
  const info = workflowInfo();
  const capacity = () =>
    executeChild(capacityWorkflow, {
      workflowId: `${info.workflowId}-capacity`,
      taskQueue: info.taskQueue,
      args: [{ cloud: input.cloud }],
    });
  const drills = () => drillListRecords({ cloud: input.cloud, limit: REPORT_DRILLS });
  const generatedAt = new Date(info.startTime).toISOString();
  if (patched(REPORT_CATALOG_BY_PAGES_PATCH)) {
    const [d, c] = await Promise.all([drills(), capacity()]);
    return { cloud: input.cloud, generatedAt, drills: d, capacity: c };
  }
  const [catalog, d, c] = await Promise.all([catalogList({ cloud: input.cloud }), drills(), capacity()]);
  return { cloud: input.cloud, generatedAt, catalog, drills: d, capacity: c };
}
